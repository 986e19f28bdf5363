//! `fieldValidation` (Strict, Warn, Ignore, and the Warn default) and `dryRun=All` on every
//! write path, through kube-rs and raw requests, with upstream's messages.

mod raw_support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use raw_support::send;
use rudder_testkit::TestApiServer;
use serde_json::json;

/// Upstream's integration-test body (test/integration/apiserver/field_validation_test.go).
const INVALID: &str = r#"{
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "dupename", "name": "NAME", "labels": {"app": "nginx"}, "unknownMeta": "metaVal"},
    "spec": {
        "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2",
        "paused": true, "paused": false,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{
            "name": "nginx", "image": "nginx:latest", "unknownNested": "val1",
            "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}
    }
}"#;

const ISSUES: [&str; 7] = [
    r#"duplicate field "metadata.name""#,
    r#"unknown field "metadata.unknownMeta""#,
    r#"unknown field "spec.unknown1""#,
    r#"unknown field "spec.unknownDupe""#,
    r#"duplicate field "spec.paused""#,
    r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
    r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
];

fn warning(text: &str) -> String {
    format!("299 - \"{}\"", text.replace('"', "\\\""))
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn create_and_update_report_unknown_and_duplicate_fields() {
    let server = TestApiServer::start().await;
    let body = |name: &str| INVALID.replace("NAME", name);

    let strict = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Strict"),
        "application/json",
        &body("a"),
    )
    .await;
    assert_eq!(strict.code, 400);
    assert_eq!(
        strict.body["message"],
        format!(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: {}",
            ISSUES.join(", ")
        )
    );

    // Warn is the default: one header per problem, in document order; unknown fields dropped.
    for uri in [
        format!("{DEPLOYMENTS}?fieldValidation=Warn"),
        DEPLOYMENTS.to_string(),
    ] {
        let name = if uri.contains('?') { "warned" } else { "defaulted" };
        let warned = send(&server, "POST", &uri, "application/json", &body(name)).await;
        assert_eq!(warned.code, 201, "{}", warned.body);
        let expected: Vec<String> = ISSUES.iter().map(|i| warning(i)).collect();
        assert_eq!(warned.warnings, expected);
        assert!(warned.body["metadata"].get("unknownMeta").is_none());
        assert!(warned.body["spec"].get("unknown1").is_none());
        assert_eq!(warned.body["spec"]["paused"], json!(false));
    }

    let ignored = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Ignore"),
        "application/json",
        &body("ignored"),
    )
    .await;
    assert_eq!(ignored.code, 201);
    assert!(ignored.warnings.is_empty());
    assert!(
        ignored.body["spec"].get("unknown1").is_none(),
        "dropped even when ignored"
    );

    // PUT checks the same way.
    let put = send(
        &server,
        "PUT",
        &format!("{DEPLOYMENTS}/ignored?fieldValidation=Strict"),
        "application/json",
        &body("ignored"),
    )
    .await;
    assert_eq!(put.code, 400);
    assert!(
        put.body["message"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&ISSUES.join(", "))
    );

    let bad = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Loud"),
        "application/json",
        &body("x"),
    )
    .await;
    assert_eq!(bad.code, 422);
    assert_eq!(
        bad.body["message"],
        r#"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "Ignore", "Strict", "Warn""#
    );
}

#[tokio::test]
async fn patches_report_body_duplicates_then_unknown_fields() {
    let server = TestApiServer::start().await;
    let created = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Ignore"),
        "application/json",
        &INVALID.replace("NAME", "p"),
    )
    .await;
    assert_eq!(created.code, 201);
    let patch = r#"{"spec": {"unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2",
        "paused": true, "paused": false,
        "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:latest",
            "unknownNested": "val1", "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"#;
    let issues = [
        r#"duplicate field "spec.unknownDupe""#,
        r#"duplicate field "spec.paused""#,
        r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
        r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
        r#"unknown field "spec.unknown1""#,
        r#"unknown field "spec.unknownDupe""#,
    ];
    for content_type in [
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ] {
        let strict = send(
            &server,
            "PATCH",
            &format!("{DEPLOYMENTS}/p?fieldValidation=Strict"),
            content_type,
            patch,
        )
        .await;
        assert_eq!(strict.code, 400, "{content_type}");
        assert_eq!(
            strict.body["message"],
            format!("strict decoding error: {}", issues.join(", "))
        );
        let warned = send(&server, "PATCH", &format!("{DEPLOYMENTS}/p"), content_type, patch).await;
        assert_eq!(warned.code, 200, "{}", warned.body);
        let expected: Vec<String> = issues.iter().map(|i| warning(i)).collect();
        assert_eq!(warned.warnings, expected, "{content_type}");
        assert!(warned.body["spec"].get("unknown1").is_none());
    }
}

#[tokio::test]
async fn dry_run_stores_nothing_on_any_write() {
    let server = TestApiServer::start().await;
    let client = server.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let dry_post = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let dry_patch = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1"}})).expect("cm");

    // create
    let shown = cms.create(&dry_post, &cm).await.expect("dry create");
    assert!(shown.metadata.uid.is_some(), "the response shows the result");
    assert!(cms.get_opt("c").await.expect("get").is_none());
    let stored = cms.create(&PostParams::default(), &cm).await.expect("create");
    let rv = stored.metadata.resource_version.clone();

    // update, patch, apply
    let mut changed = stored.clone();
    changed.data = Some([("a".to_string(), "2".to_string())].into());
    let shown = cms.replace("c", &dry_post, &changed).await.expect("dry update");
    assert_eq!(
        shown.data.as_ref().and_then(|d| d.get("a")).map(String::as_str),
        Some("2")
    );
    let shown = cms
        .patch("c", &dry_patch, &Patch::Merge(json!({"data": {"a": "3"}})))
        .await
        .expect("dry patch");
    assert_eq!(
        shown.data.as_ref().and_then(|d| d.get("a")).map(String::as_str),
        Some("3")
    );
    // Forced: the creator (kube-rs sends no User-Agent: manager "unknown") owns data.a.
    let apply = PatchParams {
        dry_run: true,
        ..PatchParams::apply("me").force()
    };
    let applied =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "4"}});
    let shown = cms
        .patch("c", &apply, &Patch::Apply(&applied))
        .await
        .expect("dry apply");
    assert_eq!(
        shown.data.as_ref().and_then(|d| d.get("a")).map(String::as_str),
        Some("4")
    );
    let absent =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}, "data": {"a": "5"}});
    cms.patch("new", &apply, &Patch::Apply(&absent))
        .await
        .expect("dry apply-create");
    assert!(cms.get_opt("new").await.expect("get").is_none());

    // delete and deletecollection
    let dry_delete = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    cms.delete("c", &dry_delete).await.expect("dry delete");
    cms.delete_collection(&dry_delete, &ListParams::default())
        .await
        .expect("dry deletecollection");
    let after = cms.get("c").await.expect("still there");
    assert_eq!(after.metadata.resource_version, rv, "nothing was written");
    assert_eq!(after.data.and_then(|d| d.get("a").cloned()).as_deref(), Some("1"));

    // status and scale subresources
    let deploy: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .expect("deployment");
    let stored = deploys
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create deployment");
    deploys
        .patch_status("d", &dry_patch, &Patch::Merge(json!({"status": {"replicas": 7}})))
        .await
        .expect("dry status");
    deploys
        .patch_scale("d", &dry_patch, &Patch::Merge(json!({"spec": {"replicas": 5}})))
        .await
        .expect("dry scale");
    let after = deploys.get("d").await.expect("get deployment");
    assert_eq!(after.metadata.resource_version, stored.metadata.resource_version);

    // pods/binding with dryRun is covered in pod_binding.rs, eviction in pod_eviction.rs.
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let err = pods
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            )
            .expect("pod"),
        )
        .await;
    assert!(err.is_ok());
    let bad = send(
        &server,
        "DELETE",
        "/api/v1/namespaces/default/pods/p?dryRun=Yes",
        "application/json",
        "",
    )
    .await;
    assert_eq!(bad.code, 422);
    assert_eq!(
        bad.body["message"],
        r#"DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All""#
    );
}
