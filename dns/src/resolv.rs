//! The default upstreams: the `nameserver` lines of `/etc/resolv.conf`, like CoreDNS's
//! `forward . /etc/resolv.conf`.

use std::net::{IpAddr, SocketAddr};

/// `nameserver` addresses of a resolv.conf text, port 53. Scoped IPv6 (`fe80::1%eth0`) and
/// unparsable entries are skipped.
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .filter_map(|addr| addr.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// An `--upstream` entry: `IP` or `IP:port` (`[v6]:port`).
pub fn parse_upstream(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers() {
        let text = "# comment\nsearch a.b\nnameserver 10.0.0.2\nnameserver fd00::1\nnameserver fe80::1%eth0\noptions ndots:5\n";
        assert_eq!(
            nameservers(text),
            vec!["10.0.0.2:53".parse().unwrap(), "[fd00::1]:53".parse().unwrap()]
        );
    }

    #[test]
    fn parses_upstream_flags() {
        assert_eq!(parse_upstream("1.2.3.4"), Some("1.2.3.4:53".parse().unwrap()));
        assert_eq!(
            parse_upstream("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_upstream("[::1]:54"), Some("[::1]:54".parse().unwrap()));
        assert_eq!(parse_upstream("dns.example"), None);
    }
}
