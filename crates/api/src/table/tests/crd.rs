use serde_json::{Value, json};

use super::{NOW, ago};
use crate::table::jsonpath::{eval, parse};
use crate::table::{CustomResourceColumns, IncludeObject};

fn widget() -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default", "creationTimestamp": ago(600),
            "labels": {"app.kubernetes.io/name": "widget"}},
        "spec": {"replicas": 3, "size": 1.5, "enabled": true, "tags": ["a", "b"], "owner": {"team": "x"}},
        "status": {"conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False", "reason": "Waiting"}],
            "lastSync": ago(90), "note": null}})
}

#[test]
fn default_age_column() {
    let c = CustomResourceColumns::new(&[]);
    let defs = c.columns();
    assert_eq!(defs.len(), 2);
    assert_eq!((defs[0].name.as_str(), defs[0].format.as_str()), ("Name", "name"));
    assert_eq!((defs[1].name.as_str(), defs[1].type_.as_str()), ("Age", "date"));
    assert_eq!(c.row(&widget(), NOW), vec![json!("w1"), json!("10m")]);
}

#[test]
fn printer_columns_from_crd() {
    let crd = json!({"spec": {"versions": [
        {"name": "v1alpha1", "additionalPrinterColumns": []},
        {"name": "v1", "additionalPrinterColumns": [
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Readiness"},
            {"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type == 'Ready')].reason", "priority": 1},
            {"name": "Size", "type": "number", "jsonPath": ".spec.size"},
            {"name": "On", "type": "boolean", "jsonPath": ".spec.enabled"},
            {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
            {"name": "First", "type": "string", "jsonPath": ".spec.tags[0]"},
            {"name": "Last", "type": "string", "jsonPath": ".spec.tags[-1]"},
            {"name": "Team", "type": "string", "jsonPath": ".spec.owner"},
            {"name": "App", "type": "string", "jsonPath": ".metadata.labels.app\\.kubernetes\\.io/name"},
            {"name": "App2", "type": "string", "jsonPath": ".metadata.labels['app.kubernetes.io/name']"},
            {"name": "Count", "type": "string", "jsonPath": ".spec.replicas"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
            {"name": "Null", "type": "string", "jsonPath": ".status.note"},
            {"name": "Synced", "type": "date", "jsonPath": ".status.lastSync"},
            {"name": "BadDate", "type": "date", "jsonPath": ".spec.tags[1]"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]}]}});
    let c = CustomResourceColumns::for_crd_version(&crd, "v1");
    let defs = c.columns();
    assert_eq!(defs.len(), 18);
    assert_eq!(
        defs[1].description,
        "Custom resource definition column (in JSONPath format): .spec.replicas"
    );
    assert_eq!(defs[2].description, "Readiness");
    assert_eq!(defs[3].priority, 1);
    assert_eq!(
        Value::Array(c.row(&widget(), NOW)),
        json!([
            "w1",
            3,
            "False",
            "Waiting",
            1.5,
            true,
            "[\"a\",\"b\"]",
            "a",
            "b",
            "{\"team\":\"x\"}",
            "widget",
            "widget",
            "3",
            null,
            "<no value>",
            "90s",
            "<invalid>",
            "10m"
        ])
    );
    // A version without columns gets the default Age column.
    assert_eq!(
        CustomResourceColumns::for_crd_version(&crd, "v1alpha1")
            .columns()
            .len(),
        2
    );
}

#[test]
fn crd_table() {
    let c = CustomResourceColumns::new(&[
        json!({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}),
    ]);
    let t = c.table(
        &[widget()],
        IncludeObject::Object,
        &json!({"resourceVersion": "77"}),
        NOW,
    );
    assert_eq!(t["metadata"], json!({"resourceVersion": "77"}));
    assert_eq!(t["columnDefinitions"][1]["name"], "Replicas");
    assert_eq!(t["rows"][0]["cells"], json!(["w1", 3]));
    assert_eq!(t["rows"][0]["object"]["spec"]["replicas"], 3);
}

#[test]
fn jsonpath_subset() {
    let v = widget();
    let first = |p: &str| parse(p).and_then(|s| eval(&s, &v).first().map(|x| (*x).clone()));
    assert_eq!(first(".spec.replicas"), Some(json!(3)));
    assert_eq!(first("{.spec.replicas}"), Some(json!(3)));
    assert_eq!(first(".status.conditions[*].type"), Some(json!("Synced")));
    assert_eq!(
        first(".status.conditions[?(@.status!=\"True\")].type"),
        Some(json!("Ready"))
    );
    assert_eq!(
        first(".status.conditions[?(@.reason)].reason"),
        Some(json!("Waiting"))
    );
    assert_eq!(first(".spec.tags[5]"), None);
    assert_eq!(first(".spec.replicas.deeper"), None);
    let big = json!({"items": [{"n": 1}, {"n": 5}, {"n": 9}]});
    let s = parse(".items[?(@.n > 4)].n").unwrap();
    assert_eq!(eval(&s, &big), vec![&json!(5), &json!(9)]);
    assert!(parse("..name").is_none());
    assert!(parse(".a[1:2]").is_none());
    assert!(parse("spec").is_none());
    assert!(parse(".a[?(@.x == )]").is_none());
}

#[test]
fn unsupported_paths_give_null_cells() {
    let c = CustomResourceColumns::new(&[json!({"name": "X", "type": "string", "jsonPath": "..x"})]);
    assert_eq!(c.row(&widget(), NOW), vec![json!("w1"), Value::Null]);
    assert_eq!(c.columns()[1].name, "X");
}

#[test]
fn go_float_formatting() {
    use crate::table::crd::go_float;
    assert_eq!(go_float(1.5), "1.5");
    assert_eq!(go_float(123456.0), "123456");
    assert_eq!(go_float(1e6), "1e+06");
    assert_eq!(go_float(1234567.0), "1.234567e+06");
    assert_eq!(go_float(0.0001), "0.0001");
    assert_eq!(go_float(0.00001), "1e-05");
    assert_eq!(go_float(-2.5e-7), "-2.5e-07");
}
