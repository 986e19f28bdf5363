//! Bodies Rudder refuses, with upstream's messages, and the kinds that have a message.

use super::*;

#[test]
fn malformed_bodies_are_bad_requests() {
    assert_eq!(
        error(b""),
        (
            400,
            "the object provided is unrecognized: empty data (<empty>)".into()
        )
    );
    assert_eq!(
        error(b"{\"kind\":\"ConfigMap\"}"),
        (
            400,
            "the object provided is unrecognized: provided data does not appear to be a protobuf message, \
             expected prefix [107 56 115 0] ({\"kind\":\"ConfigMap\"})"
                .into()
        )
    );
    assert_eq!(
        error(b"k8s\0").1,
        "the object provided is unrecognized: empty body (6b387300)"
    );
    let no_kind = envelope("v1", "", Vec::new());
    assert!(
        error(&no_kind)
            .1
            .contains("Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:\"v1\", Kind:\"\"}'")
    );

    let full = body(
        "v1",
        "ConfigMap",
        &core::ConfigMap {
            metadata: Some(gogo_meta("c", "x")),
            data: labels(&[("a", "b")]),
            ..Default::default()
        },
    );
    // Truncating the envelope.
    assert_eq!(error(&full[..full.len() - 3]).0, 400);
    // Truncating the object inside an intact envelope.
    let raw = core::ConfigMap {
        metadata: Some(gogo_meta("c", "x")),
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(
        error(&envelope("v1", "ConfigMap", raw[..raw.len() - 1].to_vec())),
        (
            400,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: unexpected EOF".into()
        )
    );
    // `metadata` (1) as a varint.
    assert_eq!(
        error(&envelope("v1", "ConfigMap", vec![0x08, 0x01])),
        (
            400,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: proto: wrong wireType = 0 for field metadata"
                .into()
        )
    );
    // Field number 0.
    assert_eq!(
        error(&envelope("v1", "ConfigMap", vec![0x00, 0x01])).1,
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: proto: ConfigMap: illegal tag 0 (wire type 0)"
    );
    // An IntOrString of a third type.
    let svc = core::Service {
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                port: Some(80),
                target_port: Some(IntOrString {
                    r#type: Some(7),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(
        error(&body("v1", "Service", &svc))
            .1
            .ends_with("impossible IntOrString.Type")
    );
    // Raw JSON that is not JSON.
    let rev = apps::ControllerRevision {
        metadata: Some(gogo_meta("r", "x")),
        data: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension {
            raw: Some(b"{not json".to_vec()),
        }),
        revision: Some(1),
    };
    assert_eq!(error(&body("apps/v1", "ControllerRevision", &rev)).0, 400);
}

#[test]
fn kinds_without_protobuf_are_unsupported_media_types() {
    for (api_version, kind) in [
        ("stable.example.com/v1", "CronTab"),
        ("v1", "NoSuchKind"),
        ("v1", "PodSpec"),
        ("apps/v1beta1", "Deployment"),
        ("v2", "Pod"),
    ] {
        let e = decode(&envelope(api_version, kind, Vec::new())).expect_err(kind);
        assert_eq!(e.code(), 415, "{api_version} {kind}");
        assert_eq!(
            e.message(),
            "the body of the request was in an unknown format - accepted media types include: \
             application/json, application/yaml"
        );
    }
    let e = encode(&json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab"})).unwrap_err();
    assert_eq!(e.code(), 406);
}

#[test]
fn every_served_kind_has_a_message() {
    for r in RESOURCES {
        let api_version = r.api_version();
        // The review resources are never listed and have no list message.
        let kinds = if r.is_stored() {
            vec![r.kind.to_string(), r.list_kind()]
        } else {
            vec![r.kind.to_string()]
        };
        for kind in kinds {
            let msg = schema::lookup(&api_version, &kind)
                .unwrap_or_else(|| panic!("no protobuf message for {api_version} {kind}"));
            assert!(msg.name.ends_with(&format!(".{kind}")), "{}", msg.name);
            // A minimal object goes through both ways.
            let obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "n"}});
            let decoded = decode(&encode(&obj).unwrap()).unwrap();
            assert_eq!(decoded["kind"], kind.as_str());
        }
        for sub in r.subresources {
            assert!(
                schema::lookup(&sub.api_version(), sub.kind).is_some(),
                "no protobuf message for {} {} ({}/{})",
                sub.api_version(),
                sub.kind,
                r.plural,
                sub.name
            );
        }
        assert!(schema::lookup(&api_version, "DeleteOptions").is_some());
    }
    assert!(schema::lookup("v1", "Status").is_some());
}
