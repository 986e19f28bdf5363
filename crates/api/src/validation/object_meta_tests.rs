use serde_json::{Value, json};

use super::*;

fn msgs(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

#[test]
fn valid_meta_passes() {
    let meta = json!({
        "name": "web-1", "namespace": "default",
        "labels": {"app": "web", "example.com/tier": ""},
        "annotations": {"Example.com/Note": "anything goes here"},
        "finalizers": ["example.com/cleanup"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}],
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1"}],
    });
    assert_eq!(
        msgs(&validate_object_meta(&meta, true, name_is_dns_subdomain)),
        Vec::<String>::new()
    );
}

#[test]
fn name_rules() {
    let errs = validate_object_meta(&json!({"name": "Foo_bar"}), false, name_is_dns_subdomain);
    assert_eq!(
        msgs(&errs),
        vec![
            "metadata.name: Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ]
    );
    let errs = validate_object_meta(&json!({}), false, name_is_dns_subdomain);
    assert_eq!(
        msgs(&errs),
        vec!["metadata.name: Required value: name or generateName is required"]
    );
    // generateName alone (before generation) still reports the missing name, like upstream.
    let errs = validate_object_meta(&json!({"generateName": "web-"}), false, name_is_dns_subdomain);
    assert_eq!(
        msgs(&errs),
        vec!["metadata.name: Required value: name or generateName is required"]
    );
    let errs = validate_object_meta(
        &json!({"generateName": "Web-", "name": "web-x"}),
        false,
        name_is_dns_subdomain,
    );
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .starts_with("metadata.generateName: Invalid value: \"Web-\": a lowercase")
    );
}

#[test]
fn namespace_rules() {
    let errs = validate_object_meta(&json!({"name": "a"}), true, name_is_dns_subdomain);
    assert_eq!(msgs(&errs), vec!["metadata.namespace: Required value"]);
    let errs = validate_object_meta(
        &json!({"name": "a", "namespace": "x"}),
        false,
        name_is_dns_subdomain,
    );
    assert_eq!(
        msgs(&errs),
        vec!["metadata.namespace: Forbidden: not allowed on this type"]
    );
    let errs = validate_object_meta(
        &json!({"name": "a", "namespace": "a.b"}),
        true,
        name_is_dns_subdomain,
    );
    assert_eq!(
        msgs(&errs),
        vec!["metadata.namespace: Invalid value: \"a.b\": must not contain dots"]
    );
}

#[test]
fn labels_annotations_generation() {
    let meta =
        json!({"name": "a", "generation": -1, "labels": {"bad key": "x y"}, "annotations": {"a/b/c": "v"}});
    let errs = validate_object_meta(&meta, false, name_is_dns_subdomain);
    let m = msgs(&errs);
    assert_eq!(
        m[0],
        "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    );
    assert!(m[1].starts_with("metadata.labels: Invalid value: \"bad key\": name part must consist of"));
    assert!(
        m[2].starts_with("metadata.labels: Invalid value: \"x y\": a valid label must be an empty string")
    );
    assert!(
        m[3].starts_with("metadata.annotations: Invalid value: \"a/b/c\": a qualified name must consist")
    );
    assert_eq!(m.len(), 4);
    assert_eq!(errs[1].error_type.cause_type(), "FieldValueInvalid");
}

#[test]
fn annotation_size_limit() {
    let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
    let errs = validate_object_meta(
        &json!({"name": "a", "annotations": {"k": big}}),
        false,
        name_is_dns_subdomain,
    );
    assert_eq!(
        msgs(&errs),
        vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
    );
    assert_eq!(errs[0].error_type.cause_type(), "FieldValueTooLong");
    let ok = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES - 1);
    assert!(
        validate_object_meta(
            &json!({"name": "a", "annotations": {"k": ok}}),
            false,
            name_is_dns_subdomain
        )
        .is_empty()
    );
}

#[test]
fn owner_references_and_finalizers() {
    let meta = json!({"name": "a",
        "ownerReferences": [
            {"apiVersion": "", "kind": "", "name": "", "uid": ""},
            {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"},
            {"apiVersion": "v1", "kind": "Pod", "name": "p1", "uid": "u1", "controller": true},
            {"apiVersion": "v1", "kind": "Pod", "name": "p2", "uid": "u2", "controller": true},
        ],
        "finalizers": ["orphan", "foregroundDeletion"],
    });
    let m = msgs(&validate_object_meta(&meta, false, name_is_dns_subdomain));
    assert_eq!(
        m[0],
        "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty"
    );
    assert_eq!(
        m[1],
        "metadata.ownerReferences.kind: Invalid value: \"\": kind must not be empty"
    );
    assert_eq!(
        m[2],
        "metadata.ownerReferences.name: Invalid value: \"\": name must not be empty"
    );
    assert_eq!(
        m[3],
        "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
    );
    assert_eq!(
        m[4],
        "metadata.ownerReferences: Invalid value: v1.OwnerReference{APIVersion:\"v1\", Kind:\"Event\", Name:\"e\", UID:\"u\", Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed from being an owner"
    );
    assert!(m[5].ends_with(
        "Only one reference can have Controller set to true. Found \"true\" in references for Pod/p1 and Pod/p2"
    ));
    assert_eq!(
        m[6],
        "metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"
    );
    assert_eq!(m.len(), 7);
}

#[test]
fn managed_fields() {
    let meta = json!({"name": "a", "managedFields": [{"manager": "a\tb", "operation": "Patch", "fieldsType": "FieldsV2"}]});
    let m = msgs(&validate_object_meta(&meta, false, name_is_dns_subdomain));
    assert_eq!(
        m,
        vec![
            "metadata.managedFields[0].operation: Invalid value: \"Patch\": must be `Apply` or `Update`",
            "metadata.managedFields[0].fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`",
            "metadata.managedFields[0].manager: Invalid value: \"a\\tb\": invalid character U+0009 (at position 1)",
        ]
    );
}

fn old_meta() -> Value {
    json!({"name": "a", "namespace": "ns", "uid": "u1", "resourceVersion": "5", "generation": 3,
           "creationTimestamp": "2024-01-02T03:04:05Z"})
}

#[test]
fn update_immutable_fields() {
    assert!(validate_object_meta_update(&old_meta(), &old_meta()).is_empty());
    let new = json!({"name": "b", "namespace": "ns2", "uid": "u2", "generation": 2,
                     "creationTimestamp": "2025-01-02T03:04:05Z", "deletionTimestamp": "2025-01-02T03:04:05Z",
                     "deletionGracePeriodSeconds": 30});
    let m = msgs(&validate_object_meta_update(&new, &old_meta()));
    assert_eq!(
        m,
        vec![
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 2: must not be decremented",
            "metadata.name: Invalid value: \"b\": field is immutable",
            "metadata.namespace: Invalid value: \"ns2\": field is immutable",
            "metadata.uid: Invalid value: \"u2\": field is immutable",
            "metadata.creationTimestamp: Invalid value: 2025-01-02 03:04:05 +0000 UTC: field is immutable",
            "metadata.deletionTimestamp: Invalid value: 2025-01-02 03:04:05 +0000 UTC: field is immutable",
            "metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable",
        ]
    );
    // Removing a deletion timestamp reports null.
    let mut old = old_meta();
    old["deletionTimestamp"] = json!("2025-01-02T03:04:05Z");
    let m = msgs(&validate_object_meta_update(&old_meta(), &old));
    assert_eq!(
        m,
        vec!["metadata.deletionTimestamp: Invalid value: null: field is immutable"]
    );
}

#[test]
fn update_no_new_finalizers_while_deleting() {
    let mut old = old_meta();
    old["deletionTimestamp"] = json!("2025-01-02T03:04:05Z");
    old["finalizers"] = json!(["a.io/x"]);
    let mut new = old.clone();
    new["finalizers"] = json!(["a.io/x", "b.io/z", "b.io/y"]);
    let m = msgs(&validate_object_meta_update(&new, &old));
    assert_eq!(
        m,
        vec![
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.io/y\", \"b.io/z\"}"
        ]
    );
}

#[test]
fn wrong_types_do_not_panic() {
    for meta in [
        json!(null),
        json!(5),
        json!([1]),
        json!({"name": 5, "labels": [1], "annotations": "x",
        "ownerReferences": {"a": 1}, "finalizers": [1, null], "managedFields": [5], "generation": "x"}),
    ] {
        let _ = validate_object_meta(&meta, true, name_is_dns_label);
        let _ = validate_object_meta_update(&meta, &json!("x"));
    }
}
