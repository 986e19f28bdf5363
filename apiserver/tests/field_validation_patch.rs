//! `fieldValidation` on patches, as upstream's patch handler: JSON patches are strict-decoded as
//! operation lists (`json patch unknown field "[0].foo"`), and what any patch (JSON, merge)
//! puts into the object is checked on the patched result (`unknown field "spec.foo"`).

mod raw_support;

use raw_support::send;
use rudder_testkit::TestApiServer;

const CM: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#;
const URI: &str = "/api/v1/namespaces/default/configmaps/cm";

#[tokio::test]
async fn patches_are_checked_on_the_operations_and_on_the_result() {
    let server = TestApiServer::start().await;
    let created = send(
        &server,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        CM,
    )
    .await;
    assert_eq!(created.code, 201);
    let json_patch = "application/json-patch+json";
    let merge = "application/merge-patch+json";

    // An unknown field in an operation's value lands in the patched object.
    let adds_unknown = r#"[{"op":"add","path":"/spec","value":{"x":1}}]"#;
    let strict = send(
        &server,
        "PATCH",
        &format!("{URI}?fieldValidation=Strict"),
        json_patch,
        adds_unknown,
    )
    .await;
    assert_eq!(strict.code, 400, "{}", strict.body);
    assert_eq!(
        strict.body["message"],
        r#"strict decoding error: unknown field "spec""#
    );
    let warn = send(
        &server,
        "PATCH",
        &format!("{URI}?fieldValidation=Warn"),
        json_patch,
        adds_unknown,
    )
    .await;
    assert_eq!(warn.code, 200, "{}", warn.body);
    assert_eq!(warn.warnings, [r#"299 - "unknown field \"spec\"""#]);
    assert!(warn.body.get("spec").is_none(), "dropped: {}", warn.body);

    // Unknown keys of an operation itself.
    let odd_op = r#"[{"op":"replace","path":"/data/a","value":"2","note":"x"}]"#;
    let strict = send(
        &server,
        "PATCH",
        &format!("{URI}?fieldValidation=Strict"),
        json_patch,
        odd_op,
    )
    .await;
    assert_eq!(strict.code, 400, "{}", strict.body);
    assert_eq!(
        strict.body["message"],
        r#"strict decoding error: json patch unknown field "[0].note""#
    );
    let ignored = send(
        &server,
        "PATCH",
        &format!("{URI}?fieldValidation=Ignore"),
        json_patch,
        odd_op,
    )
    .await;
    assert_eq!(ignored.code, 200);
    assert!(ignored.warnings.is_empty());
    assert_eq!(ignored.body["data"]["a"], "2");

    // Merge patches: the same check on the result, and repeated keys of the body first.
    let merge_unknown = r#"{"data":{"a":"3"},"spec":{"x":1}}"#;
    let strict = send(
        &server,
        "PATCH",
        &format!("{URI}?fieldValidation=Strict"),
        merge,
        merge_unknown,
    )
    .await;
    assert_eq!(strict.code, 400);
    assert_eq!(
        strict.body["message"],
        r#"strict decoding error: unknown field "spec""#
    );
    let both = r#"{"data":{"a":"3","a":"4"},"spec":{}}"#;
    let strict = send(
        &server,
        "PATCH",
        &format!("{URI}?fieldValidation=Strict"),
        merge,
        both,
    )
    .await;
    assert_eq!(
        strict.body["message"],
        r#"strict decoding error: duplicate field "data.a", unknown field "spec""#
    );
}
