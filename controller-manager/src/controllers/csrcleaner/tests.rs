use super::*;
use crate::controllers::csr::testing::{condition, csr, request_pem, with_status};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

const NOW: &str = "2027-01-15T12:00:00Z";

fn cert_valid_until(not_after: time::OffsetDateTime) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["x".to_string()]).expect("params");
    params.not_before = not_after - time::Duration::days(2);
    params.not_after = not_after;
    params.self_signed(&key).expect("cert").pem()
}

#[test]
fn cleaner_table() {
    let now: Timestamp = NOW.parse().expect("now");
    let (pem, _) = request_pem("system:node:n1", Some("system:nodes"), &[]);
    let mut base = csr(
        "kubernetes.io/kube-apiserver-client-kubelet",
        "u",
        &pem,
        &["client auth"],
    );
    base.metadata.creation_timestamp = Some(Time("2027-01-15T11:00:00Z".parse().expect("t")));
    let mut old_pending = base.clone();
    old_pending.metadata.creation_timestamp = Some(Time("2027-01-14T11:59:59Z".parse().expect("t")));
    let valid =
        cert_valid_until(time::OffsetDateTime::from_unix_timestamp(now.as_second() + 3600).expect("t"));
    let expired =
        cert_valid_until(time::OffsetDateTime::from_unix_timestamp(now.as_second() - 1).expect("t"));
    let cases: Vec<(&str, CertificateSigningRequest, bool)> = vec![
        ("fresh pending", base.clone(), false),
        ("pending over a day", old_pending, true),
        (
            "approved recently, issued",
            with_status(
                base.clone(),
                vec![condition("Approved", Some("2027-01-15T11:30:00Z"))],
                Some(&valid),
            ),
            false,
        ),
        (
            "approved over an hour ago, issued",
            with_status(
                base.clone(),
                vec![condition("Approved", Some("2027-01-15T10:59:00Z"))],
                Some(&valid),
            ),
            true,
        ),
        (
            "approved over an hour ago, not issued",
            with_status(
                base.clone(),
                vec![condition("Approved", Some("2027-01-15T10:59:00Z"))],
                None,
            ),
            false,
        ),
        (
            "issued certificate expired",
            with_status(
                base.clone(),
                vec![condition("Approved", Some("2027-01-15T11:59:00Z"))],
                Some(&expired),
            ),
            true,
        ),
        (
            "denied recently",
            with_status(
                base.clone(),
                vec![condition("Denied", Some("2027-01-15T11:30:00Z"))],
                None,
            ),
            false,
        ),
        (
            "denied over an hour ago",
            with_status(
                base.clone(),
                vec![condition("Denied", Some("2027-01-15T10:00:00Z"))],
                None,
            ),
            true,
        ),
        (
            "failed over an hour ago",
            with_status(
                base.clone(),
                vec![condition("Failed", Some("2027-01-15T10:00:00Z"))],
                None,
            ),
            true,
        ),
        (
            "denied without a timestamp",
            with_status(base.clone(), vec![condition("Denied", None)], None),
            false,
        ),
    ];
    for (what, object, delete) in cases {
        assert_eq!(reason_to_delete(&object, now).is_some(), delete, "{what}");
    }
}
