//! The admission chain through HTTP for cluster objects: NamespaceLifecycle, NodeRestriction,
//! TaintNodesByCondition, DefaultStorageClass, PersistentVolumeClaimResize, Priority's single
//! default, and the `--enable-admission-plugins` / `--disable-admission-plugins` flags.

mod auth_support;

use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, PersistentVolumeClaim, Pod};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use rudder_apiserver::admission::AdmissionConfig;
use rudder_apiserver::options::Options;
use rudder_testkit::TestApiServer;
use serde_json::json;

use auth_support::{namespace, object, post_json, status};

#[tokio::test]
async fn namespaces_must_exist_and_immortal_ones_stay() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "nowhere");
    let err = status(
        cms.create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "c"}})),
        )
        .await
        .expect_err("no namespace"),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );

    let namespaces: Api<Namespace> = Api::all(server.client.clone());
    for immortal in ["default", "kube-system", "kube-public"] {
        let err = status(
            namespaces
                .delete(immortal, &DeleteParams::default())
                .await
                .expect_err("immortal"),
        );
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            format!("namespaces \"{immortal}\" is forbidden: this namespace may not be deleted")
        );
    }
}

#[tokio::test]
async fn kubelets_write_only_mirror_pods_and_their_own_labels() {
    let server = TestApiServer::start().await;
    namespace(&server, "apps").await;
    let kubelet = server.client_for("system:node:n1", &["system:nodes"]).await;
    let nodes: Api<Node> = Api::all(kubelet.clone());
    let err = status(
        nodes
            .create(
                &PostParams::default(),
                &object(json!({"metadata": {"name": "n1",
                "labels": {"kubernetes.io/hostname": "n1", "node-role.kubernetes.io/control-plane": ""}}})),
            )
            .await
            .expect_err("a role label"),
    );
    assert_eq!(
        err.message,
        "nodes \"n1\" is forbidden: is not allowed to set the following labels: node-role.kubernetes.io/control-plane"
    );
    let node = nodes
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}})),
        )
        .await
        .expect("registers with kubelet labels");
    assert_eq!(
        node.spec.and_then(|s| s.taints),
        None,
        "TaintNodesByCondition is off in-process"
    );
    let taint = json!({"spec": {"taints": [{"key": "dedicated", "effect": "NoSchedule"}]}});
    let err = status(
        nodes
            .patch("n1", &PatchParams::default(), &Patch::Merge(&taint))
            .await
            .expect_err("taints"),
    );
    assert_eq!(
        err.message,
        "nodes \"n1\" is forbidden: node \"n1\" is not allowed to modify taints"
    );

    let pods: Api<Pod> = Api::namespaced(kubelet, "apps");
    let plain = object(
        json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}),
    );
    let err = status(
        pods.create(&PostParams::default(), &plain)
            .await
            .expect_err("not a mirror pod"),
    );
    assert_eq!(
        err.message,
        "pods \"p\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods"
    );
    let uid = node.metadata.uid.unwrap_or_default();
    let mirror = object(
        json!({"metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "h"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": uid, "controller": true}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}),
    );
    pods.create(&PostParams::default(), &mirror)
        .await
        .expect("a mirror pod");
}

#[tokio::test]
async fn new_nodes_are_tainted_not_ready_and_claims_get_the_default_class() {
    let server = TestApiServer::start_with(|c| c.auth.admission = AdmissionConfig::default()).await;
    let nodes: Api<Node> = Api::all(server.client.clone());
    let node = nodes
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "n1"}})),
        )
        .await
        .expect("node");
    let taints = serde_json::to_value(node.spec.and_then(|s| s.taints)).expect("json");
    assert_eq!(
        taints,
        json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    );

    namespace(&server, "data").await;
    post_json(&server.client, "/apis/storage.k8s.io/v1/storageclasses", json!({"metadata": {"name": "fast",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "example.com/fast"}))
        .await
        .expect("storage class");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(server.client.clone(), "data");
    let claim = |name: &str, class: Option<&str>| {
        let mut c = json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}});
        if let Some(class) = class {
            c["spec"]["storageClassName"] = json!(class);
        }
        object::<PersistentVolumeClaim>(c)
    };
    let defaulted = claims
        .create(&PostParams::default(), &claim("a", None))
        .await
        .expect("claim");
    assert_eq!(
        defaulted.spec.and_then(|s| s.storage_class_name).as_deref(),
        Some("fast")
    );
    let none = claims
        .create(&PostParams::default(), &claim("b", Some("")))
        .await
        .expect("claim");
    assert_eq!(none.spec.and_then(|s| s.storage_class_name).as_deref(), Some(""));

    // The class does not allow expansion: growing the claim is refused.
    let grow = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}});
    let err = status(
        claims
            .patch("a", &PatchParams::default(), &Patch::Merge(&grow))
            .await
            .expect_err("no expansion"),
    );
    assert_eq!(
        err.message,
        "persistentvolumeclaims \"a\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
    );

    // Only one default PriorityClass.
    let first = post_json(
        &server.client,
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        json!({"metadata": {"name": "first"}, "value": 10, "globalDefault": true}),
    )
    .await;
    assert!(first.is_ok());
    let err = status(
        post_json(
            &server.client,
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            json!({"metadata": {"name": "second"}, "value": 20, "globalDefault": true}),
        )
        .await
        .expect_err("second default"),
    );
    assert_eq!(
        err.message,
        "priorityclasses.scheduling.k8s.io \"second\" is forbidden: PriorityClass first is already marked as default. Only one default can exist"
    );
}

#[tokio::test]
async fn the_flags_choose_the_plugins() {
    let parse = |args: &[&str]| {
        Options::try_parse_from([&["kube-apiserver"], args].concat())
            .expect("flags parse")
            .into_config()
    };
    let config = parse(&[
        "--enable-admission-plugins=AlwaysDeny",
        "--disable-admission-plugins=PodSecurity,ResourceQuota",
    ])
    .expect("valid");
    let enabled = config.auth.admission.enabled_names();
    assert_eq!(enabled.first(), Some(&"NamespaceLifecycle"));
    assert_eq!(enabled.last(), Some(&"AlwaysDeny"));
    assert!(!enabled.contains(&"PodSecurity") && !enabled.contains(&"ResourceQuota"));
    assert!(
        enabled.contains(&"ServiceAccount"),
        "the flags' default set is upstream's"
    );
    let err = parse(&["--enable-admission-plugins=Nope"]).expect_err("unknown plugin");
    assert_eq!(
        err.to_string(),
        "enable-admission-plugins plugin \"Nope\" is unknown"
    );

    // Without NamespaceLifecycle, content may be created in a namespace that does not exist
    // (upstream's behaviour with the plugin off).
    let open =
        parse(&["--disable-admission-plugins=NamespaceLifecycle,ServiceAccount,TaintNodesByCondition"])
            .expect("valid");
    let server = TestApiServer::start_with(|c| c.auth.admission = open.auth.admission.clone()).await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "nowhere");
    cms.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": "c"}})),
    )
    .await
    .expect("no namespace check");
}
