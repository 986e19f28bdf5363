use super::testing::request_pem;
use super::*;

/// (what, CN, O, SANs, usages, accepted)
type ClientCase<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a [&'a str],
    &'a Vec<String>,
    bool,
);
/// (what, CN, SANs, usages, accepted)
type ServingCase<'a> = (&'a str, &'a str, &'a [&'a str], &'a Vec<String>, bool);

fn usages(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn parses_subject_and_sans() {
    let (pem, _) = request_pem(
        "system:node:n1",
        Some("system:nodes"),
        &["n1.example", "10.0.0.1"],
    );
    let req = parse_request(pem.as_bytes()).expect("parse");
    assert_eq!(req.common_name, "system:node:n1");
    assert_eq!(req.organizations, vec!["system:nodes"]);
    assert_eq!(req.dns_names, vec!["n1.example"]);
    assert_eq!(req.ip_addresses, 1);
    assert!(parse_request(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n").is_err());
    assert!(parse_request(b"not pem").is_err());
}

#[test]
fn kubelet_client_table() {
    let client = usages(&["digital signature", "client auth"]);
    let rsa_client = usages(&["key encipherment", "digital signature", "client auth"]);
    let cases: Vec<ClientCase<'_>> = vec![
        ("ok", "system:node:n1", Some("system:nodes"), &[], &client, true),
        (
            "ok with key encipherment",
            "system:node:n1",
            Some("system:nodes"),
            &[],
            &rsa_client,
            true,
        ),
        (
            "wrong org",
            "system:node:n1",
            Some("system:masters"),
            &[],
            &client,
            false,
        ),
        ("no org", "system:node:n1", None, &[], &client, false),
        ("wrong cn", "alice", Some("system:nodes"), &[], &client, false),
        (
            "dns san",
            "system:node:n1",
            Some("system:nodes"),
            &["n1"],
            &client,
            false,
        ),
        (
            "ip san",
            "system:node:n1",
            Some("system:nodes"),
            &["10.0.0.1"],
            &client,
            false,
        ),
    ];
    for (what, cn, org, sans, usages, ok) in cases {
        let (pem, _) = request_pem(cn, org, sans);
        let req = parse_request(pem.as_bytes()).expect("parse");
        assert_eq!(validate_kubelet_client(&req, usages).is_ok(), ok, "{what}");
    }
    let (pem, _) = request_pem("system:node:n1", Some("system:nodes"), &[]);
    let req = parse_request(pem.as_bytes()).expect("parse");
    for bad in [
        usages(&["client auth"]),
        usages(&["digital signature", "client auth", "server auth"]),
        usages(&[]),
    ] {
        assert!(validate_kubelet_client(&req, &bad).is_err(), "{bad:?}");
    }
}

#[test]
fn kubelet_serving_table() {
    let serving = usages(&["digital signature", "server auth"]);
    let cases: Vec<ServingCase<'_>> = vec![
        ("ok dns", "system:node:n1", &["n1.example"], &serving, true),
        ("ok ip", "system:node:n1", &["10.0.0.1"], &serving, true),
        ("no san", "system:node:n1", &[], &serving, false),
        ("wrong cn", "n1", &["n1.example"], &serving, false),
    ];
    for (what, cn, sans, usages, ok) in cases {
        let (pem, _) = request_pem(cn, Some("system:nodes"), sans);
        let req = parse_request(pem.as_bytes()).expect("parse");
        assert_eq!(validate_kubelet_serving(&req, usages).is_ok(), ok, "{what}");
    }
}

#[test]
fn apiserver_client_usages_table() {
    assert!(validate_apiserver_client_usages(&usages(&["client auth"])).is_ok());
    assert!(
        validate_apiserver_client_usages(&usages(&["digital signature", "key encipherment", "client auth"]))
            .is_ok()
    );
    assert!(validate_apiserver_client_usages(&usages(&["digital signature"])).is_err());
    assert!(validate_apiserver_client_usages(&usages(&["client auth", "server auth"])).is_err());
}
