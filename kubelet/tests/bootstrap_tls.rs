//! Kubelet TLS bootstrap: started with only a bootstrap-token kubeconfig, the kubelet posts a
//! CSR, gets its client certificate once the CSR is approved and signed, writes its kubeconfig
//! and registers its Node as `system:node:<name>` (the bootstrap token could not).

use std::time::Duration;

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{ListParams, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_kubelet::config::{Config, Runtime};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("object")
}

/// Plays csrapproving and csrsigning (they live in the controller-manager): approves every
/// pending CSR through /approval and signs it with the cluster CA through /status.
async fn approve_and_sign(server_client: kube::Client, ca_cert: String, ca_key: String) {
    let api: Api<CertificateSigningRequest> = Api::all(server_client);
    loop {
        for csr in api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
        {
            let name = csr.metadata.name.clone().unwrap_or_default();
            if csr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_some() {
                continue;
            }
            let mut approved = csr.clone();
            approved.status.get_or_insert_with(Default::default).conditions = Some(vec![object(
                json!({"type": "Approved", "status": "True", "reason": "Test"}),
            )]);
            let Ok(approved) = api
                .replace_subresource("approval", &name, &PostParams::default(), &approved)
                .await
            else {
                continue;
            };
            let request = String::from_utf8(csr.spec.request.0.clone()).expect("pem");
            let params = rcgen::CertificateSigningRequestParams::from_pem(&request).expect("csr");
            let key = rcgen::KeyPair::from_pem(&ca_key).expect("CA key");
            let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, key).expect("issuer");
            let cert = params.signed_by(&issuer).expect("sign").pem();
            let mut issued = approved;
            issued.status.get_or_insert_with(Default::default).certificate =
                Some(k8s_openapi::ByteString(cert.into_bytes()));
            let _ = api.replace_status(&name, &PostParams::default(), &issued).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn kubelet_with_only_a_bootstrap_kubeconfig_registers_its_node() {
    let server = TestApiServer::start_with(|c| c.auth.enable_bootstrap_token_auth = true).await;
    let token = server
        .bootstrap_token(
            "abcdef",
            "0123456789abcdef",
            &rudder_testkit::KUBEADM_BOOTSTRAP_BINDINGS[..1],
        )
        .await;
    let pki = server.cert_dir();
    let ca_cert = std::fs::read_to_string(pki.join("ca.crt")).expect("CA");
    let ca_key = std::fs::read_to_string(pki.join("ca.key")).expect("CA key");
    let signer = tokio::spawn(approve_and_sign(server.client.clone(), ca_cert, ca_key));

    let dir = tempfile::tempdir().expect("dir");
    let bootstrap = dir.path().join("bootstrap-kubelet.conf");
    std::fs::write(
        &bootstrap,
        json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "rudder", "cluster": {"server": format!("https://{}", server.addr),
                          "certificate-authority": pki.join("ca.crt")}}],
            "users": [{"name": "tls-bootstrap-token-user", "user": {"token": token}}],
            "contexts": [{"name": "bootstrap", "context": {"cluster": "rudder", "user": "tls-bootstrap-token-user"}}],
            "current-context": "bootstrap",
        })
        .to_string(),
    )
    .expect("bootstrap kubeconfig");
    let kubeconfig = dir.path().join("kubelet.conf");
    let mut config = Config::new("boot-node");
    config.kubeconfig = Some(kubeconfig.clone());
    config.bootstrap_kubeconfig = Some(bootstrap);
    config.root_dir = dir.path().join("root");
    config.pod_logs_dir = dir.path().join("logs");
    config.node_ip = Some([127, 0, 0, 1].into());
    config.fail_swap_on = false;
    config.port = 0;
    config.runtime = Runtime::Simulated;
    config.cni.conf_dir = dir.path().join("net.d");
    let (_trigger, shutdown) = Shutdown::new();
    let kubelet = tokio::spawn(rudder_kubelet::run::run(config, shutdown));

    let nodes: Api<Node> = Api::all(server.client.clone());
    eventually(
        "the bootstrapped kubelet to register its Node",
        Duration::from_secs(30),
        || {
            let nodes = nodes.clone();
            async move { nodes.get_opt("boot-node").await.ok().flatten() }
        },
    )
    .await;
    assert!(!kubelet.is_finished(), "the kubelet keeps running");
    signer.abort();

    // The CSR came from the bootstrap token, for the node's identity.
    let csrs = Api::<CertificateSigningRequest>::all(server.client.clone())
        .list(&ListParams::default())
        .await
        .expect("csrs")
        .items;
    assert_eq!(csrs.len(), 1);
    assert_eq!(csrs[0].spec.username.as_deref(), Some("system:bootstrap:abcdef"));
    assert_eq!(
        csrs[0].spec.signer_name,
        "kubernetes.io/kube-apiserver-client-kubelet"
    );
    // The kubeconfig it wrote authenticates as the node with the stored pair.
    let current = dir.path().join("root/pki/kubelet-client-current.pem");
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(text.contains(current.to_str().expect("utf8")), "{text}");
    let pem = std::fs::read_to_string(&current).expect("pair");
    let der = rudder_component::certs::first_certificate(&pem).expect("certificate");
    let (user, groups) = rudder_component::tls::x509_identity(&der).expect("identity");
    assert_eq!(user, "system:node:boot-node");
    assert_eq!(groups, vec!["system:nodes".to_string()]);
    assert!(rudder_kubelet::bootstrap::client_certificate_valid(
        &kubeconfig,
        std::time::SystemTime::now()
    ));
}
