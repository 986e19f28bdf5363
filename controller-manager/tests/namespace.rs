//! Namespace deletion removes everything in it and the namespace itself; every namespace gets a
//! default ServiceAccount.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

#[tokio::test]
async fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let cluster = common::start(&[
        "namespace",
        "serviceaccount",
        "garbagecollector",
        "deployment",
        "replicaset",
    ])
    .await;
    let client = cluster.client.clone();
    common::namespace(&client, "doomed").await;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "doomed");
    eventually("default service account", common::WAIT, || async {
        sas.get_opt("default").await.ok().flatten()
    })
    .await;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "c"}})).expect("cm"),
    )
    .await
    .expect("configmap");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "doomed");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .expect("deployment");
    deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("deployment");
    eventually("pods", common::WAIT, || async {
        (common::pods(&client, "doomed", "app=web").await.len() == 2).then_some(())
    })
    .await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually("content removed and reported", common::WAIT, || async {
        let ns = namespaces.get_opt("doomed").await.ok()?;
        let removed = match ns {
            // Finalized and gone.
            None => true,
            Some(ns) => ns.status?.conditions?.iter().any(|c| {
                c.type_ == "NamespaceContentRemaining"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("ContentRemoved")
            }),
        };
        removed.then_some(())
    })
    .await;
    assert!(common::pods(&client, "doomed", "").await.is_empty());
    assert!(cms.get_opt("c").await.expect("get").is_none());
    assert!(deployments.get_opt("web").await.expect("get").is_none());
    assert!(
        sas.get_opt("default").await.expect("get").is_none(),
        "not recreated in a Terminating namespace"
    );
}

/// Needs the apiserver to serve `PUT /api/v1/namespaces/{name}/finalize` (it answers 405
/// MethodNotAllowed today although discovery lists the subresource).
#[tokio::test]
async fn deleted_namespace_disappears_once_empty() {
    let cluster = common::start(&["namespace"]).await;
    let client = cluster.client.clone();
    common::namespace(&client, "gone").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "gone");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "c"}})).expect("cm"),
    )
    .await
    .expect("configmap");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually("namespace gone", common::WAIT, || async {
        namespaces.get_opt("gone").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(cms.get_opt("c").await.expect("get").is_none());
}

#[tokio::test]
async fn content_with_a_finalizer_holds_the_namespace_with_conditions() {
    let cluster = common::start(&["namespace"]).await;
    let client = cluster.client.clone();
    common::namespace(&client, "held").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    let held: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
            .expect("cm");
    cms.create(&PostParams::default(), &held)
        .await
        .expect("configmap");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let ns = eventually("remaining-content conditions", common::WAIT, || async {
        let ns = namespaces.get("held").await.ok()?;
        let conditions = ns.status.as_ref()?.conditions.clone()?;
        let remaining = conditions
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")?;
        let finalizers = conditions
            .iter()
            .find(|c| c.type_ == "NamespaceFinalizersRemaining")?;
        (remaining.status == "True" && finalizers.reason.as_deref() == Some("SomeFinalizersRemain"))
            .then_some(ns)
    })
    .await;
    assert_eq!(ns.status.and_then(|s| s.phase).as_deref(), Some("Terminating"));
    assert!(
        cms.get_opt("held").await.expect("get").is_some(),
        "held by its finalizer"
    );
    // Releasing the finalizer lets the content go, and the conditions say so.
    cms.patch(
        "held",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually("content removed", common::WAIT, || async {
        let ns = namespaces.get_opt("held").await.ok()?;
        let removed = match ns {
            None => true,
            Some(ns) => ns.status?.conditions?.iter().any(|c| {
                c.type_ == "NamespaceFinalizersRemaining"
                    && c.reason.as_deref() == Some("ContentHasNoFinalizers")
            }),
        };
        removed.then_some(())
    })
    .await;
    assert!(cms.get_opt("held").await.expect("get").is_none());
}
