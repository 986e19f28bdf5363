//! The audit log (`--audit-log-path`, `--audit-policy-file`): upstream's audit.k8s.io/v1 events,
//! one JSON line each, at the policy's level: metadata only, request and response objects,
//! refused requests with the authorization decision, and long-running watches in two stages.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams, WatchParams};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::Value;

const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: RequestResponse
    resources: [{group: "", resources: ["configmaps"]}]
  - level: Metadata
    resources: [{group: "", resources: ["secrets"]}]
  - level: None
"#;

fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn find<'a>(all: &'a [Value], verb: &str, resource: &str, stage: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|e| e["verb"] == verb && e["objectRef"]["resource"] == resource && e["stage"] == stage)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_audited_as_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let log = dir.path().join("audit").join("audit.log");
    let (log_path, policy_path) = (log.clone(), policy.clone());
    let server = TestApiServer::start_with(move |c| {
        c.auth.audit_log_path = Some(log_path);
        c.auth.audit_policy_file = Some(policy_path);
    })
    .await;

    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("audited".into());
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(server.client.clone(), "default");
    assert!(secrets.get("missing").await.is_err());
    let bob: Api<Secret> = Api::namespaced(server.client_for("bob", &[]).await, "default");
    assert!(bob.list(&Default::default()).await.is_err(), "bob has no rights");
    let mut watch = Box::pin(cms.watch(&WatchParams::default().timeout(1), "0").await.unwrap());
    while futures::StreamExt::next(&mut watch).await.is_some() {}

    let all = eventually("audit events written", Duration::from_secs(10), || {
        let log = log.clone();
        async move {
            let all = events(&log);
            (find(&all, "watch", "configmaps", "ResponseComplete").len() == 1).then_some(all)
        }
    })
    .await;

    // RequestResponse: the create's request and response objects, managedFields omitted.
    let create = find(&all, "create", "configmaps", "ResponseComplete");
    assert_eq!(create.len(), 1, "{all:#?}");
    let create = create[0];
    assert_eq!(create["kind"], "Event");
    assert_eq!(create["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(create["level"], "RequestResponse");
    assert_eq!(create["requestURI"], "/api/v1/namespaces/default/configmaps?");
    assert_eq!(create["objectRef"]["namespace"], "default");
    assert_eq!(create["objectRef"]["apiVersion"], "v1");
    assert_eq!(create["responseStatus"]["code"], 201);
    assert_eq!(create["requestObject"]["data"]["k"], "v");
    assert_eq!(create["responseObject"]["metadata"]["name"], "audited");
    assert!(
        create["responseObject"]["metadata"]
            .get("managedFields")
            .is_none()
    );
    assert!(create["responseObject"]["metadata"]["uid"].is_string());
    assert_eq!(create["annotations"]["authorization.k8s.io/decision"], "allow");
    assert!(
        create["user"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "system:masters")
    );
    assert!(create["sourceIPs"][0] == "127.0.0.1");
    let received = find(&all, "create", "configmaps", "RequestReceived");
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["auditID"], create["auditID"],
        "one auditID per request"
    );
    assert!(received[0].get("responseStatus").is_none());

    // Metadata: no objects, the failure's status kept.
    let get = find(&all, "get", "secrets", "ResponseComplete");
    assert_eq!(get.len(), 1, "{all:#?}");
    assert_eq!(get[0]["level"], "Metadata");
    assert_eq!(get[0]["objectRef"]["name"], "missing");
    assert_eq!(get[0]["responseStatus"]["code"], 404);
    assert!(get[0].get("requestObject").is_none() && get[0].get("responseObject").is_none());

    // Refused by authorization: logged with the decision.
    let refused = find(&all, "list", "secrets", "ResponseComplete");
    assert_eq!(refused.len(), 1, "{all:#?}");
    assert_eq!(refused[0]["user"]["username"], "bob");
    assert_eq!(refused[0]["responseStatus"]["code"], 403);
    assert_eq!(refused[0]["responseStatus"]["reason"], "Forbidden");
    assert_eq!(
        refused[0]["annotations"]["authorization.k8s.io/decision"],
        "forbid"
    );

    // A watch: ResponseStarted when it begins, ResponseComplete when it ends.
    let started = find(&all, "watch", "configmaps", "ResponseStarted");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["responseStatus"]["code"], 200);

    // Level None: nothing for other resources or health checks.
    assert!(!all.iter().any(|e| e["objectRef"]["resource"] == "namespaces"));
    assert!(
        !all.iter()
            .any(|e| e["requestURI"].as_str().unwrap_or("").starts_with("/healthz"))
    );
}
