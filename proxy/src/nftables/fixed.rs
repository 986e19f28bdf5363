//! The chains every sync writes, whatever the services: hooks, the no-endpoint checks and the
//! masquerade marking (upstream's nftables proxier's fixed chains).

pub(super) const MASQ_MARK: &str = "0x4000";

/// Each chain's name and lines; a base chain's first line is its `type … hook …` header.
pub(super) fn chains() -> Vec<(&'static str, Vec<String>)> {
    let base = |hook: &str, rest: &[&str]| -> Vec<String> {
        std::iter::once(hook.to_string())
            .chain(rest.iter().map(|r| r.to_string()))
            .collect()
    };
    vec![
        (
            "filter-input",
            base(
                "type filter hook input priority -110; policy accept;",
                &[
                    "ct state new jump nodeport-endpoints-check",
                    "ct state new jump service-endpoints-check",
                ],
            ),
        ),
        (
            "filter-forward",
            base(
                "type filter hook forward priority -110; policy accept;",
                &["ct state new jump service-endpoints-check"],
            ),
        ),
        (
            "filter-output",
            base(
                "type filter hook output priority -110; policy accept;",
                &["ct state new jump service-endpoints-check"],
            ),
        ),
        ("reject-chain", vec!["reject".into()]),
        (
            "nodeport-endpoints-check",
            vec!["fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports".into()],
        ),
        (
            "service-endpoints-check",
            vec!["ip daddr . meta l4proto . th dport vmap @no-endpoint-services".into()],
        ),
        // 'priority dstnat' is rejected for the output hook by nft 1.0.6: use the number.
        (
            "nat-prerouting",
            base(
                "type nat hook prerouting priority -100; policy accept;",
                &["jump services"],
            ),
        ),
        (
            "nat-output",
            base(
                "type nat hook output priority -100; policy accept;",
                &["jump services"],
            ),
        ),
        (
            "nat-postrouting",
            base(
                "type nat hook postrouting priority 100; policy accept;",
                &["jump masquerading"],
            ),
        ),
        (
            "mark-for-masquerade",
            vec![format!("meta mark set meta mark | {MASQ_MARK}")],
        ),
        (
            "masquerading",
            vec![
                format!("meta mark & {MASQ_MARK} == 0 return"),
                format!("meta mark set meta mark ^ {MASQ_MARK}"),
                "masquerade fully-random".into(),
            ],
        ),
        (
            "services",
            vec![
                "ip daddr . meta l4proto . th dport vmap @service-ips".into(),
                "fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports".into(),
            ],
        ),
        (
            "nodeports",
            vec!["meta l4proto . th dport vmap @service-nodeports".into()],
        ),
    ]
}

/// Whether a chain line is a base chain's header rather than a rule.
pub(super) fn is_header(line: &str) -> bool {
    line.starts_with("type ")
}
