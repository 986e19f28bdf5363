//! FieldSet: FieldsV1 encoding both ways, ordering, set algebra, path rendering.

use serde_json::{Value, json};

use super::*;

fn f(name: &str) -> PathElement {
    PathElement::field(name)
}

fn k(name: &str, value: Value) -> PathElement {
    PathElement::key([(name, value)])
}

#[test]
fn encodes_the_documented_example() {
    let mut set = FieldSet::new();
    set.insert(&[f("metadata"), f("labels"), f("app")]);
    set.insert(&[f("spec"), f("containers"), k("name", json!("web"))]);
    set.insert(&[f("spec"), f("containers"), k("name", json!("web")), f("image")]);
    let expected = r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}"#;
    assert_eq!(set.to_fields_v1_string(), expected);
    assert_eq!(
        set.to_fields_v1(),
        serde_json::from_str::<Value>(expected).unwrap()
    );
    assert_eq!(FieldSet::from_fields_v1_str(expected).unwrap(), set);
    assert_eq!(set.len(), 3);
}

#[test]
fn round_trips_every_element_type() {
    let text = r#"{"f:a":{"i:2":{},"i:10":{}},"f:b":{"v:\"x\"":{},"v:3":{}},"f:c":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{}}}}"#;
    let set = FieldSet::from_fields_v1_str(text).unwrap();
    let paths: Vec<String> = set.paths().iter().map(|p| path_string(p)).collect();
    assert_eq!(
        paths,
        [
            ".c",
            ".a[2]",
            ".a[10]",
            ".b[=3]",
            ".b[=\"x\"]",
            ".c[containerPort=80,protocol=\"TCP\"]",
            ".c[containerPort=80,protocol=\"TCP\"].name",
        ]
    );
    // Upstream order: numbers before strings, indices numerically.
    let again = set.to_fields_v1_string();
    assert_eq!(
        again,
        r#"{"f:a":{"i:2":{},"i:10":{}},"f:b":{"v:3":{},"v:\"x\"":{}},"f:c":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{}}}}"#
    );
    assert_eq!(FieldSet::from_fields_v1_str(&again).unwrap(), set);
}

#[test]
fn keys_are_sorted_and_numbers_ordered_numerically() {
    let mut set = FieldSet::new();
    for port in [8080, 9, 80] {
        set.insert(&[
            f("ports"),
            PathElement::key([("protocol", json!("TCP")), ("containerPort", json!(port))]),
        ]);
    }
    assert_eq!(
        set.to_fields_v1_string(),
        r#"{"f:ports":{"k:{\"containerPort\":9,\"protocol\":\"TCP\"}":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{}}}"#
    );
}

#[test]
fn parse_rules() {
    // A node without children is a member; "." marks a parent that is also a member.
    let set = FieldSet::from_fields_v1(&json!({"f:a": {}, "f:b": {"f:c": {}}, "f:d": {".": {}, "f:e": {}}}))
        .unwrap();
    assert!(set.contains(&[f("a")]));
    assert!(!set.contains(&[f("b")]));
    assert!(set.contains(&[f("b"), f("c")]));
    assert!(set.contains(&[f("d")]));
    // Unknown element types are dropped, as upstream does.
    let set = FieldSet::from_fields_v1(&json!({"f:a": {}, "x:future": {}})).unwrap();
    assert_eq!(set.to_fields_v1(), json!({"f:a": {}}));
    // Malformed keys are errors.
    assert!(FieldSet::from_fields_v1(&json!({"bad": {}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({"k:notjson": {}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({"f:a": []})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({})).unwrap().is_empty());
}

#[test]
fn html_characters_are_escaped_like_go() {
    let mut set = FieldSet::new();
    set.insert(&[f("env"), k("name", json!("a<b>&"))]);
    assert_eq!(
        set.to_fields_v1_string(),
        r#"{"f:env":{"k:{\"name\":\"a\\u003cb\\u003e\\u0026\"}":{}}}"#
    );
    let back = FieldSet::from_fields_v1_str(&set.to_fields_v1_string()).unwrap();
    assert_eq!(back, set);
}

#[test]
fn set_algebra() {
    let parse = |v: Value| FieldSet::from_fields_v1(&v).unwrap();
    let a = parse(json!({"f:spec": {".": {}, "f:replicas": {}, "f:paused": {}}}));
    let b = parse(json!({"f:spec": {"f:replicas": {}, "f:minReadySeconds": {}}}));
    assert_eq!(a.intersection(&b), parse(json!({"f:spec": {"f:replicas": {}}})));
    // Difference is exact: removing a child keeps the parent.
    assert_eq!(
        a.difference(&b),
        parse(json!({"f:spec": {".": {}, "f:paused": {}}}))
    );
    let mut u = a.clone();
    u.union_with(&b);
    assert_eq!(
        u,
        parse(json!({"f:spec": {".": {}, "f:replicas": {}, "f:paused": {}, "f:minReadySeconds": {}}}))
    );
    // Recursive difference drops whole subtrees.
    let mut r = u.clone();
    r.remove_recursive(&parse(json!({"f:spec": {}})));
    assert!(r.is_empty());
    // Parent minus child keeps the parent.
    let parent = parse(json!({"f:spec": {}}));
    assert_eq!(parent.difference(&b), parent);
}

#[test]
fn path_strings_match_upstream() {
    let path = [
        f("spec"),
        f("template"),
        f("spec"),
        f("containers"),
        k("name", json!("web")),
        f("image"),
    ];
    assert_eq!(
        path_string(&path),
        r#".spec.template.spec.containers[name="web"].image"#
    );
    assert_eq!(
        path_string(&[f("finalizers"), PathElement::Value(json!("x"))]),
        r#".finalizers[="x"]"#
    );
    assert_eq!(path_string(&[f("args"), PathElement::Index(0)]), ".args[0]");
    assert_eq!(path_string(&[f("a"), k("n", json!(1.5))]), ".a[n=1.5]");
}
