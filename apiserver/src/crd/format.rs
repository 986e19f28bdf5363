//! The string formats upstream checks in custom resources (kube-openapi's `strfmt` registry as
//! apiextensions uses it). Formats it does not know are not checked, as upstream.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `value` is a valid `format` string (unknown formats always are).
pub(crate) fn is_valid(format: &str, value: &str) -> bool {
    match format {
        "date-time" | "datetime" => {
            time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).is_ok()
        }
        "date" => is_date(value),
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(value).is_ok()
        }
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.parse::<Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(value),
        "uuid" | "uuid3" | "uuid4" | "uuid5" => is_uuid(value),
        "hostname" => is_hostname(value),
        "email" => is_email(value),
        "mac" => is_mac(value),
        _ => true,
    }
}

fn is_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (Ok(m), Ok(d)) = (m.parse::<u8>(), d.parse::<u8>()) else {
        return false;
    };
    (1..=12).contains(&m) && (1..=31).contains(&d)
}

fn is_cidr(value: &str) -> bool {
    let Some((ip, bits)) = value.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    if ip.parse::<Ipv4Addr>().is_ok() {
        bits <= 32
    } else {
        ip.parse::<Ipv6Addr>().is_ok() && bits <= 128
    }
}

fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_hostname(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_email(value: &str) -> bool {
    match value.rsplit_once('@') {
        Some((local, domain)) => !local.is_empty() && is_hostname(domain),
        None => false,
    }
}

fn is_mac(value: &str) -> bool {
    let groups: Vec<&str> = value.split([':', '-']).collect();
    matches!(groups.len(), 6 | 8 | 20)
        && groups
            .iter()
            .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn formats() {
        let cases = [
            ("date-time", "2024-01-02T03:04:05Z", true),
            ("date-time", "yesterday", false),
            ("date", "2024-02-30", true),
            ("date", "2024-13-01", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0", false),
            ("ipv6", "::1", true),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "!!", false),
            ("hostname", "a.example.com", true),
            ("hostname", "-a", false),
            ("email", "a@example.com", true),
            ("mac", "00:11:22:33:44:55", true),
            ("no-such-format", "anything", true),
        ];
        for (format, value, ok) in cases {
            assert_eq!(is_valid(format, value), ok, "{format} {value}");
        }
    }
}
