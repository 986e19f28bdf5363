//! The apiserver's identity Lease in kube-system (upstream's APIServerIdentity, on by default):
//! `apiserver-<hash of the hostname>`, labelled `apiserver.kubernetes.io/identity=kube-apiserver`,
//! renewed every 10 s with a one-hour duration; expired ones are collected hourly.

use serde_json::{Value, json};

pub(crate) const IDENTITY_LABEL: &str = "apiserver.kubernetes.io/identity";
pub(crate) const LEASE_DURATION_SECONDS: u64 = 3600;

/// Upstream's lease name: "apiserver-" and the lower-case, unpadded base32 of the first 16
/// bytes of the hostname's SHA-256.
pub(crate) fn lease_name(hostname: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, hostname.as_bytes());
    format!("apiserver-{}", base32_lower(&digest.as_ref()[..16]))
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The Lease body this apiserver keeps: `holder` is `<lease name>_<a uuid per process>`.
pub(crate) fn desired_lease(name: &str, holder: &str, hostname: &str, now_micro: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": "kube-system",
            "labels": { IDENTITY_LABEL: "kube-apiserver", "kubernetes.io/hostname": hostname },
        },
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": now_micro,
        },
    })
}

/// Whether an identity lease has expired by `now_unix_secs` (renewTime + duration passed).
/// Leases without a readable renew time are left alone: they may be another writer's.
pub(crate) fn expired(lease: &Value, now_unix_secs: i64) -> bool {
    let is_identity = lease.pointer(&format!("/metadata/labels/{}", IDENTITY_LABEL.replace('/', "~1")))
        == Some(&json!("kube-apiserver"));
    let renew = lease
        .pointer("/spec/renewTime")
        .and_then(Value::as_str)
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    let duration = lease
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(LEASE_DURATION_SECONDS as i64);
    match renew {
        Some(renew) if is_identity => renew.unix_timestamp() + duration < now_unix_secs,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_the_rfc_4648_vectors_in_lower_case() {
        assert_eq!(base32_lower(b""), "");
        assert_eq!(base32_lower(b"f"), "my");
        assert_eq!(base32_lower(b"fo"), "mzxq");
        assert_eq!(base32_lower(b"foob"), "mzxw6yq");
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn the_lease_name_is_stable_per_hostname() {
        let name = lease_name("cp-1");
        assert!(name.starts_with("apiserver-"));
        // 16 bytes of digest make 26 base32 characters.
        assert_eq!(name.len(), "apiserver-".len() + 26);
        assert_eq!(name, lease_name("cp-1"));
        assert_ne!(name, lease_name("cp-2"));
    }

    #[test]
    fn identity_leases_expire_after_their_duration() {
        let lease = desired_lease(
            "apiserver-x",
            "apiserver-x_u",
            "cp-1",
            "2026-01-01T00:00:00.000000Z",
        );
        // 2026-01-01T00:00:00Z
        let renew = 1_767_225_600;
        assert!(!expired(&lease, renew + 3600));
        assert!(expired(&lease, renew + 3601));
        let mut other = lease.clone();
        other["metadata"]["labels"] = json!({});
        assert!(
            !expired(&other, renew + 99_999),
            "only identity leases are collected"
        );
    }
}
