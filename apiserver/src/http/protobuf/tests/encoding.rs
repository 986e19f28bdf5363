//! The schema's consistency and the encoder (JSON to protobuf), times and durations.

use super::*;

#[test]
fn schema_is_consistent() {
    assert!(
        MESSAGES.windows(2).all(|w| w[0].name < w[1].name),
        "MESSAGES must be sorted"
    );
    for m in &MESSAGES {
        let mut numbers: Vec<u32> = m.fields.iter().map(|f| f.number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            m.fields.len(),
            "duplicate field numbers in {}",
            m.name
        );
        for f in m.fields {
            if let Ty::Message(i) | Ty::MapMessage(i) = f.ty {
                assert!(usize::from(i) < MESSAGES.len());
            }
        }
        if m.special == Special::Items {
            assert!(m.fields.len() == 1 && m.fields[0].has(REPEATED));
        }
    }
}

#[test]
fn encode_writes_upstreams_envelope() {
    let obj = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "x", "creationTimestamp": "2024-01-02T03:04:05Z"},
        "data": {"a": "b"},
        "binaryData": {"bin": "AAH/"},
        "unknownField": 1,
    });
    let bytes = encode(&obj).unwrap();
    assert_eq!(&bytes[..4], b"k8s\0");
    // Read back with the independent decoder.
    let unknown = Unknown::decode(&bytes[4..]).unwrap();
    let tm = unknown.type_meta.unwrap();
    assert_eq!(
        (tm.api_version.as_deref(), tm.kind.as_deref()),
        (Some("v1"), Some("ConfigMap"))
    );
    let cm = core::ConfigMap::decode(unknown.raw.unwrap().as_slice()).unwrap();
    let meta = cm.metadata.unwrap();
    assert_eq!(meta.name.as_deref(), Some("c"));
    assert_eq!(meta.creation_timestamp.unwrap().seconds, Some(1_704_164_645));
    assert_eq!(cm.data, labels(&[("a", "b")]));
    assert_eq!(cm.binary_data["bin"], vec![0, 1, 255]);
}

#[test]
fn encode_reads_back_with_the_independent_decoder() {
    let obj = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"spec": {
                "containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": 1}}}],
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}],
            }},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        },
    });
    let bytes = encode(&obj).unwrap();
    let unknown = Unknown::decode(&bytes[4..]).unwrap();
    let d = apps::Deployment::decode(unknown.raw.unwrap().as_slice()).unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(0));
    let pod = spec.template.unwrap().spec.unwrap();
    assert_eq!(
        pod.containers[0].resources.as_ref().unwrap().limits["cpu"]
            .string
            .as_deref(),
        Some("1")
    );
    let vs = pod.volumes[0].volume_source.as_ref().unwrap();
    assert_eq!(
        vs.empty_dir
            .as_ref()
            .unwrap()
            .size_limit
            .as_ref()
            .unwrap()
            .string
            .as_deref(),
        Some("1Gi")
    );
    let ru = spec.strategy.unwrap().rolling_update.unwrap();
    assert_eq!(ru.max_surge, Some(int_or_string_str("25%")));
    assert_eq!(ru.max_unavailable, Some(int_or_string_int(0)));
}

#[test]
fn encode_refuses_objects_that_do_not_fit() {
    for obj in [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": "not a map"}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"a": "not base64!"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "three"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 4_294_967_296_i64}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "yesterday"}}),
    ] {
        assert_eq!(encode(&obj).unwrap_err().code(), 500, "{obj}");
    }
}

#[test]
fn time_formats() {
    assert_eq!(
        timestamps::format(0, 0, false).unwrap(),
        json!("1970-01-01T00:00:00Z")
    );
    assert_eq!(
        timestamps::format(-62_135_596_800, 0, false).unwrap(),
        Value::Null
    );
    assert_eq!(
        timestamps::format(1, -1, true).unwrap(),
        json!("1970-01-01T00:00:00.999999Z")
    );
    assert!(timestamps::format(i64::MAX, 0, false).is_err());
    assert!(timestamps::format(253_402_300_800, 0, false).is_err()); // year 10000
    assert_eq!(
        timestamps::parse("2024-01-02T03:04:05Z").unwrap(),
        (1_704_164_645, 0)
    );
    assert_eq!(
        timestamps::parse("2024-01-02T04:04:05.5+01:00").unwrap(),
        (1_704_164_645, 500_000_000)
    );
}

#[test]
fn durations_as_go_writes_them() {
    for (nanos, text) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_723_000_000_000, "1h2m3s"),
        (-90_000_000_000, "-1m30s"),
    ] {
        assert_eq!(timestamps::format_duration(nanos), text);
        assert_eq!(timestamps::parse_duration(text).unwrap(), nanos, "{text}");
    }
    assert_eq!(timestamps::format_duration(i64::MIN), "-2562047h47m16.854775808s");
    assert_eq!(timestamps::parse_duration("1.5h").unwrap(), 5_400_000_000_000);
    for bad in ["", "1", "h", "1x", "-", "1.h2"] {
        assert!(timestamps::parse_duration(bad).is_err(), "{bad}");
    }
}

/// Nesting far beyond any real object is refused, not a stack overflow.
#[test]
fn deep_nesting_is_refused() {
    let mut schema = Vec::new();
    for _ in 0..10_000 {
        // JSONSchemaProps.not = 28 (a JSONSchemaProps).
        let mut outer = Vec::new();
        wire::put_len(&mut outer, 28, &schema);
        schema = outer;
    }
    let (code, message) = error(&envelope(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        {
            // spec (2) → versions (7) → schema (4) → openAPIV3Schema (1)
            let mut v = Vec::new();
            wire::put_len(&mut v, 1, &schema);
            let mut ver = Vec::new();
            wire::put_len(&mut ver, 4, &v);
            let mut spec = Vec::new();
            wire::put_len(&mut spec, 7, &ver);
            let mut crd = Vec::new();
            wire::put_len(&mut crd, 2, &spec);
            crd
        },
    ));
    assert_eq!(code, 400);
    assert!(message.contains("exceeded max depth"), "{message}");
    // Deeply nested groups in an unknown field, too.
    let mut raw = Vec::new();
    for _ in 0..10_000 {
        wire::put_tag(&mut raw, 50, 3);
    }
    assert_eq!(error(&envelope("v1", "ConfigMap", raw)).0, 400);
}
