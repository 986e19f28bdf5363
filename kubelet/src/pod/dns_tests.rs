use super::*;
use k8s_openapi::api::core::v1::{PodDNSConfig, PodSpec};

fn pod(policy: Option<&str>, host_network: bool, dns_config: Option<PodDNSConfig>) -> Pod {
    let mut p = Pod {
        spec: Some(PodSpec {
            dns_policy: policy.map(Into::into),
            host_network: Some(host_network),
            dns_config,
            ..Default::default()
        }),
        ..Default::default()
    };
    p.metadata.name = Some("web".into());
    p.metadata.namespace = Some("ns1".into());
    p.metadata.uid = Some("u1".into());
    p
}

fn host() -> HostDns {
    parse_resolv_conf(
        "# generated\nnameserver 192.168.1.1\nnameserver 192.168.1.2 ; second\nsearch old.example\n\
         search corp.example. lab.example .\noptions timeout:2 rotate\noptions timeout:3\n",
    )
}

fn cluster_ip() -> Vec<IpAddr> {
    vec!["10.96.0.10".parse().unwrap()]
}

fn opt(name: &str, value: Option<&str>) -> PodDNSConfigOption {
    PodDNSConfigOption {
        name: Some(name.into()),
        value: value.map(Into::into),
    }
}

#[test]
fn parses_resolv_conf_like_upstream() {
    assert_eq!(
        host(),
        HostDns {
            servers: vec!["192.168.1.1".into(), "192.168.1.2".into()],
            searches: vec!["corp.example".into(), "lab.example".into()],
            options: vec!["rotate".into(), "timeout:3".into()],
        }
    );
    assert_eq!(parse_resolv_conf(""), HostDns::default());
}

#[test]
fn policies_table() {
    let h = host();
    let ips = cluster_ip();
    let node_ips: Vec<IpAddr> = vec!["10.0.0.5".parse().unwrap()];
    fn with<'a>(
        host: Option<&'a HostDns>,
        cluster: &'a [IpAddr],
        domain: &'a str,
        node_ips: &'a [IpAddr],
    ) -> Settings<'a> {
        Settings {
            cluster_dns: cluster,
            cluster_domain: domain,
            host,
            node_ips,
        }
    }
    let cluster_search = |extra: &[&str]| {
        let mut v: Vec<String> = ["ns1.svc.cluster.local", "svc.cluster.local", "cluster.local"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let host_cfg = api::DnsConfig {
        servers: h.servers.clone(),
        searches: h.searches.clone(),
        options: h.options.clone(),
    };
    let cluster_cfg = api::DnsConfig {
        servers: vec!["10.96.0.10".into()],
        searches: cluster_search(&["corp.example", "lab.example"]),
        options: vec!["ndots:5".into()],
    };
    let cases: Vec<(&str, Pod, Settings<'_>, api::DnsConfig)> = vec![
        (
            "default policy is ClusterFirst",
            pod(None, false, None),
            with(Some(&h), &ips, "cluster.local", &node_ips),
            cluster_cfg.clone(),
        ),
        (
            "ClusterFirst on host network uses the host's",
            pod(Some("ClusterFirst"), true, None),
            with(Some(&h), &ips, "cluster.local", &node_ips),
            host_cfg.clone(),
        ),
        (
            "ClusterFirstWithHostNet",
            pod(Some("ClusterFirstWithHostNet"), true, None),
            with(Some(&h), &ips, "cluster.local", &node_ips),
            cluster_cfg.clone(),
        ),
        (
            "Default",
            pod(Some("Default"), false, None),
            with(Some(&h), &ips, "cluster.local", &node_ips),
            host_cfg.clone(),
        ),
        (
            "no cluster domain: host search only",
            pod(Some("ClusterFirst"), false, None),
            with(Some(&h), &ips, "", &node_ips),
            api::DnsConfig {
                searches: h.searches.clone(),
                ..cluster_cfg.clone()
            },
        ),
        (
            "Default without resolv.conf: the node itself, no search",
            pod(Some("Default"), false, None),
            with(None, &ips, "cluster.local", &node_ips),
            api::DnsConfig {
                servers: vec!["127.0.0.1".into()],
                searches: vec![".".into()],
                options: vec![],
            },
        ),
        (
            "None with its own config",
            pod(
                Some("None"),
                false,
                Some(PodDNSConfig {
                    nameservers: Some(vec!["1.2.3.4".into()]),
                    searches: Some(vec!["a.example".into()]),
                    options: Some(vec![opt("ndots", Some("2")), opt("edns0", None)]),
                }),
            ),
            with(Some(&h), &ips, "cluster.local", &node_ips),
            api::DnsConfig {
                servers: vec!["1.2.3.4".into()],
                searches: vec!["a.example".into()],
                options: vec!["ndots:2".into(), "edns0".into()],
            },
        ),
        (
            "ClusterFirst merged with dnsConfig: duplicates dropped, same option overridden",
            pod(
                None,
                false,
                Some(PodDNSConfig {
                    nameservers: Some(vec!["10.96.0.10".into(), "8.8.8.8".into()]),
                    searches: Some(vec!["svc.cluster.local".into(), "my.dns.search".into()]),
                    options: Some(vec![opt("ndots", Some("1")), opt("single-request", None)]),
                }),
            ),
            with(Some(&h), &ips, "cluster.local", &node_ips),
            api::DnsConfig {
                servers: vec!["10.96.0.10".into(), "8.8.8.8".into()],
                searches: cluster_search(&["corp.example", "lab.example", "my.dns.search"]),
                options: vec!["ndots:1".into(), "single-request".into()],
            },
        ),
    ];
    for (name, p, s, want) in cases {
        let got = pod_dns(&p, &s).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.config, want, "{name}");
        assert!(got.events.is_empty(), "{name}: {:?}", got.events);
    }
}

#[test]
fn missing_cluster_dns_falls_back_to_default_with_an_event() {
    let h = host();
    let s = Settings {
        cluster_dns: &[],
        cluster_domain: "cluster.local",
        host: Some(&h),
        node_ips: &[],
    };
    let got = pod_dns(&pod(None, false, None), &s).unwrap();
    assert_eq!(got.config.servers, h.servers);
    assert_eq!(got.config.searches, h.searches);
    assert_eq!(got.events.len(), 1);
    assert_eq!(got.events[0].reason, "MissingClusterDNS");
    assert!(got.events[0].on_node);
    assert!(
        got.events[0]
            .message
            .starts_with("pod: \"web_ns1(u1)\". kubelet does not have ClusterDNS IP configured"),
        "{}",
        got.events[0].message
    );
}

#[test]
fn limits_on_nameservers_and_search_line() {
    let h = HostDns::default();
    let ips = cluster_ip();
    let s = Settings {
        cluster_dns: &ips,
        cluster_domain: "cluster.local",
        host: Some(&h),
        node_ips: &[],
    };
    let many = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
    let p = pod(
        None,
        false,
        Some(PodDNSConfig {
            nameservers: Some(many(4, &|i| format!("1.1.1.{i}"))),
            searches: Some(many(40, &|i| format!("s{i}.example"))),
            options: None,
        }),
    );
    let got = pod_dns(&p, &s).unwrap();
    assert_eq!(got.config.servers, vec!["10.96.0.10", "1.1.1.0", "1.1.1.1"]);
    assert_eq!(got.config.searches.len(), MAX_SEARCH_PATHS);
    let reasons: Vec<&str> = got.events.iter().map(|e| e.reason).collect();
    assert_eq!(reasons, vec!["DNSConfigForming", "DNSConfigForming"]);
    assert_eq!(
        got.events[0].message,
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.96.0.10 1.1.1.0 1.1.1.1"
    );
    assert!(
        got.events[1]
            .message
            .starts_with("Search Line limits were exceeded")
    );

    // Too long a line: domains are dropped from the end until it fits; an over-long domain goes.
    let long = |c: char| std::iter::repeat_n(c, 250).collect::<String>();
    let p = pod(
        Some("None"),
        false,
        Some(PodDNSConfig {
            nameservers: Some(vec!["1.1.1.1".into()]),
            searches: Some(
                "abcdefghij"
                    .chars()
                    .map(long)
                    .chain([std::iter::repeat_n('z', 254).collect()])
                    .collect(),
            ),
            options: None,
        }),
    );
    let got = pod_dns(&p, &s).unwrap();
    assert!(got.config.searches.join(" ").len() <= MAX_SEARCH_LINE_CHARS);
    assert_eq!(
        got.config.searches.len(),
        8,
        "8 * 251 - 1 = 2007 chars fit, 9 do not"
    );
    assert_eq!(got.events.len(), 1);
}

#[test]
fn unknown_policy_is_an_error() {
    let h = host();
    let s = Settings {
        cluster_dns: &[],
        cluster_domain: "cluster.local",
        host: Some(&h),
        node_ips: &[],
    };
    assert_eq!(
        pod_dns(&pod(Some("Bogus"), false, None), &s).unwrap_err(),
        "invalid DNSPolicy=Bogus"
    );
}
