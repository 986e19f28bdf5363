//! The kubelet's HTTPS API authenticates and authorizes every caller, against a real in-process
//! apiserver: x509 client certificates of the cluster CA, bearer tokens through TokenReview,
//! access through SubjectAccessReview (RBAC on `nodes/proxy` and friends), and the apiserver's
//! own kubelet-client identity getting through `nodes/proxy`.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};
use rudder_component::certs::{CertificateAuthority, sign_client_cert};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_kubelet::config::ServerAuth;
use rudder_kubelet::cri::fake::FakeRuntime;
use rudder_kubelet::server::auth::KubeletAuth;
use rudder_testkit::TestApiServer;
use serde_json::json;

const NODE: &str = "auth-node";

struct Fixture {
    server: TestApiServer,
    port: u16,
    dir: tempfile::TempDir,
    _trigger: ShutdownTrigger,
}

/// The apiserver, and a kubelet API server with the defaults (token webhook, Webhook
/// authorization, no anonymous) plus the cluster CA as `--client-ca-file`, reviewing as
/// `system:node:auth-node`.
async fn start() -> Fixture {
    let server = TestApiServer::start().await;
    let config = ServerAuth {
        client_ca_file: Some(server.cert_dir().join("ca.crt")),
        ..ServerAuth::default()
    };
    // The reviews are made with the kubelet's own identity, as deployed (the Node authorizer
    // lets a node create TokenReviews and SubjectAccessReviews).
    let node_client = server
        .client_for(&format!("system:node:{NODE}"), &["system:nodes"])
        .await;
    let auth = KubeletAuth::new(&config, NODE, node_client).expect("kubelet auth");
    let (trigger, shutdown) = Shutdown::new();
    let addr = rudder_kubelet::server::start(
        "127.0.0.1:0".parse().unwrap(),
        [127, 0, 0, 1].into(),
        Arc::new(FakeRuntime::simulated()),
        Arc::new(auth),
        shutdown,
    )
    .await
    .expect("start the kubelet server");
    Fixture {
        server,
        port: addr.port(),
        dir: tempfile::tempdir().unwrap(),
        _trigger: trigger,
    }
}

enum Credential {
    None,
    Cert(String, String),
    Token(String),
}

impl Fixture {
    fn cluster_ca(&self) -> CertificateAuthority {
        let pki = self.server.cert_dir();
        CertificateAuthority::load(&pki.join("ca.crt"), &pki.join("ca.key")).expect("cluster CA")
    }

    /// GET `path` on the kubelet with `credential`: (status, body).
    async fn get(&self, path: &str, credential: Credential) -> (u16, String) {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let user = match credential {
            Credential::None => json!({}),
            Credential::Cert(cert, key) => {
                json!({"client-certificate-data": b64(&cert), "client-key-data": b64(&key)})
            }
            Credential::Token(token) => json!({"token": token}),
        };
        // The kubelet's serving certificate is self-signed: not what this test is about.
        let kubeconfig = json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "k", "cluster": {
                "server": format!("https://127.0.0.1:{}", self.port), "insecure-skip-tls-verify": true}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        });
        let path_on_disk = self.dir.path().join("kubelet.kubeconfig");
        std::fs::write(&path_on_disk, kubeconfig.to_string()).unwrap();
        let client = client_from(&path_on_disk).await;
        let request = axum::http::Request::get(path)
            .body(kube::client::Body::from(Vec::new()))
            .unwrap();
        let response = client.send(request).await.expect("kubelet answered");
        let status = response.status().as_u16();
        use http_body_util::BodyExt;
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

async fn client_from(path: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_valid_credentials_get_401() {
    let f = start().await;
    assert_eq!(
        f.get("/healthz", Credential::None).await,
        (401, "Unauthorized".into())
    );
    assert_eq!(f.get("/containerLogs/default/p/c", Credential::None).await.0, 401);
    // A certificate of another CA, even for system:masters, is refused.
    let other = CertificateAuthority::generate("not-the-cluster-ca").unwrap();
    let (cert, key) = sign_client_cert(&other, "mallory", &["system:masters"]).unwrap();
    assert_eq!(
        f.get("/healthz", Credential::Cert(cert, key)).await,
        (401, "Unauthorized".into())
    );
    // A token the apiserver does not know.
    assert_eq!(
        f.get("/healthz", Credential::Token("made-up".into())).await.0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_rights_on_the_node_gets_403_with_upstreams_message() {
    let f = start().await;
    let (cert, key) = sign_client_cert(&f.cluster_ca(), "bob", &["devs"]).unwrap();
    assert_eq!(
        f.get("/exec/default/p/c", Credential::Cert(cert.clone(), key.clone()))
            .await,
        (
            403,
            "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[proxy])".into()
        )
    );
    assert_eq!(
        f.get("/stats/summary", Credential::Cert(cert.clone(), key.clone()))
            .await,
        (
            403,
            "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[stats])".into()
        )
    );
    // A certificate in system:masters of the cluster CA may do anything.
    let (cert, key) = sign_client_cert(&f.cluster_ca(), "root", &["system:masters"]).unwrap();
    assert_eq!(
        f.get("/healthz", Credential::Cert(cert, key)).await,
        (200, "ok".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_token_with_nodes_proxy_rights_gets_in_through_token_review() {
    let f = start().await;
    let client = f.server.client.clone();
    let pp = PostParams::default();
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "node-reader", "namespace": "default"}})).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), "default")
        .create(&pp, &sa)
        .await
        .unwrap();
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "node-proxy-get"},
        "rules": [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]}))
    .unwrap();
    Api::<ClusterRole>::all(client.clone())
        .create(&pp, &role)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "node-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-proxy-get"},
        "subjects": [{"kind": "ServiceAccount", "name": "node-reader", "namespace": "default"}]}))
    .unwrap();
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&pp, &binding)
        .await
        .unwrap();
    let token = Api::<ServiceAccount>::namespaced(client.clone(), "default")
        .create_token_request("node-reader", &pp, &TokenRequest::default())
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let user = "system:serviceaccount:default:node-reader";
    assert_eq!(
        f.get("/healthz", Credential::Token(token.clone())).await,
        (200, "ok".into())
    );
    // get on nodes/proxy only: stats is its own subresource.
    assert_eq!(
        f.get("/stats/summary", Credential::Token(token)).await,
        (
            403,
            format!("Forbidden (user={user}, verb=get, resource=nodes, subresource(s)=[stats])")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apiservers_kubelet_client_identity_gets_through_nodes_proxy() {
    let f = start().await;
    let nodes = Api::<Node>::all(f.server.client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": NODE}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": f.port}}}});
    nodes
        .patch_status(NODE, &Default::default(), &kube::api::Patch::Merge(status))
        .await
        .unwrap();
    let request = axum::http::Request::get(format!("/api/v1/nodes/{NODE}/proxy/healthz"))
        .body(Vec::new())
        .unwrap();
    let body = f
        .server
        .client
        .request_text(request)
        .await
        .expect("nodes/proxy through the apiserver");
    assert_eq!(body, "ok");
}
