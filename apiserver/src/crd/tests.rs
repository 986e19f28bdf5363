//! Table tests of schema validation, pruning and CRD validation against upstream's messages.

use serde_json::{Value, json};

use super::definition::{default as default_crd, validate_definition};
use super::schema::Schema;
use super::strategy::VersionSchema;
use super::validate::validate;

fn messages(schema: &Value, value: &Value) -> Vec<String> {
    validate(&Schema::compile(schema), value)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn widget_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
                    "size": {"type": "string", "enum": ["small", "large"]},
                    "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                    "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1.5},
                    "port": {"x-kubernetes-int-or-string": true},
                    "when": {"type": "string", "format": "date-time"},
                    "note": {"type": "string", "nullable": true},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2,
                             "x-kubernetes-list-type": "set"},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                              "x-kubernetes-list-map-keys": ["port"],
                              "items": {"type": "object", "required": ["port"],
                                        "properties": {"port": {"type": "integer"}}}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                 "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            }
        }
    })
}

#[test]
fn valid_objects_pass() {
    let obj = json!({"spec": {"size": "small", "replicas": 3, "name": "abc", "ratio": 1.0,
        "port": "http", "when": "2024-01-01T00:00:00Z", "note": null, "tags": ["a", "b"],
        "ports": [{"port": 1}, {"port": 2}], "template": {"apiVersion": "v1", "kind": "Pod"},
        "labels": {"a": "b"}}});
    assert_eq!(messages(&widget_schema(), &obj), Vec::<String>::new());
    // 2.0 is an integer to upstream's decoder.
    assert!(
        messages(
            &widget_schema(),
            &json!({"spec": {"size": "small", "replicas": 2.0}})
        )
        .is_empty()
    );
}

#[test]
fn errors_read_as_upstream() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"spec": {"size": "small", "replicas": "string"}}),
            vec![
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
            ],
        ),
        (json!({"spec": {}}), vec!["spec.size: Required value"]),
        (
            json!({"spec": {"size": "medium"}}),
            vec![r#"spec.size: Unsupported value: "medium": supported values: "small", "large""#],
        ),
        (
            json!({"spec": {"size": "small", "replicas": -1}}),
            vec![
                "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
            ],
        ),
        (
            json!({"spec": {"size": "small", "replicas": 11}}),
            vec![
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
            ],
        ),
        (
            json!({"spec": {"size": "small", "ratio": 1.5}}),
            vec!["spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5"],
        ),
        (
            json!({"spec": {"size": "small", "name": "a"}}),
            vec![r#"spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long"#],
        ),
        (
            json!({"spec": {"size": "small", "name": "abcdef"}}),
            vec!["spec.name: Too long: may not be more than 5 bytes"],
        ),
        (
            json!({"spec": {"size": "small", "name": "AB"}}),
            vec![r#"spec.name: Invalid value: "AB": spec.name in body should match '^[a-z]+$'"#],
        ),
        (
            json!({"spec": {"size": "small", "port": true}}),
            vec![
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
            ],
        ),
        (
            json!({"spec": {"size": "small", "when": "soon"}}),
            vec![r#"spec.when: Invalid value: "soon": spec.when in body must be of type date-time: "soon""#],
        ),
        (
            json!({"spec": {"size": "small", "tags": []}}),
            vec!["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"],
        ),
        (
            json!({"spec": {"size": "small", "tags": ["a", "b", "c"]}}),
            vec!["spec.tags: Too many: 3: must have at most 2 items"],
        ),
        (
            json!({"spec": {"size": "small", "tags": ["a", "a"]}}),
            vec![r#"spec.tags[1]: Duplicate value: "a""#],
        ),
        (
            json!({"spec": {"size": "small", "ports": [{"port": 1}, {"port": 1}]}}),
            vec![r#"spec.ports[1]: Duplicate value: {"port":1}"#],
        ),
        (
            json!({"spec": {"size": "small", "ports": [{}]}}),
            vec!["spec.ports[0].port: Required value"],
        ),
        (
            json!({"spec": {"size": "small", "template": {"metadata": {}}}}),
            vec![
                "spec.template.apiVersion: Required value: must not be empty",
                "spec.template.kind: Required value: must not be empty",
            ],
        ),
        (
            json!({"spec": {"size": "small", "labels": {"a": 1}}}),
            vec![
                r#"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#,
            ],
        ),
        (
            json!({"spec": "x"}),
            vec![r#"spec: Invalid value: "string": spec in body must be of type object: "string""#],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(messages(&widget_schema(), &obj), want, "{obj}");
    }
}

#[test]
fn pruning_reports_unknown_fields_and_keeps_implicit_ones() {
    let version = VersionSchema::new("example.com/v1", "Widget", Some(&widget_schema()));
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "bogus": 1, "labels": {"x": "y"}},
        "spec": {"size": "small", "foo": 1, "ports": [{"port": 1, "extra": true}],
                 "template": {"apiVersion": "v1", "kind": "Pod", "anything": {"goes": 1}},
                 "labels": {"a": "b"}},
        "status": {"x": 1}
    });
    let pruned = version.prune_and_default(&mut obj);
    let mut issues = pruned.0.clone();
    issues.sort();
    assert_eq!(
        issues,
        vec![
            r#"unknown field "metadata.bogus""#,
            r#"unknown field "spec.foo""#,
            r#"unknown field "spec.ports[0].extra""#,
            r#"unknown field "status""#,
        ]
    );
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "labels": {"x": "y"}},
            "spec": {"size": "small", "ports": [{"port": 1}],
                     "template": {"apiVersion": "v1", "kind": "Pod", "anything": {"goes": 1}},
                     "labels": {"a": "b"}}
        })
    );
    // An object with no declared properties keeps nothing below it, as upstream.
    let bare = VersionSchema::new(
        "example.com/v1",
        "Bare",
        Some(&json!({"type": "object", "properties": {"spec": {"type": "object"}}})),
    );
    let mut obj = json!({"spec": {"a": 1}});
    bare.prune_and_default(&mut obj);
    assert_eq!(obj, json!({"spec": {}}));
}

fn crd(schema: Value) -> Value {
    json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": schema}}]
        }
    })
}

fn crd_messages(mut obj: Value) -> Vec<String> {
    default_crd(&mut obj);
    validate_definition(&obj, None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn definitions_are_defaulted_and_validated() {
    let mut ok = crd(widget_schema());
    default_crd(&mut ok);
    assert_eq!(ok["spec"]["names"]["singular"], "widget");
    assert_eq!(ok["spec"]["names"]["listKind"], "WidgetList");
    assert_eq!(ok["spec"]["conversion"]["strategy"], "None");
    assert!(validate_definition(&ok, None).is_empty());

    let p = "spec.versions[0].schema.openAPIV3Schema";
    let cases: Vec<(Value, Vec<String>)> = vec![
        (
            crd(json!({"type": "object", "properties": {"spec": {"properties": {}}}})),
            vec![format!(
                "{p}.properties[spec].type: Required value: must not be empty for specified object fields"
            )],
        ),
        (
            crd(json!({"properties": {}})),
            vec![format!("{p}.type: Required value: must not be empty at the root")],
        ),
        (
            crd(json!({"type": "object", "properties": {"list": {"type": "array"}}})),
            vec![format!(
                "{p}.properties[list].items: Required value: must be specified"
            )],
        ),
        (
            crd(
                json!({"type": "object", "properties": {"metadata": {"type": "object",
                "properties": {"labels": {"type": "object"}}}}}),
            ),
            vec![format!(
                "{p}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
            )],
        ),
        (
            crd(json!({"type": "object", "properties": {"n": {"type": "integer", "default": "x"}}})),
            vec![format!(
                r#"{p}.properties[n].default: Invalid value: "x": <nil>: Invalid value: "string": . in body must be of type integer: "string""#
            )],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(crd_messages(obj), want);
    }

    let mut bad = crd(widget_schema());
    bad["metadata"]["name"] = json!("other.example.com");
    bad["spec"]["group"] = json!("example");
    bad["spec"]["scope"] = json!("Everywhere");
    bad["spec"]["names"]["plural"] = json!("Widgets");
    bad["spec"]["versions"][0]["storage"] = json!(false);
    let got = crd_messages(bad);
    assert_eq!(
        got[0],
        r#"metadata.name: Invalid value: "other.example.com": must be spec.names.plural+"."+spec.group"#
    );
    assert_eq!(
        got[1],
        r#"spec.group: Invalid value: "example": should be a domain with at least one dot"#
    );
    assert_eq!(
        got[2],
        r#"spec.scope: Unsupported value: "Everywhere": supported values: "Cluster", "Namespaced""#
    );
    assert!(
        got[3].starts_with(
            r#"spec.names.plural: Invalid value: "Widgets": a DNS-1035 label must consist of lower case"#
        ),
        "{}",
        got[3]
    );
    assert!(
        got[4].ends_with("must have exactly one version marked as storage version"),
        "{}",
        got[4]
    );
}
