//! The Node authorizer: a kubelet identity (`system:node:<name>` in `system:nodes`) reads only
//! what its pods use and writes only its own Node, Lease and pods.

mod auth_support;

use auth_support::{WAIT, code, namespace, object, pod, status};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

#[tokio::test]
async fn a_node_reads_only_its_pods_objects_and_writes_only_its_own() {
    let server = TestApiServer::start().await;
    namespace(&server, "apps").await;
    let admin = server.client.clone();
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "apps");
    for name in ["used", "unused"] {
        secrets
            .create(
                &PostParams::default(),
                &object(json!({"metadata": {"name": name}})),
            )
            .await
            .expect("secret");
    }
    Api::<ConfigMap>::namespaced(admin.clone(), "apps")
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "settings"}})),
        )
        .await
        .expect("configmap");
    let nodes: Api<Node> = Api::all(admin.clone());
    nodes
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "n2"}})),
        )
        .await
        .expect("other node");
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "apps");
    let mine = pod(
        "web",
        json!({"nodeName": "n1",
               "volumes": [{"name": "creds", "secret": {"secretName": "used"}}],
               "containers": [{"name": "c", "image": "busybox",
                               "envFrom": [{"configMapRef": {"name": "settings"}}]}]}),
    );
    pods.create(&PostParams::default(), &mine)
        .await
        .expect("pod on n1");
    pods.create(
        &PostParams::default(),
        &pod("elsewhere", json!({"nodeName": "n2"})),
    )
    .await
    .expect("pod on n2");

    let kubelet = server.client_for("system:node:n1", &["system:nodes"]).await;
    let node_secrets: Api<Secret> = Api::namespaced(kubelet.clone(), "apps");
    eventually("n1 reads the secret its pod mounts", WAIT, || async {
        node_secrets.get("used").await.ok()
    })
    .await;
    Api::<ConfigMap>::namespaced(kubelet.clone(), "apps")
        .get("settings")
        .await
        .expect("n1 reads the configmap its pod uses");
    let denied = status(
        node_secrets
            .get("unused")
            .await
            .expect_err("not used by n1's pods"),
    );
    assert_eq!(denied.code, 403);
    assert_eq!(
        denied.message,
        "secrets \"unused\" is forbidden: User \"system:node:n1\" cannot get resource \"secrets\" in API group \"\" in the namespace \"apps\": no relationship found between node 'n1' and this object"
    );
    assert_eq!(
        code(&node_secrets.list(&ListParams::default()).await),
        403,
        "no listing secrets"
    );
    // A watch of exactly one used secret is how kubelets follow them, and is allowed.
    let one = ListParams::default().fields("metadata.name=used");
    assert_eq!(
        node_secrets
            .list(&one)
            .await
            .expect("list one by name")
            .items
            .len(),
        1
    );

    // Its own Node: register and patch. Another node: no.
    let node_api: Api<Node> = Api::all(kubelet.clone());
    node_api
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "n1"}})),
        )
        .await
        .expect("n1 registers itself");
    let label = json!({"metadata": {"labels": {"zone": "a"}}});
    node_api
        .patch("n1", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect("n1 labels itself");
    let denied = status(
        node_api
            .patch("n2", &PatchParams::default(), &Patch::Merge(&label))
            .await
            .expect_err("n1 patches n2"),
    );
    assert_eq!(denied.code, 403);
    assert!(
        denied.message.contains("is not allowed to modify node \"n2\""),
        "{}",
        denied.message
    );
    let status_patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    assert_eq!(
        code(
            &node_api
                .patch_status("n2", &PatchParams::default(), &Patch::Merge(&status_patch))
                .await
        ),
        403
    );

    // Pod status: only pods bound to it.
    let node_pods: Api<Pod> = Api::namespaced(kubelet.clone(), "apps");
    let phase = json!({"status": {"phase": "Running"}});
    node_pods
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&phase))
        .await
        .expect("n1 reports its pod's status");
    assert_eq!(
        code(
            &node_pods
                .patch_status("elsewhere", &PatchParams::default(), &Patch::Merge(&phase))
                .await
        ),
        403
    );

    // Its own Lease only.
    let leases: Api<Lease> = Api::namespaced(kubelet.clone(), "kube-node-lease");
    leases
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}})),
        )
        .await
        .expect("own lease");
    assert_eq!(
        code(
            &leases
                .create(
                    &PostParams::default(),
                    &object(json!({"metadata": {"name": "n2"}}))
                )
                .await
        ),
        403
    );
}
