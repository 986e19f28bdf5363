//! root-ca-cert-publisher: every namespace gets `kube-root-ca.crt` with the cluster CA; it is
//! recreated when deleted and restored when changed.

mod common;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

const NAME: &str = "kube-root-ca.crt";

/// Runs only the publisher against `server`, with `root_ca_file` if given.
fn run_publisher(
    server: &TestApiServer,
    root_ca_file: Option<std::path::PathBuf>,
) -> rudder_component::shutdown::ShutdownTrigger {
    run_publisher_as(server, server.kubeconfig.clone(), root_ca_file)
}

fn run_publisher_as(
    server: &TestApiServer,
    kubeconfig: std::path::PathBuf,
    root_ca_file: Option<std::path::PathBuf>,
) -> rudder_component::shutdown::ShutdownTrigger {
    let mut config = Config::for_tests(&["root-ca-cert-publisher"]);
    config.kubeconfig = Some(kubeconfig.clone());
    config.controllers_config.kubeconfig = Some(server.kubeconfig.clone());
    config.controllers_config.root_ca_file = root_ca_file;
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        if let Err(e) = rudder_controller_manager::run(config, shutdown).await {
            panic!("controller-manager: {e}");
        }
    });
    trigger
}

async fn ca_in(client: &kube::Client, ns: &str) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    api.get_opt(NAME)
        .await
        .ok()
        .flatten()
        .and_then(|cm| cm.data)
        .and_then(|d| d.get("ca.crt").cloned())
}

#[tokio::test]
async fn publishes_the_kubeconfig_ca_in_every_namespace() {
    let server = TestApiServer::start().await;
    let _stop = run_publisher(&server, None);
    let client = server.client.clone();
    let expected = std::fs::read_to_string(server.cert_dir().join("ca.crt")).expect("server CA");
    for ns in ["default", "kube-system"] {
        let got = eventually(&format!("{NAME} in {ns}"), common::WAIT, || ca_in(&client, ns)).await;
        assert_eq!(got.trim(), expected.trim(), "{ns}");
    }
    common::namespace(&client, "later").await;
    let got = eventually("kube-root-ca.crt in a new namespace", common::WAIT, || {
        ca_in(&client, "later")
    })
    .await;
    assert_eq!(got.trim(), expected.trim());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "later");
    let cm = api.get(NAME).await.expect("configmap");
    let ann = cm.metadata.annotations.unwrap_or_default();
    assert!(
        ann.get("kubernetes.io/description")
            .is_some_and(|d| d.contains("kube-apiserver")),
        "description annotation: {ann:?}"
    );
}

#[tokio::test]
async fn root_ca_file_wins_and_deleted_or_changed_copies_come_back() {
    let server = TestApiServer::start().await;
    let dir = tempfile_dir();
    let file = dir.join("root-ca.pem");
    let pem = "-----BEGIN CERTIFICATE-----\nUm9vdENBRm9yVGVzdHM=\n-----END CERTIFICATE-----\n";
    std::fs::write(&file, pem).expect("write CA file");
    let _stop = run_publisher(&server, Some(file));
    let client = server.client.clone();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let got = eventually("published", common::WAIT, || ca_in(&client, "default")).await;
    assert_eq!(got, pem);

    api.delete(NAME, &DeleteParams::default()).await.expect("delete");
    let got = eventually("recreated after deletion", common::WAIT, || async {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        // A new object (new uid) with the CA again.
        api.get_opt(NAME)
            .await
            .ok()
            .flatten()
            .and_then(|cm| cm.data)
            .and_then(|d| d.get("ca.crt").cloned())
    })
    .await;
    assert_eq!(got, pem);

    let patch = json!({"data": {"ca.crt": "tampered", "extra": "x"}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("tamper");
    eventually("restored after a change", common::WAIT, || async {
        let cm = api.get(NAME).await.ok()?;
        let data = cm.data.unwrap_or_default();
        (data.get("ca.crt").map(String::as_str) == Some(pem) && data.len() == 1).then_some(())
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// As on a fresh VM cluster: the controller-manager runs as `system:kube-controller-manager`
/// before the installer has bound the controller roles. Its first creates are refused (403);
/// once the role is bound, the retried syncs publish the CA.
#[tokio::test]
async fn a_create_refused_by_rbac_is_retried_until_the_role_is_bound() {
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    use kube::api::PostParams;

    let server = TestApiServer::start().await;
    let user = "system:kube-controller-manager";
    let kubeconfig = server.user_kubeconfig(user, &[]);
    let _stop = run_publisher_as(&server, kubeconfig, None);
    let client = server.client.clone();
    let as_user = server.client_for(user, &[]).await;
    let refused = Api::<ConfigMap>::namespaced(as_user, "default")
        .create(&PostParams::default(), &ConfigMap::default())
        .await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
        "the user may not create configmaps yet: {refused:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        ca_in(&client, "default").await,
        None,
        "nothing published while refused"
    );

    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "publisher-for-test"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:controller:root-ca-cert-publisher"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
    .expect("binding");
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("bind the role");
    eventually("published once the role is bound", common::WAIT, || {
        ca_in(&client, "default")
    })
    .await;
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rootca-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
