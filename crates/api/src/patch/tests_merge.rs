//! JSON merge patch (RFC 7386), including every example of the RFC's appendix A.

use serde_json::{Value, json};

use super::*;

#[test]
fn rfc7386_appendix_a() {
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), Value::Null, Value::Null),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
        (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
        (
            json!({}),
            json!({"a": {"bb": {"ccc": null}}}),
            json!({"a": {"bb": {}}}),
        ),
    ];
    for (target, patch, expected) in cases {
        assert_eq!(
            apply_merge_patch(&target, &patch).unwrap(),
            expected,
            "{target} + {patch}"
        );
    }
}

#[test]
fn kubectl_label_and_scale_patches() {
    let live = json!({
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "be"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    });
    let out = apply_merge_patch(
        &live,
        &json!({"metadata": {"labels": {"tier": "fe", "app": null}}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
    let out = apply_merge_patch(&out, &json!({"spec": {"replicas": 3}})).unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    // Lists are replaced, never merged.
    let out = apply_merge_patch(
        &out,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "d"}]}}}}),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "d"}])
    );
}

#[test]
fn arrays_are_taken_verbatim_and_targets_untouched() {
    let target = json!({"a": 1});
    let out = apply_merge_patch(&target, &json!({"b": [null, {"c": null}]})).unwrap();
    assert_eq!(out, json!({"a": 1, "b": [null, {"c": null}]}));
    assert_eq!(target, json!({"a": 1}));
}

#[test]
fn depth_is_capped() {
    let mut deep = json!({});
    for _ in 0..MAX_DEPTH {
        deep = json!([deep]);
    }
    assert_eq!(
        apply_merge_patch(&json!({}), &deep).unwrap_err(),
        PatchError::TooDeep { max: MAX_DEPTH }
    );
    assert_eq!(
        apply_merge_patch(&deep, &json!({})).unwrap_err(),
        PatchError::TooDeep { max: MAX_DEPTH }
    );
}
