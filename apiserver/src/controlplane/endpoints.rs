//! The `kubernetes` Service's Endpoints and EndpointSlice list every live apiserver, as
//! upstream's lease endpoint reconciler keeps them (pkg/controlplane/reconcilers/lease.go and
//! endpointsadapter.go): each apiserver refreshes a master lease under `/masterleases/<ip>` in
//! storage, and every apiserver writes the set of unexpired leases into both objects.
//!
//! Upstream's leases are etcd keys with a TTL. Our store has no TTLs (the embedded store is one
//! of the backends), so a lease records its expiry time and readers drop expired ones: the same
//! 15 s lifetime, assuming the control-plane machines' clocks agree within a few seconds.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where the master leases live in storage.
pub(crate) const MASTER_LEASES_PREFIX: &str = "/masterleases/";

/// One apiserver's claim to be serving at `ip` until `expires_unix_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MasterLease {
    pub(crate) ip: String,
    pub(crate) port: u16,
    pub(crate) expires_unix_ms: u64,
}

/// What the leases say: the live addresses, and the keys of leases that have expired.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LeasePlan {
    pub(crate) ips: Vec<String>,
    pub(crate) expired: Vec<String>,
}

/// Splits stored leases (key, body) into live addresses (sorted, unique) and expired keys.
/// Unreadable bodies count as expired, so a corrupt lease cannot pin an address forever.
pub(crate) fn plan_leases(leases: &[(String, Vec<u8>)], now_unix_ms: u64) -> LeasePlan {
    let mut ips = BTreeSet::new();
    let mut expired = Vec::new();
    for (key, body) in leases {
        match serde_json::from_slice::<MasterLease>(body) {
            Ok(lease) if lease.expires_unix_ms > now_unix_ms && lease.ip.parse::<IpAddr>().is_ok() => {
                ips.insert(lease.ip);
            }
            _ => expired.push(key.clone()),
        }
    }
    LeasePlan {
        ips: ips.into_iter().collect(),
        expired,
    }
}

/// The `kubernetes` Endpoints as upstream writes it: one subset, the addresses sorted, port
/// `https`, and the label that keeps the mirroring controller away.
pub(crate) fn desired_endpoints(ips: &[String], port: u16) -> Value {
    let addresses: Vec<Value> = ips.iter().map(|ip| json!({ "ip": ip })).collect();
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" },
        },
        "subsets": [{
            "addresses": addresses,
            "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
        }],
    })
}

/// The `kubernetes` EndpointSlice: one ready endpoint per address.
pub(crate) fn desired_slice(ips: &[String], port: u16) -> Value {
    let ipv6 = ips.first().is_some_and(|ip| ip.contains(':'));
    let endpoints: Vec<Value> = ips
        .iter()
        .map(|ip| json!({ "addresses": [ip], "conditions": { "ready": true } }))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": { "kubernetes.io/service-name": "kubernetes" },
        },
        "addressType": if ipv6 { "IPv6" } else { "IPv4" },
        "endpoints": endpoints,
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    })
}

/// Whether the stored object already says what `desired` says, in the fields this reconciler
/// owns (upstream compares subsets/endpoints, ports and labels).
pub(crate) fn up_to_date(current: &Value, desired: &Value) -> bool {
    let owned = ["subsets", "endpoints", "ports", "addressType"];
    owned.iter().all(|f| current.get(f) == desired.get(f))
        && current.pointer("/metadata/labels") == desired.pointer("/metadata/labels")
}

/// `desired` carried onto `current` (keeping its metadata: uid, resourceVersion, ...).
pub(crate) fn merged(current: &Value, desired: &Value) -> Value {
    let mut out = current.clone();
    if let (Some(out), Some(desired)) = (out.as_object_mut(), desired.as_object()) {
        for (k, v) in desired {
            if k != "metadata" {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some(labels) = desired.get("metadata").and_then(|m| m.get("labels")) {
            let meta = out.entry("metadata").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("labels".into(), labels.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ip: &str, expires: u64) -> (String, Vec<u8>) {
        let body = serde_json::to_vec(&MasterLease {
            ip: ip.into(),
            port: 6443,
            expires_unix_ms: expires,
        })
        .unwrap();
        (format!("{MASTER_LEASES_PREFIX}{ip}"), body)
    }

    #[test]
    fn live_leases_give_sorted_addresses_and_expired_ones_are_reported() {
        let leases = vec![
            lease("10.0.0.3", 2_000),
            lease("10.0.0.1", 2_000),
            lease("10.0.0.2", 999),
            ("/masterleases/junk".to_string(), b"not json".to_vec()),
        ];
        let plan = plan_leases(&leases, 1_000);
        assert_eq!(plan.ips, vec!["10.0.0.1", "10.0.0.3"]);
        assert_eq!(plan.expired, vec!["/masterleases/10.0.0.2", "/masterleases/junk"]);
    }

    #[test]
    fn a_lease_expiring_now_is_expired() {
        let plan = plan_leases(&[lease("10.0.0.1", 1_000)], 1_000);
        assert!(plan.ips.is_empty());
        assert_eq!(plan.expired.len(), 1);
    }

    #[test]
    fn endpoints_and_slice_carry_every_address_and_the_https_port() {
        let ips = vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()];
        let ep = desired_endpoints(&ips, 6443);
        assert_eq!(ep["subsets"][0]["addresses"][1]["ip"], "10.0.0.2");
        assert_eq!(
            ep["subsets"][0]["ports"][0],
            json!({"name": "https", "port": 6443, "protocol": "TCP"})
        );
        assert_eq!(
            ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"],
            "true"
        );
        let slice = desired_slice(&ips, 6443);
        assert_eq!(slice["addressType"], "IPv4");
        assert_eq!(
            slice["endpoints"][0],
            json!({"addresses": ["10.0.0.1"], "conditions": {"ready": true}})
        );
        assert_eq!(
            slice["metadata"]["labels"]["kubernetes.io/service-name"],
            "kubernetes"
        );
        assert_eq!(
            desired_slice(&["fd00::1".to_string()], 443)["addressType"],
            "IPv6"
        );
    }

    #[test]
    fn only_owned_fields_decide_whether_to_write() {
        let desired = desired_endpoints(&["10.0.0.1".to_string()], 6443);
        let mut stored = desired.clone();
        stored["metadata"]["resourceVersion"] = json!("42");
        stored["metadata"]["uid"] = json!("u");
        assert!(up_to_date(&stored, &desired));
        let other = desired_endpoints(&["10.0.0.9".to_string()], 6443);
        assert!(!up_to_date(&stored, &other));
        let m = merged(&stored, &other);
        assert_eq!(m["metadata"]["resourceVersion"], "42");
        assert!(up_to_date(&m, &other));
    }
}
