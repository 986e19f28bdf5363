//! `x-kubernetes-validations` (CEL rules) of custom resources through the real HTTP API:
//! rules on objects, scalars and list items with `message`, `messageExpression`, `reason` and
//! `fieldPath`; transition rules (`oldSelf`) on updates only; runtime errors; definitions with
//! rules that do not compile refused with upstream's message; ratcheting of unchanged values
//! after a schema tightens; and stock kubectl 1.33 printing the failure of an `apply`.

mod raw_support;

use std::process::Command;
use std::time::Duration;

use raw_support::send;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const SCALERS: &str = "/apis/example.com/v1/namespaces/default/scalers";

fn spec_schema(strict: bool) -> Value {
    let mut spec = json!({
        "type": "object",
        "properties": {
            "minReplicas": {"type": "integer"},
            "maxReplicas": {"type": "integer"},
            "name": {"type": "string"},
            "mode": {"type": "string", "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "Value is immutable"}]},
            "limits": {"type": "object", "properties": {"max": {"type": "integer"}},
                       "x-kubernetes-validations": [{"rule": "self.max > 0"}]},
            "tags": {"type": "array", "items": {"type": "string",
                     "x-kubernetes-validations": [{"rule": "self.size() <= 5",
                        "messageExpression": "'tag ' + self + ' is longer than 5'"}]}},
            "note": {"type": "string"}
        },
        "x-kubernetes-validations": [
            {"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas must be <= maxReplicas"},
            {"rule": "!has(self.name) || self.name.startsWith('app-')",
             "messageExpression": "'name ' + self.name + ' must start with app-'",
             "fieldPath": ".name", "reason": "FieldValueForbidden"}
        ]
    });
    if strict {
        // Rules and limits added later: objects stored before must still be updatable.
        spec["properties"]["note"]["maxLength"] = json!(3);
        spec["properties"]["note"]["x-kubernetes-validations"] =
            json!([{"rule": "self.lowerAscii() == self", "message": "note must be lower case"}]);
    }
    json!({"type": "object", "properties": {"spec": spec}})
}

fn crd(strict: bool) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "scalers.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Scaler", "plural": "scalers"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": spec_schema(strict)}}]}
    })
}

fn scaler(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Scaler", "metadata": {"name": name}, "spec": spec})
}

/// Creates the definition and waits until its objects are served.
async fn install(server: &TestApiServer) {
    let answer = send(server, "POST", CRDS, "application/json", &crd(false).to_string()).await;
    assert_eq!(answer.code, 201, "{}", answer.body);
    rudder_testkit::eventually("scalers to be served", Duration::from_secs(10), || async {
        let answer = send(server, "GET", SCALERS, "application/json", "").await;
        (answer.code == 200).then_some(())
    })
    .await;
    // Served comes with `Established=False Installing`; the definition is only written no more
    // once Established (what `kubectl wait --for=condition=Established` waits for), so a
    // read-modify-write after this does not race the apiserver's own status write.
    let crd = format!("{CRDS}/scalers.example.com");
    rudder_testkit::eventually(
        "the definition to be Established",
        Duration::from_secs(10),
        || async {
            let answer = send(server, "GET", &crd, "application/json", "").await;
            let conditions = answer.body["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            conditions
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
                .then_some(())
        },
    )
    .await;
}

async fn create(server: &TestApiServer, obj: &Value) -> raw_support::Answer {
    send(server, "POST", SCALERS, "application/json", &obj.to_string()).await
}

async fn update(server: &TestApiServer, name: &str, spec: Value) -> raw_support::Answer {
    let current = send(
        server,
        "GET",
        &format!("{SCALERS}/{name}"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(current.code, 200, "{}", current.body);
    let mut obj = current.body;
    obj["spec"] = spec;
    send(
        server,
        "PUT",
        &format!("{SCALERS}/{name}"),
        "application/json",
        &obj.to_string(),
    )
    .await
}

fn message(answer: &raw_support::Answer) -> &str {
    answer.body["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn rules_run_on_create_and_update_with_upstream_messages() {
    let server = TestApiServer::start().await;
    install(&server).await;

    let ok = create(
        &server,
        &scaler(
            "web",
            json!({"minReplicas": 1, "maxReplicas": 3, "name": "app-web",
                                                    "mode": "fast", "tags": ["a", "bb"]}),
        ),
    )
    .await;
    assert_eq!(ok.code, 201, "{}", ok.body);
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);

    // A rule on an object: the path is the node's, the bad value its schema type.
    let bad = create(
        &server,
        &scaler("bad", json!({"minReplicas": 5, "maxReplicas": 3})),
    )
    .await;
    assert_eq!(bad.code, 422, "{}", bad.body);
    assert_eq!(bad.body["reason"], "Invalid");
    assert_eq!(
        message(&bad),
        r#"Scaler.example.com "bad" is invalid: spec: Invalid value: "object": minReplicas must be <= maxReplicas"#
    );
    assert_eq!(
        bad.body["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "spec",
                "message": "Invalid value: \"object\": minReplicas must be <= maxReplicas"}])
    );

    // messageExpression, fieldPath and reason.
    let named = create(
        &server,
        &scaler(
            "named",
            json!({"minReplicas": 1, "maxReplicas": 1, "name": "web"}),
        ),
    )
    .await;
    assert_eq!(named.code, 422, "{}", named.body);
    assert_eq!(
        message(&named),
        r#"Scaler.example.com "named" is invalid: spec.name: Forbidden: name web must start with app-"#
    );
    assert_eq!(
        named.body["details"]["causes"][0]["reason"],
        "FieldValueForbidden"
    );

    // Rules on list items (scalars): each failing item at its index.
    let tags = create(
        &server,
        &scaler(
            "tags",
            json!({"minReplicas": 1, "maxReplicas": 1,
                                                       "tags": ["ok", "toolong", "fine", "waytoolong"]}),
        ),
    )
    .await;
    assert_eq!(tags.code, 422, "{}", tags.body);
    assert_eq!(
        message(&tags),
        "Scaler.example.com \"tags\" is invalid: [spec.tags[1]: Invalid value: \"string\": tag toolong is longer than 5, spec.tags[3]: Invalid value: \"string\": tag waytoolong is longer than 5]"
    );

    // A runtime error: the rule reads a field the object does not have.
    let limits = create(
        &server,
        &scaler(
            "limits",
            json!({"minReplicas": 1, "maxReplicas": 1, "limits": {}}),
        ),
    )
    .await;
    assert_eq!(limits.code, 422, "{}", limits.body);
    assert_eq!(
        message(&limits),
        r#"Scaler.example.com "limits" is invalid: spec.limits: Invalid value: "object": no such key: max evaluating rule: self.max > 0"#
    );

    // Without a message, the message is "failed rule: <rule>".
    let zero = create(
        &server,
        &scaler(
            "zero",
            json!({"minReplicas": 1, "maxReplicas": 1, "limits": {"max": 0}}),
        ),
    )
    .await;
    assert_eq!(zero.code, 422, "{}", zero.body);
    assert_eq!(
        message(&zero),
        r#"Scaler.example.com "zero" is invalid: spec.limits: Invalid value: "object": failed rule: self.max > 0"#
    );

    // A transition rule holds on create (no old value) and binds on update.
    let immutable = update(
        &server,
        "web",
        json!({"minReplicas": 1, "maxReplicas": 3, "name": "app-web", "mode": "slow"}),
    )
    .await;
    assert_eq!(immutable.code, 422, "{}", immutable.body);
    assert_eq!(
        message(&immutable),
        r#"Scaler.example.com "web" is invalid: spec.mode: Invalid value: "string": Value is immutable"#
    );
    let other = update(
        &server,
        "web",
        json!({"minReplicas": 2, "maxReplicas": 3, "name": "app-web", "mode": "fast"}),
    )
    .await;
    assert_eq!(other.code, 200, "{}", other.body);
    assert_eq!(other.body["spec"]["minReplicas"], 2);
    // An update that breaks a plain rule fails like a create.
    let broken = update(
        &server,
        "web",
        json!({"minReplicas": 9, "maxReplicas": 3, "name": "app-web", "mode": "fast"}),
    )
    .await;
    assert_eq!(broken.code, 422, "{}", broken.body);

    // Type errors stop the rules (upstream's blocking errors).
    let typed = create(
        &server,
        &scaler("typed", json!({"minReplicas": "one", "maxReplicas": 3})),
    )
    .await;
    assert_eq!(typed.code, 422, "{}", typed.body);
    assert!(
        message(&typed).contains("some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"),
        "{}",
        message(&typed)
    );
}

#[tokio::test]
async fn definitions_with_bad_rules_are_refused() {
    let server = TestApiServer::start().await;
    let mut bad = crd(false);
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] =
        json!([{"rule": "self.minReplicas >"}]);
    let answer = send(&server, "POST", CRDS, "application/json", &bad.to_string()).await;
    assert_eq!(answer.code, 422, "{}", answer.body);
    let text = message(&answer);
    assert!(
        text.starts_with(
            "CustomResourceDefinition.apiextensions.k8s.io \"scalers.example.com\" is invalid: \
             spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: \
             Invalid value: apiextensions.ValidationRule{Rule:\"self.minReplicas >\", Message:\"\", \
             MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", \
             OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:19: Syntax error: \
             mismatched input '<EOF>' expecting"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("\n | self.minReplicas >\n | ..................^"),
        "{text}"
    );
    assert_eq!(
        answer.body["details"]["causes"][0]["field"],
        "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    );

    // Undeclared names, a bad reason, a fieldPath that names no field, optionalOldSelf on a rule
    // without oldSelf, a non-bool rule, a field the schema does not declare, operands no
    // overload takes, and a field that is not a bool.
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = json!([
        {"rule": "spec.minReplicas > 0"},
        {"rule": "self.minReplicas > 0", "reason": "FieldValueWrong", "fieldPath": ".nothing"},
        {"rule": "self.minReplicas > 0", "optionalOldSelf": true},
        {"rule": "self.minReplicas + 1"},
        {"rule": "self.minReplica > 0"},
        {"rule": "self.minReplicas <= 'a'"},
        {"rule": "self.minReplicas"}
    ]);
    let answer = send(&server, "POST", CRDS, "application/json", &bad.to_string()).await;
    assert_eq!(answer.code, 422, "{}", answer.body);
    let text = message(&answer);
    let base = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations";
    for expected in [
        format!("{base}[0].rule: Invalid value: "),
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'spec' (in container '')"
            .to_string(),
        format!(
            "{base}[1].reason: Unsupported value: \"FieldValueWrong\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
        ),
        format!(
            "{base}[1].fieldPath: Invalid value: \".nothing\": fieldPath must be a valid path: does not refer to a valid field"
        ),
        format!(
            "{base}[2].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"
        ),
        "cel expression must evaluate to a bool".to_string(),
        format!("{base}[4].rule: Invalid value: "),
        "compilation failed: ERROR: <input>:1:5: undefined field 'minReplica'\n | self.minReplica > 0\n | ....^".to_string(),
        format!("{base}[5].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.minReplicas <= 'a'\""),
        "compilation failed: ERROR: <input>:1:18: found no matching overload for '_<=_' applied to '(int, string)'\n | self.minReplicas <= 'a'\n | .................^".to_string(),
        format!("{base}[6].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.minReplicas\""),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in {text}");
    }
    let listed = send(&server, "GET", CRDS, "application/json", "").await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn unchanged_values_are_ratcheted_after_the_schema_tightens() {
    let server = TestApiServer::start().await;
    install(&server).await;
    let old = create(
        &server,
        &scaler(
            "legacy",
            json!({"minReplicas": 1, "maxReplicas": 2, "note": "UPPER CASE"}),
        ),
    )
    .await;
    assert_eq!(old.code, 201, "{}", old.body);

    // Tighten: `note` gets maxLength 3 and a lower-case rule, both of which the stored object breaks.
    let current = send(
        &server,
        "GET",
        &format!("{CRDS}/scalers.example.com"),
        "application/json",
        "",
    )
    .await;
    let mut tightened = current.body;
    tightened["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = spec_schema(true);
    let answer = send(
        &server,
        "PUT",
        &format!("{CRDS}/scalers.example.com"),
        "application/json",
        &tightened.to_string(),
    )
    .await;
    assert_eq!(answer.code, 200, "{}", answer.body);

    // New objects meet the new schema: the rule where the note fits its length...
    let fresh = scaler(
        "fresh",
        json!({"minReplicas": 1, "maxReplicas": 2, "note": "ABC"}),
    );
    rudder_testkit::eventually(
        "the tightened schema to be served",
        Duration::from_secs(10),
        || async { (create(&server, &fresh).await.code == 422).then_some(()) },
    )
    .await;
    let refused = create(&server, &fresh).await;
    assert_eq!(
        message(&refused),
        r#"Scaler.example.com "fresh" is invalid: spec.note: Invalid value: "string": note must be lower case"#
    );
    // ...and a note over its length blocks the rules (upstream's blocking errors).
    let long = scaler(
        "long",
        json!({"minReplicas": 1, "maxReplicas": 2, "note": "UPPER CASE"}),
    );
    let refused = create(&server, &long).await;
    assert_eq!(
        message(&refused),
        "Scaler.example.com \"long\" is invalid: [spec.note: Too long: may not be more than 3 bytes, \
         <nil>: Invalid value: null: some validation rules were not checked because the object was \
         invalid; correct the existing errors to complete validation]"
    );

    // The stored object can change other fields while its note stays as it was (both the
    // length and the rule are ratcheted)...
    let other = update(
        &server,
        "legacy",
        json!({"minReplicas": 2, "maxReplicas": 2, "note": "UPPER CASE"}),
    )
    .await;
    assert_eq!(other.code, 200, "{}", other.body);
    assert_eq!(other.body["spec"]["minReplicas"], 2);
    // ...but not change its note to another invalid value.
    let changed = update(
        &server,
        "legacy",
        json!({"minReplicas": 2, "maxReplicas": 2, "note": "XYZ"}),
    )
    .await;
    assert_eq!(changed.code, 422, "{}", changed.body);
    assert_eq!(
        message(&changed),
        r#"Scaler.example.com "legacy" is invalid: spec.note: Invalid value: "string": note must be lower case"#
    );
}

#[tokio::test]
async fn kubectl_apply_prints_the_rule_failure() {
    let server = TestApiServer::start().await;
    install(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    let manifest = scaler("bad", json!({"minReplicas": 5, "maxReplicas": 3}));
    std::fs::write(&file, manifest.to_string()).expect("write manifest");
    let (bin, kubeconfig) = (rudder_testkit::kubectl_binary("1.33"), server.kubeconfig.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["apply", "-n", "default", "-f"])
            .arg(&file)
            .env("HOME", std::env::temp_dir())
            .output()
            .expect("run kubectl")
    })
    .await
    .expect("kubectl task");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        r#"The Scaler "bad" is invalid: spec: Invalid value: "object": minReplicas must be <= maxReplicas"#
    );
}
