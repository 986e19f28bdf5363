//! JSON patch (RFC 6902): the RFC's appendix A, the quirks of evanphx/json-patch v4 that the
//! apiserver exposes, and the apiserver's limits.

use serde_json::{Value, json};

use super::*;

fn apply(doc: Value, patch: Value) -> Result<Value, PatchError> {
    apply_json_patch(&doc, &patch)
}

fn ok(doc: Value, patch: Value) -> Value {
    apply(doc, patch.clone()).unwrap_or_else(|e| panic!("{patch}: {e}"))
}

fn failure(doc: Value, patch: Value) -> String {
    match apply(doc, patch.clone()) {
        Err(e @ PatchError::JsonPatchApply(_)) => {
            assert_eq!(e.code(), 422);
            e.to_string()
        }
        other => panic!("{patch}: expected an apply error, got {other:?}"),
    }
}

#[test]
fn rfc6902_appendix_a() {
    let add = ok(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/baz", "value": "qux"}]),
    );
    assert_eq!(add, json!({"baz": "qux", "foo": "bar"}));
    let add = ok(
        json!({"foo": ["bar", "baz"]}),
        json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
    );
    assert_eq!(add, json!({"foo": ["bar", "qux", "baz"]}));
    let rm = ok(
        json!({"baz": "qux", "foo": "bar"}),
        json!([{"op": "remove", "path": "/baz"}]),
    );
    assert_eq!(rm, json!({"foo": "bar"}));
    let rm = ok(
        json!({"foo": ["bar", "qux", "baz"]}),
        json!([{"op": "remove", "path": "/foo/1"}]),
    );
    assert_eq!(rm, json!({"foo": ["bar", "baz"]}));
    let replace = ok(
        json!({"baz": "qux", "foo": "bar"}),
        json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
    );
    assert_eq!(replace, json!({"baz": "boo", "foo": "bar"}));
    let moved = ok(
        json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
        json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
    );
    assert_eq!(
        moved,
        json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
    );
    let moved = ok(
        json!({"foo": ["all", "grass", "cows", "eat"]}),
        json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
    );
    assert_eq!(moved, json!({"foo": ["all", "cows", "eat", "grass"]}));
    ok(
        json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]),
    );
    let msg = failure(
        json!({"baz": "qux"}),
        json!([{"op": "test", "path": "/baz", "value": "bar"}]),
    );
    assert_eq!(msg, "testing value /baz failed: test failed");
    let nested = ok(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
    );
    assert_eq!(nested, json!({"foo": "bar", "child": {"grandchild": {}}}));
    let extra = ok(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
    );
    assert_eq!(extra, json!({"foo": "bar", "baz": "qux"}));
    let msg = failure(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
    );
    assert_eq!(
        msg,
        "add operation does not apply: doc is missing path: \"/baz/bat\": missing value"
    );
    ok(
        json!({"/": 9, "~1": 10}),
        json!([{"op": "test", "path": "/~01", "value": 10}]),
    );
    failure(
        json!({"/": 9, "~1": 10}),
        json!([{"op": "test", "path": "/~01", "value": "10"}]),
    );
    let arr = ok(
        json!({"foo": ["bar"]}),
        json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
    );
    assert_eq!(arr, json!({"foo": ["bar", ["abc", "def"]]}));
}

#[test]
fn copy_and_escaped_keys() {
    let doc = json!({"metadata": {"annotations": {"a/b": "x"}}});
    let out = ok(
        doc,
        json!([{"op": "copy", "from": "/metadata/annotations/a~1b", "path": "/metadata/annotations/c~0d"}]),
    );
    assert_eq!(
        out,
        json!({"metadata": {"annotations": {"a/b": "x", "c~d": "x"}}})
    );
}

#[test]
fn upstream_leniencies() {
    // replace of a missing member adds it.
    let out = ok(
        json!({"metadata": {"labels": {}}}),
        json!([{"op": "replace", "path": "/metadata/labels/x", "value": "y"}]),
    );
    assert_eq!(out, json!({"metadata": {"labels": {"x": "y"}}}));
    // test of a missing member passes against null, and a null member equals null.
    ok(
        json!({"a": null}),
        json!([{"op": "test", "path": "/b", "value": null}, {"op": "test", "path": "/a", "value": null}]),
    );
    failure(
        json!({"a": 1}),
        json!([{"op": "test", "path": "/a", "value": null}]),
    );
    failure(json!({"a": 1}), json!([{"op": "test", "path": "/a"}]));
    // copy from a missing member copies null.
    assert_eq!(
        ok(json!({}), json!([{"op": "copy", "from": "/x", "path": "/y"}])),
        json!({"y": null})
    );
    // add without a value adds null.
    assert_eq!(
        ok(json!({}), json!([{"op": "add", "path": "/y"}])),
        json!({"y": null})
    );
    // negative indices count from the end for add and remove.
    let out = ok(
        json!({"a": [1, 2, 3]}),
        json!([{"op": "remove", "path": "/a/-1"}, {"op": "add", "path": "/a/-1", "value": 9}]),
    );
    assert_eq!(out, json!({"a": [1, 2, 9]}));
    // a null patch is empty.
    assert_eq!(ok(json!({"a": 1}), Value::Null), json!({"a": 1}));
}

#[test]
fn operation_errors() {
    let doc = json!({"a": [1, 2], "s": "x"});
    let cases = [
        (
            json!([{"op": "remove", "path": "/b"}]),
            "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value",
        ),
        (
            json!([{"op": "remove", "path": "/a/5"}]),
            "Unable to access invalid index: 5",
        ),
        (
            json!([{"op": "add", "path": "/a/3", "value": 0}]),
            "Unable to access invalid index: 3",
        ),
        (
            json!([{"op": "add", "path": "/a/x", "value": 0}]),
            "value was not a proper array index: 'x'",
        ),
        (
            json!([{"op": "replace", "path": "/a/2", "value": 0}]),
            "replace operation does not apply: doc is missing key: /a/2",
        ),
        (
            json!([{"op": "replace", "path": "/a/-1", "value": 0}]),
            "doc is missing key",
        ),
        (
            json!([{"op": "add", "path": "/s/x", "value": 0}]),
            "doc is missing path",
        ),
        (
            json!([{"op": "add", "path": "", "value": 0}]),
            "doc is missing path: \"\"",
        ),
        (
            json!([{"op": "add", "path": "a", "value": 0}]),
            "doc is missing path",
        ),
        (
            json!([{"op": "add", "value": 0}]),
            "add operation failed to decode path",
        ),
        (
            json!([{"op": "move", "from": "/nope", "path": "/b"}]),
            "Unable to remove nonexistent key: nope",
        ),
        (
            json!([{"op": "move", "from": "/a", "path": "/a/0"}]),
            "doc is missing destination path: /a/0",
        ),
        (
            json!([{"op": "copy", "from": "/a/9", "path": "/b"}]),
            "error in copy for from: '/a/9'",
        ),
        (
            json!([{"op": "test", "path": "/x/y", "value": 1}]),
            "test operation does not apply: is missing path: /x/y",
        ),
        (
            json!([{"op": "frobnicate", "path": "/a"}]),
            "Unexpected kind: frobnicate",
        ),
        (json!([{"path": "/a"}]), "Unexpected kind: unknown"),
        (json!([null]), "Unexpected kind: unknown"),
    ];
    for (patch, message) in cases {
        let msg = failure(doc.clone(), patch.clone());
        assert!(msg.contains(message), "{patch}: {msg}");
    }
}

#[test]
fn a_failed_operation_leaves_nothing_half_applied() {
    let doc = json!({"a": 1});
    let patch = json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}]);
    assert!(apply_json_patch(&doc, &patch).is_err());
    assert_eq!(doc, json!({"a": 1}));
}

#[test]
fn decode_errors_and_limits() {
    let err = apply(json!({}), json!({"op": "add"})).unwrap_err();
    assert_eq!(err.code(), 400);
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
    let err = apply(json!({}), json!(["add"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal string into Go value of type jsonpatch.Operation"
    );

    let ops = vec![json!({"op": "test", "path": "/a", "value": 1}); MAX_JSON_PATCH_OPERATIONS];
    assert!(apply(json!({"a": 1}), Value::Array(ops.clone())).is_ok());
    let mut too_many = ops;
    too_many.push(json!({"op": "test", "path": "/a", "value": 1}));
    let err = apply(json!({"a": 1}), Value::Array(too_many)).unwrap_err();
    assert_eq!(
        err,
        PatchError::TooManyOperations {
            max: 10_000,
            got: 10_001
        }
    );
    assert_eq!(err.code(), 413);
    assert_eq!(err.reason(), "RequestEntityTooLarge");

    // Doubling a document with copies hits the copy limit, not the memory limit.
    let doc = json!({"a": ["x".repeat(1024)]});
    let doubling: Vec<Value> = (0..20)
        .map(|_| json!({"op": "copy", "from": "/a", "path": "/a/-"}))
        .collect();
    let msg = failure(doc, Value::Array(doubling));
    assert!(msg.starts_with("Unable to complete the copy"), "{msg}");
}

#[test]
fn documents_cannot_grow_past_the_depth_limit() {
    // The patch itself may nest MAX_DEPTH levels, so its value at most MAX_DEPTH - 2.
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH - 2 {
        deep = json!([deep]);
    }
    let doc = json!({"a": {"b": {}}});
    assert!(
        apply(
            doc.clone(),
            json!([{"op": "add", "path": "/a/b", "value": deep.clone()}])
        )
        .is_ok()
    );
    let msg = failure(doc, json!([{"op": "add", "path": "/a/b/c", "value": deep}]));
    assert!(msg.contains("would nest deeper than"), "{msg}");
    // Wrapping the document one level per round stops at the limit too.
    let rounds: Vec<Value> = (0..MAX_DEPTH + 5)
        .flat_map(|_| {
            [
                json!({"op": "add", "path": "/b", "value": {}}),
                json!({"op": "move", "from": "/a", "path": "/b/a"}),
                json!({"op": "move", "from": "/b", "path": "/a"}),
            ]
        })
        .collect();
    let msg = failure(json!({"a": {}}), Value::Array(rounds));
    assert!(msg.contains("would nest deeper than"), "{msg}");
}

#[test]
fn status_for_apply_errors_matches_upstream() {
    let err = apply(json!({}), json!([{"op": "remove", "path": "/x"}])).unwrap_err();
    assert_eq!(err.reason(), "Invalid");
    assert_eq!(
        err.status_message(),
        "the server rejected our request due to an error in our request"
    );
}

#[test]
fn managed_fields_migration_patch() {
    // The shape of kubectl's client-side → server-side apply migration (csaupgrade).
    let live = json!({"metadata": {"name": "x", "managedFields": [
        {"manager": "kubectl-client-side-apply", "operation": "Update"},
        {"manager": "kubectl", "operation": "Apply"},
    ], "resourceVersion": "5"}});
    let patch = json!([
        {"op": "replace", "path": "/metadata/managedFields", "value": [{"manager": "kubectl", "operation": "Apply"}]},
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "5"},
    ]);
    let out = ok(live, patch);
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{"manager": "kubectl", "operation": "Apply"}])
    );
}
