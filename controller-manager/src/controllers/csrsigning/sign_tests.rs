use super::*;
use crate::controllers::csr::testing::request_pem;
use rudder_component::certs::{CertificateAuthority, first_certificate};
use x509_parser::extensions::ParsedExtension;

fn ca() -> (CaSigner, CertificateAuthority) {
    let ca = CertificateAuthority::generate("test-cluster-ca").expect("CA");
    let signer = CaSigner::from_pem(ca.cert_pem().into(), ca.key_pem().into()).expect("signer");
    (signer, ca)
}

fn usages(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn signed_client_certificate_has_the_request_subject_and_verifies() {
    let (signer, ca) = ca();
    let (pem, key) = request_pem("system:node:n1", Some("system:nodes"), &[]);
    let now = OffsetDateTime::now_utc();
    let cert_pem = signer
        .sign(
            &pem,
            &usages(&["digital signature", "client auth"]),
            Duration::days(365),
            now,
        )
        .expect("sign");
    let der = first_certificate(&cert_pem).expect("PEM certificate");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("parse");
    assert_eq!(cert.subject().to_string(), "O=system:nodes, CN=system:node:n1");
    assert_eq!(cert.issuer().to_string(), "CN=test-cluster-ca");
    let key = KeyPair::from_pem(&key).expect("key");
    assert_eq!(
        rcgen::PublicKeyData::subject_public_key_info(&key),
        cert.public_key().raw
    );
    let ku = cert.key_usage().expect("ku").expect("key usage present").value;
    assert!(ku.digital_signature() && !ku.key_encipherment() && !ku.key_cert_sign());
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth && !eku.server_auth);
    let bc = cert
        .basic_constraints()
        .expect("bc")
        .expect("basic constraints present")
        .value;
    assert!(!bc.ca);
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    assert_eq!(not_before, (now - BACKDATE).unix_timestamp());
    assert_eq!(not_after, (now + Duration::days(365) - BACKDATE).unix_timestamp());
    // What kube-apiserver's x509 authenticator does with it.
    let client_ca = rudder_component::tls::ClientCa::from_pem(ca.cert_pem().as_bytes()).expect("client CA");
    client_ca
        .verify(std::slice::from_ref(&der))
        .expect("chains to the CA");
    let (user, groups) = rudder_component::tls::x509_identity(&der).expect("identity");
    assert_eq!(
        (user.as_str(), groups),
        ("system:node:n1", vec!["system:nodes".to_string()])
    );
}

#[test]
fn serving_certificate_keeps_sans_and_drops_other_requested_extensions() {
    let (signer, _) = ca();
    let (pem, _) = request_pem(
        "system:node:n1",
        Some("system:nodes"),
        &["n1.example", "10.1.2.3"],
    );
    let cert_pem = signer
        .sign(
            &pem,
            &usages(&["digital signature", "key encipherment", "server auth"]),
            Duration::hours(1),
            OffsetDateTime::now_utc(),
        )
        .expect("sign");
    let der = first_certificate(&cert_pem).expect("PEM");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("parse");
    let sans = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => Some(san.general_names.len()),
            _ => None,
        })
        .expect("SAN");
    assert_eq!(sans, 2);
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.server_auth && !eku.client_auth);
}

#[test]
fn bad_requests_and_usages_are_refused() {
    let (signer, _) = ca();
    let (pem, _) = request_pem("system:node:n1", Some("system:nodes"), &[]);
    let now = OffsetDateTime::now_utc();
    assert!(matches!(
        signer.sign(&pem, &usages(&["client auth", "flying"]), Duration::hours(1), now),
        Err(SignError::Usages(u)) if u == vec!["flying".to_string()]
    ));
    // A request whose signature does not match its content.
    let mut tampered = pem.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("utf8");
    assert!(
        signer
            .sign(&tampered, &usages(&["client auth"]), Duration::hours(1), now)
            .is_err()
    );
}

#[test]
fn duration_table() {
    let year = Duration::hours(8760);
    let cases = [
        (None, year),
        (Some(3600), Duration::hours(1)),
        (Some(60), MIN_DURATION),
        (Some(600), MIN_DURATION),
        (Some(i32::MAX), year),
    ];
    for (requested, want) in cases {
        assert_eq!(duration(year, requested), want, "{requested:?}");
    }
}

#[test]
fn boundaries_table() {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
    let far = now + Duration::days(3650);
    // Long: both ends backdated.
    assert_eq!(
        boundaries(now, Duration::days(1), far).expect("ok"),
        (now - BACKDATE, now + Duration::days(1) - BACKDATE)
    );
    // Short (< 8h): the end is not backdated.
    assert_eq!(
        boundaries(now, Duration::hours(1), far).expect("ok"),
        (now - BACKDATE, now + Duration::hours(1))
    );
    // Capped at the CA's expiry.
    let soon = now + Duration::hours(2);
    assert_eq!(boundaries(now, Duration::days(1), soon).expect("ok").1, soon);
    // An expired CA signs nothing.
    assert!(matches!(
        boundaries(now, Duration::days(1), now),
        Err(SignError::Expired(_))
    ));
}

#[test]
fn key_usages_are_mapped_and_ordered_like_go() {
    let (keys, extended) = key_usages(&usages(&[
        "client auth",
        "server auth",
        "signing",
        "digital signature",
    ]))
    .expect("known");
    assert_eq!(keys, vec![Ku::DigitalSignature]);
    assert_eq!(extended, vec![Eku::ServerAuth, Eku::ClientAuth]);
}

/// A request made by OpenSSL (not by rcgen) for `subject`.
fn openssl_request(subject: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let (key, csr) = (dir.path().join("k.pem"), dir.path().join("r.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-subj", subject, "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .status()
        .expect("openssl");
    assert!(status.success());
    std::fs::read_to_string(&csr).expect("csr")
}

#[test]
fn several_groups_are_refused_rather_than_dropped() {
    let (signer, _) = ca();
    let one = openssl_request("/O=system:nodes/CN=system:node:n2");
    let cert = signer
        .sign(
            &one,
            &usages(&["client auth"]),
            Duration::hours(1),
            OffsetDateTime::now_utc(),
        )
        .expect("an OpenSSL request signs");
    let der = first_certificate(&cert).expect("PEM");
    let (user, groups) = rudder_component::tls::x509_identity(&der).expect("identity");
    assert_eq!(
        (user.as_str(), groups),
        ("system:node:n2", vec!["system:nodes".to_string()])
    );
    let pem = openssl_request("/O=devs/O=ops/CN=alice");
    let result = signer.sign(
        &pem,
        &usages(&["client auth"]),
        Duration::hours(1),
        OffsetDateTime::now_utc(),
    );
    assert!(
        matches!(result, Err(SignError::RepeatedAttribute(ref a)) if a == "O"),
        "{result:?}"
    );
}
