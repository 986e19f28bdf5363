//! `fieldValidation` for repeated keys in YAML bodies, as upstream's strict YAML decoding
//! (yaml.v2 through sigs.k8s.io/yaml) reports them: `Strict` → 400 naming each repeated key by
//! line, `Warn` → one `Warning` per key, `Ignore` → accepted; the last value wins either way.

mod raw_support;

use raw_support::send;
use rudder_testkit::TestApiServer;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn manifest(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: \"1\"\n  a: \"2\"\n  b: one\n  b: two\n"
    )
}

#[tokio::test]
async fn repeated_yaml_keys_follow_field_validation() {
    let server = TestApiServer::start().await;
    let yaml = "application/yaml";

    let strict = send(
        &server,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        yaml,
        &manifest("s"),
    )
    .await;
    assert_eq!(strict.code, 400, "{}", strict.body);
    assert_eq!(
        strict.body["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: yaml: unmarshal errors:\n  line 7: key \"a\" already set in map\n  line 9: key \"b\" already set in map"
    );

    // Strict also reports unknown fields, after the YAML errors.
    let unknown = format!("{}spec: {{}}\n", manifest("u"));
    let both = send(
        &server,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        yaml,
        &unknown,
    )
    .await;
    assert_eq!(both.code, 400);
    let message = both.body["message"].as_str().unwrap_or_default();
    assert!(
        message.ends_with("line 9: key \"b\" already set in map, unknown field \"spec\""),
        "{message}"
    );

    let warn = send(
        &server,
        "POST",
        &format!("{CMS}?fieldValidation=Warn"),
        yaml,
        &manifest("w"),
    )
    .await;
    assert_eq!(warn.code, 201, "{}", warn.body);
    assert_eq!(
        warn.warnings,
        [
            r#"299 - "line 7: key \"a\" already set in map""#,
            r#"299 - "line 9: key \"b\" already set in map""#
        ]
    );
    assert_eq!(
        (warn.body["data"]["a"].as_str(), warn.body["data"]["b"].as_str()),
        (Some("2"), Some("two"))
    );

    let ignore = send(
        &server,
        "POST",
        &format!("{CMS}?fieldValidation=Ignore"),
        yaml,
        &manifest("i"),
    )
    .await;
    assert_eq!(ignore.code, 201);
    assert!(ignore.warnings.is_empty(), "{:?}", ignore.warnings);

    // Server-side apply's YAML: upstream's apply patcher words it apart.
    let apply = "application/apply-patch+yaml";
    let uri = format!("{CMS}/ssa?fieldManager=test&fieldValidation=Strict");
    let refused = send(&server, "PATCH", &uri, apply, &manifest("ssa")).await;
    assert_eq!(refused.code, 400);
    assert_eq!(
        refused.body["message"],
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  line 7: key \"a\" already set in map\n  line 9: key \"b\" already set in map"
    );
    let uri = format!("{CMS}/ssa?fieldManager=test&fieldValidation=Warn");
    let applied = send(&server, "PATCH", &uri, apply, &manifest("ssa")).await;
    assert_eq!(applied.code, 201, "{}", applied.body);
    assert_eq!(applied.warnings.len(), 2, "{:?}", applied.warnings);
    assert_eq!(applied.body["data"]["a"], "2");
}
