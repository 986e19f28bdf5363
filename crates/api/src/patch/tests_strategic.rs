//! Strategic merge patch behaviour, reimplementing the documented cases of upstream's
//! `strategicpatch/patch_test.go` against a schema shaped like its `MergeItem` test type.

use serde_json::{Value, json};

use super::*;

/// Upstream's `MergeItem` test struct (nested a few levels; it is recursive in Go).
fn merge_item(depth: usize) -> PatchSchema {
    let elem = if depth == 0 {
        PatchSchema::untyped()
    } else {
        merge_item(depth - 1)
    };
    let retain_keys_item = PatchSchema::builder()
        .merge_set("mergingIntList")
        .merge_list("mergingList", "name", elem.clone())
        .atomic_list("nonMergingList")
        .build();
    PatchSchema::builder()
        .merge_list("mergingList", "name", elem.clone())
        .atomic_list("nonMergingList")
        .merge_set("mergingIntList")
        .atomic_list("nonMergingIntList")
        .merge_list("mergeItemPtr", "name", elem.clone())
        .replace_object("replacingItem")
        .retain_keys_object("retainKeysMap", retain_keys_item)
        .merge_list_retain_keys("retainKeysMergingList", "name", elem)
        .build()
}

fn smp(original: Value, patch: Value) -> Value {
    match apply_strategic_merge_patch(&original, &patch, &merge_item(3)) {
        Ok(v) => v,
        Err(e) => panic!("patch {patch} on {original} failed: {e}"),
    }
}

fn smp_err(original: Value, patch: Value) -> PatchError {
    match apply_strategic_merge_patch(&original, &patch, &merge_item(3)) {
        Ok(v) => panic!("patch {patch} on {original} unexpectedly gave {v}"),
        Err(e) => e,
    }
}

fn names(list: &Value) -> Vec<Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|item| item["name"].clone())
        .collect()
}

#[test]
fn scalar_merge_lists_are_a_set_union() {
    let out = smp(
        json!({"mergingIntList": [1, 2]}),
        json!({"mergingIntList": [2, 3]}),
    );
    assert_eq!(out, json!({"mergingIntList": [1, 2, 3]}));
}

#[test]
fn non_merging_lists_are_replaced() {
    let out = smp(
        json!({"nonMergingIntList": [1, 2]}),
        json!({"nonMergingIntList": [2, 3]}),
    );
    assert_eq!(out, json!({"nonMergingIntList": [2, 3]}));
    let out = smp(
        json!({"nonMergingList": [{"name": 1}, {"name": 2, "value": 2}]}),
        json!({"nonMergingList": [{"name": 1, "value": 1}]}),
    );
    assert_eq!(out, json!({"nonMergingList": [{"name": 1, "value": 1}]}));
}

#[test]
fn null_deletes_fields_and_unmatched_nulls_are_dropped() {
    let out = smp(
        json!({"name": 1, "value": 1, "simpleMap": {"key1": 1, "key2": 1}}),
        json!({"value": null, "other": null, "simpleMap": {"key2": null, "key3": 3}}),
    );
    assert_eq!(out, json!({"name": 1, "simpleMap": {"key1": 1, "key3": 3}}));
}

#[test]
fn map_directives_delete_and_replace() {
    let out = smp(
        json!({"simpleMap": {"key1": 1, "key2": 1}}),
        json!({"simpleMap": {"$patch": "delete"}}),
    );
    assert_eq!(out, json!({"simpleMap": {}}));
    let out = smp(json!({"name": 1, "value": 1}), json!({"$patch": "replace"}));
    assert_eq!(out, json!({}));
    let out = smp(
        json!({"name": 1, "value": 1}),
        json!({"other": "a", "$patch": "replace"}),
    );
    assert_eq!(out, json!({"other": "a"}));
}

#[test]
fn replace_strategy_objects_are_not_merged() {
    let out = smp(
        json!({"replacingItem": {"a": 1, "b": 2}}),
        json!({"replacingItem": {"b": 3}}),
    );
    assert_eq!(out, json!({"replacingItem": {"b": 3}}));
}

#[test]
fn list_directives_delete_and_replace() {
    let live = json!({"mergingList": [{"name": 1}, {"name": 2}]});
    let out = smp(live.clone(), json!({"mergingList": [{"$patch": "replace"}]}));
    assert_eq!(out, json!({"mergingList": []}));
    let out = smp(
        live.clone(),
        json!({"mergingList": [{"name": 1, "$patch": "delete"}]}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": 2}]}));
    let out = smp(
        live,
        json!({"mergingList": [{"name": 3, "value": 3}, {"$patch": "replace"}]}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": 3, "value": 3}]}));
}

#[test]
fn delete_directive_removes_duplicates() {
    let live = json!({"mergingList": [
        {"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}
    ]});
    let out = smp(
        live,
        json!({"mergingList": [
            {"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}
        ]}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": 2, "value": "a"}]}));
}

#[test]
fn merge_lists_of_maps_by_key() {
    let out = smp(
        json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
        json!({"mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": null}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 1, "value": 1, "other": "a"}, {"name": 2, "other": "b"}]})
    );
}

#[test]
fn order_of_patch_items_is_preserved() {
    // "preserve the order from the patch in a merging list"
    let live = json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]});
    let out = smp(
        live.clone(),
        json!({"mergingList": [
            {"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}
        ]}),
    );
    assert_eq!(
        out["mergingList"],
        json!([
            {"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}
        ])
    );
    // "... 2": the untouched item keeps its place relative to the patched ones.
    let out = smp(
        live,
        json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
    );
    assert_eq!(
        out["mergingList"],
        json!([
            {"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}
        ])
    );
    let out = smp(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"mergingIntList": [3, 1]}),
    );
    assert_eq!(out, json!({"mergingIntList": [2, 3, 1]}));
}

#[test]
fn new_items_without_order_directive_go_first() {
    let out = smp(
        json!({"mergingList": [{"name": 1}, {"name": 2}]}),
        json!({"mergingList": [{"name": 3}]}),
    );
    assert_eq!(names(&out["mergingList"]), [json!(3), json!(1), json!(2)]);
}

#[test]
fn set_element_order_orders_merged_list() {
    // "merge lists of maps"
    let out = smp(
        json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
        }),
    );
    assert_eq!(
        out,
        json!({"mergingList": [
            {"name": 4, "value": 4},
            {"name": 1, "other": "a"},
            {"name": 2, "value": 2, "other": "b"},
            {"name": 3, "value": 3},
        ]})
    );
}

#[test]
fn set_element_order_interleaves_server_only_items() {
    // "add map and delete map from merging list"
    let out = smp(
        json!({"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}],
        }),
    );
    assert_eq!(
        out,
        json!({"mergingList": [
            {"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}
        ]})
    );
    // "... with conflict"
    let out = smp(
        json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
            "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}],
        }),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]})
    );
    // "delete missing map from merging list with conflict"
    let out = smp(
        json!({"mergingList": [{"name": 3, "other": "a"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 2}],
            "mergingList": [{"name": 2}, {"name": 1, "$patch": "delete"}],
        }),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 2}, {"name": 3, "other": "a"}]})
    );
}

#[test]
fn set_element_order_without_list_reorders_live_items() {
    let out = smp(
        json!({"mergingList": [{"name": 1}, {"name": 3}]}),
        json!({"$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}]}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": 3}, {"name": 1}]}));
    let out = smp(
        json!({"mergingIntList": [1, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
    );
    assert_eq!(out, json!({"mergingIntList": [3, 1]}));
    // "delete and reorder in one list, reorder in another"
    let out = smp(
        json!({
            "mergingList": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}],
            "mergeItemPtr": [{"name": "c", "value": "c"}, {"name": "d", "value": "d"}],
        }),
        json!({
            "$setElementOrder/mergingList": [{"name": "b"}],
            "$setElementOrder/mergeItemPtr": [{"name": "d"}, {"name": "c"}],
            "mergingList": [{"$patch": "delete", "name": "a"}],
        }),
    );
    assert_eq!(
        out,
        json!({
            "mergingList": [{"name": "b", "value": "b"}],
            "mergeItemPtr": [{"name": "d", "value": "d"}, {"name": "c", "value": "c"}],
        })
    );
}

#[test]
fn set_element_order_must_agree_with_patch_list() {
    let err = smp_err(
        json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}],
        }),
    );
    assert!(err.to_string().contains("doesn't match"), "{err}");
    assert_eq!(err.code(), 500);
    let err = smp_err(
        json!({"mergingIntList": [1, 3, 2]}),
        json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
    );
    assert!(err.to_string().contains("doesn't match"), "{err}");
}

#[test]
fn delete_from_primitive_list() {
    // "delete items in lists of scalars" / "delete all duplicate items in lists of scalars"
    let out = smp(
        json!({"mergingIntList": [1, 2, 3, 3, 4]}),
        json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
    );
    assert_eq!(out, json!({"mergingIntList": [1, 2, 4]}));
    // "add and delete items in lists of scalars"
    let out = smp(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({
            "$setElementOrder/mergingIntList": [1, 2, 4],
            "$deleteFromPrimitiveList/mergingIntList": [3],
            "mergingIntList": [4],
        }),
    );
    assert_eq!(out, json!({"mergingIntList": [1, 2, 4]}));
    // Nothing to delete from: no-op.
    let out = smp(
        json!({"name": 1}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
    );
    assert_eq!(out, json!({"name": 1}));
}

#[test]
fn nested_merge_lists_with_their_own_order() {
    // "add field to map in merging list nested in merging list"
    let out = smp(
        json!({"mergingList": [
            {"name": 1, "other": "a", "mergingList": [{"name": 1}, {"name": 2, "value": 2}]},
            {"name": 2, "other": "b"},
        ]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
            "mergingList": [{
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "name": 1,
                "mergingList": [{"name": 1, "value": 1}],
            }],
        }),
    );
    assert_eq!(
        out,
        json!({"mergingList": [
            {"name": 1, "other": "a", "mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}]},
            {"name": 2, "other": "b"},
        ]})
    );
}

#[test]
fn retain_keys_on_maps() {
    let live = json!({"retainKeysMap": {"name": "foo", "value": "a", "other": "x"}});
    // Without the directive the map merges normally.
    let out = smp(live.clone(), json!({"retainKeysMap": {"value": "b"}}));
    assert_eq!(
        out,
        json!({"retainKeysMap": {"name": "foo", "value": "b", "other": "x"}})
    );
    // With it, unlisted live fields are cleared.
    let out = smp(
        live.clone(),
        json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "b"}}),
    );
    assert_eq!(out, json!({"retainKeysMap": {"name": "foo", "value": "b"}}));
    // Null and directive keys need not be listed.
    let out = smp(
        live.clone(),
        json!({"retainKeysMap": {
            "$retainKeys": ["name", "mergingIntList"],
            "value": null,
            "$setElementOrder/mergingIntList": [2],
            "mergingIntList": [2],
        }}),
    );
    assert_eq!(
        out,
        json!({"retainKeysMap": {"name": "foo", "mergingIntList": [2]}})
    );
    // A patched field missing from the list is a malformed patch.
    let err = smp_err(
        live.clone(),
        json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "b"}}),
    );
    assert_eq!(err, PatchError::BadRetainKeysFormat);
    assert_eq!(err.code(), 400);
    let err = smp_err(live, json!({"retainKeysMap": {"$retainKeys": "name"}}));
    assert_eq!(err, PatchError::BadRetainKeysFormat);
}

#[test]
fn retain_keys_in_merge_list_items() {
    // "retainKeys list of maps adds a field and clear a field"
    let out = smp(
        json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "other": "x"}]}),
        json!({
            "$setElementOrder/retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}],
            "retainKeysMergingList": [{"$retainKeys": ["name", "value"], "name": "foo", "value": "a"}],
        }),
    );
    assert_eq!(
        out,
        json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]})
    );
}

#[test]
fn type_changes_take_the_patch_value() {
    let out = smp(
        json!({"simpleMap": {"a": 1}, "name": "x"}),
        json!({"simpleMap": "s", "name": {"b": null, "c": 1}}),
    );
    assert_eq!(out, json!({"simpleMap": "s", "name": {"c": 1}}));
}

#[test]
fn directives_in_new_content_are_interpreted_not_stored() {
    let out = smp(
        json!({}),
        json!({
            "simpleMap": {"$patch": "delete"},
            "mergingList": [{"name": 1, "value": null}, {"name": 2, "$patch": "delete"}],
            "other": {"$patch": "replace", "a": {"b": null}},
        }),
    );
    assert_eq!(
        out,
        json!({"simpleMap": {}, "mergingList": [{"name": 1}], "other": {"a": {}}})
    );
}

#[test]
fn null_and_empty_patches() {
    let live = json!({"name": 1, "mergingList": []});
    assert_eq!(smp(live.clone(), Value::Null), live);
    assert_eq!(smp(live.clone(), json!({})), live);
    assert_eq!(smp(live.clone(), json!({"mergingList": []})), live);
}

#[test]
fn malformed_patches_are_rejected() {
    let live = json!({"mergingList": [{"name": 1, "value": "a"}], "mergingIntList": [1]});
    let cases = [
        (json!([1]), "invalid JSON document", 400),
        (
            json!({"mergingList": [{"value": "b"}]}),
            "does not contain declared merge key: name",
            500,
        ),
        (json!({"$patch": "merge"}), "unknown patch type: merge", 500),
        (
            json!({"simpleMap": {"$patch": "bogus"}}),
            "unknown patch type: bogus",
            500,
        ),
        (
            json!({"mergingList": [{"$patch": "merge"}]}),
            "merging lists cannot yet be specified",
            500,
        ),
        (
            json!({"mergingList": [{"name": 2, "$patch": "bogus"}]}),
            "unknown patch type: bogus",
            500,
        ),
        (
            json!({"mergingList": [1]}),
            "list element types are not identical",
            500,
        ),
        (
            json!({"mergingIntList": [[1]]}),
            "list element types are not identical",
            500,
        ),
        (
            json!({"mergeItemPtr": [[1]]}),
            "lists of lists are not supported",
            422,
        ),
        (
            json!({"$setElementOrder": []}),
            "invalid patch format of setElementOrder list",
            400,
        ),
        (
            json!({"$setElementOrder/mergingList": "x"}),
            "expected a []interface {}",
            500,
        ),
        (
            json!({"$deleteFromPrimitiveList": [1]}),
            "invalid patch format of primitive list",
            400,
        ),
        (
            json!({"$deleteFromPrimitiveList/mergingIntList": 1}),
            "invalid patch format of primitive list",
            400,
        ),
        (
            json!({"$deleteFromPrimitiveList/mergingList": [{"name": 1}]}),
            "invalid patch format of primitive list",
            400,
        ),
    ];
    for (patch, message, code) in cases {
        let err = smp_err(live.clone(), patch.clone());
        assert!(err.to_string().contains(message), "{patch}: {err}");
        assert_eq!(err.code(), code, "{patch}: {err}");
    }
    let err = smp_err(json!("not an object"), json!({}));
    assert_eq!(err, PatchError::BadJsonDocument);
}

#[test]
fn merge_list_without_merge_key_is_an_error() {
    let schema = PatchSchema::builder().merge_set("items").build();
    let err = apply_strategic_merge_patch(
        &json!({"items": [{"a": 1}]}),
        &json!({"items": [{"a": 2}]}),
        &schema,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot merge lists without merge key"),
        "{err}"
    );
}

#[test]
fn depth_is_capped() {
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH + 1 {
        deep = json!({ "a": deep });
    }
    let err = apply_strategic_merge_patch(&json!({}), &deep, &PatchSchema::untyped()).unwrap_err();
    assert_eq!(err, PatchError::TooDeep { max: MAX_DEPTH });
    assert_eq!(err.code(), 400);
    // Dismantle iteratively so the test itself cannot overflow the stack.
    let mut stack = vec![deep];
    while let Some(mut v) = stack.pop() {
        if let Some(map) = v.as_object_mut() {
            stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v));
        }
    }
}

/// At the depth limit every entry point must still fit in a 2 MiB stack (tokio's default
/// worker stack), even in a debug build.
#[test]
fn maximum_depth_fits_a_small_stack() {
    let run = || {
        let mut object = json!("leaf");
        let mut patch = json!({"$patch": "replace", "leaf": [1, 2]});
        for i in 0..MAX_DEPTH - 2 {
            object = json!({ "a": object, "n": i });
            patch = json!({ "a": patch, "mergingList": [{"name": i}] });
        }
        let schema = merge_item(3);
        let merged = apply_strategic_merge_patch(&object, &patch, &schema).unwrap();
        let fresh = apply_strategic_merge_patch(&json!({}), &patch, &schema).unwrap();
        let merge = apply_merge_patch(&object, &patch).unwrap();
        let json_patch = apply_json_patch(
            &object,
            &json!([{"op": "test", "path": "/n", "value": MAX_DEPTH - 3}]),
        );
        assert!(json_patch.is_ok());
        assert_ne!(merged, fresh);
        assert_ne!(merge, object);
    };
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(run)
        .unwrap();
    handle.join().expect("deep patches overflowed a 2 MiB stack");
}
