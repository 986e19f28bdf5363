//! Upstream's chain names: base32(sha256(...)) truncated.

use data_encoding::BASE32;
use ring::digest::{SHA256, digest};

use crate::model::{Endpoint, ServicePortName};

fn hash(input: &str, len: usize) -> String {
    let encoded = BASE32.encode(digest(&SHA256, input.as_bytes()).as_ref());
    encoded[..len].to_string()
}

/// `portProtoHash`: 16 chars of base32(sha256(servicePortName + protocol)).
pub fn port_proto_hash(name: &ServicePortName) -> String {
    hash(&format!("{}{}", name, name.protocol.lower()), 16)
}

/// `KUBE-SVC-<hash>`.
pub fn svc_chain(name: &ServicePortName) -> String {
    format!("KUBE-SVC-{}", port_proto_hash(name))
}

/// `KUBE-SVL-<hash>`: the local-policy chain.
pub fn svl_chain(name: &ServicePortName) -> String {
    format!("KUBE-SVL-{}", port_proto_hash(name))
}

/// `KUBE-EXT-<hash>`.
pub fn ext_chain(name: &ServicePortName) -> String {
    format!("KUBE-EXT-{}", port_proto_hash(name))
}

/// `KUBE-FW-<hash>`.
pub fn fw_chain(name: &ServicePortName) -> String {
    format!("KUBE-FW-{}", port_proto_hash(name))
}

/// `KUBE-SEP-<hash>`: 16 chars of base32(sha256(servicePortName + protocol + "ip:port")).
pub fn sep_chain(name: &ServicePortName, ep: &Endpoint) -> String {
    format!(
        "KUBE-SEP-{}",
        hash(&format!("{}{}{}", name, name.protocol.lower(), ep), 16)
    )
}

/// nftables: `ns/name/proto/port` with an 8-char hash prefix (upstream's
/// `servicePortChainNameBase`).
pub fn nft_base(name: &ServicePortName) -> String {
    let base = format!(
        "{}/{}/{}/{}",
        name.namespace,
        name.name,
        name.protocol.lower(),
        name.port
    );
    format!("{}-{}", hash(&base, 8), base)
}

/// nftables endpoint chain base: `<hash8>-ns/name/proto/port__ip/port`.
pub fn nft_endpoint_base(name: &ServicePortName, ep: &Endpoint) -> String {
    let base = format!(
        "{}/{}/{}/{}__{}/{}",
        name.namespace,
        name.name,
        name.protocol.lower(),
        name.port,
        ep.ip,
        ep.port
    );
    format!("{}-{}", hash(&base, 8), base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn matches_upstream_hash_scheme() {
        let name = ServicePortName {
            namespace: "ns1".into(),
            name: "svc1".into(),
            port: "p80".into(),
            protocol: Protocol::Tcp,
        };
        // Upstream's proxier_test.go: ns1/svc1:p80 tcp → KUBE-SVC-XPGD46QRK7WJZT7O.
        assert_eq!(svc_chain(&name), "KUBE-SVC-XPGD46QRK7WJZT7O");
        let ep = Endpoint {
            ip: "10.180.0.1".parse().unwrap(),
            port: 80,
            ready: true,
            serving: true,
            terminating: false,
            local: false,
        };
        // ... and its endpoint 10.180.0.1:80 → KUBE-SEP-SXIVWICOYRO3J4NJ.
        assert_eq!(sep_chain(&name, &ep), "KUBE-SEP-SXIVWICOYRO3J4NJ");
    }
}
