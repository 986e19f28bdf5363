//! csrapproving + csrsigning: a kubelet client CSR posted with a bootstrap token is approved
//! (the token's group may create `certificatesigningrequests/nodeclient`) and signed by the
//! cluster CA; a request for someone else's identity is not approved.

mod common;

use std::time::Duration;

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::Api;
use kube::api::PostParams;
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("object")
}

fn request(cn: &str, org: &str) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, org);
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.serialize_request(&key).expect("csr").pem().expect("pem")
}

fn csr(name: &str, pem: &str) -> CertificateSigningRequest {
    object(json!({
        "metadata": {"name": name},
        "spec": {
            "request": base64_encode(pem.as_bytes()),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }))
}

fn base64_encode(bytes: &[u8]) -> String {
    let bs = k8s_openapi::ByteString(bytes.to_vec());
    serde_json::to_value(bs)
        .expect("b64")
        .as_str()
        .expect("string")
        .to_string()
}

#[tokio::test]
async fn bootstrap_token_csr_is_approved_and_signed_by_the_cluster_ca() {
    approved_and_signed(false).await;
}

/// The same with each controller as `kube-system/certificate-controller`: its default role is
/// enough to review, approve and sign.
#[tokio::test]
async fn the_certificate_controller_account_may_approve_and_sign() {
    approved_and_signed(true).await;
}

async fn approved_and_signed(use_service_account_credentials: bool) {
    let server = TestApiServer::start_with(|c| c.auth.enable_bootstrap_token_auth = true).await;
    let token = server
        .bootstrap_token(
            "abcdef",
            "0123456789abcdef",
            rudder_testkit::KUBEADM_BOOTSTRAP_BINDINGS,
        )
        .await;
    let pki = server.cert_dir();
    let mut config = Config::for_tests(&["csrapproving", "csrsigning"]);
    config.kubeconfig = Some(server.kubeconfig.clone());
    config.use_service_account_credentials = use_service_account_credentials;
    config.controllers_config.cluster_signing_cert_file = Some(pki.join("ca.crt"));
    config.controllers_config.cluster_signing_key_file = Some(pki.join("ca.key"));
    let (trigger, shutdown) = Shutdown::new();
    let _stop = scopeguard(trigger);
    tokio::spawn(rudder_controller_manager::run(config, shutdown));

    let node = server.token_client(&token).await;
    let csrs: Api<CertificateSigningRequest> = Api::all(node.clone());
    // The token Secret reaches the authenticator's cache shortly after it is written.
    let created = eventually("the bootstrap token to post a CSR", common::WAIT, || {
        let csrs = csrs.clone();
        async move {
            csrs.create(
                &PostParams::default(),
                &csr("node-csr-n1", &request("system:node:n1", "system:nodes")),
            )
            .await
            .ok()
        }
    })
    .await;
    let spec = &created.spec;
    assert_eq!(spec.username.as_deref(), Some("system:bootstrap:abcdef"));
    assert!(
        spec.groups
            .as_ref()
            .is_some_and(|g| g.iter().any(|g| g == "system:bootstrappers"))
    );
    // Not a node identity: recognised by nobody, so never approved.
    csrs.create(
        &PostParams::default(),
        &csr("node-csr-evil", &request("system:admin", "system:masters")),
    )
    .await
    .expect("create the other CSR");

    let admin: Api<CertificateSigningRequest> = Api::all(server.client.clone());
    let signed = eventually(
        "the CSR to be approved and signed",
        Duration::from_secs(20),
        || {
            let admin = admin.clone();
            async move {
                let csr = admin.get("node-csr-n1").await.ok()?;
                csr.status.as_ref()?.certificate.as_ref()?;
                Some(csr)
            }
        },
    )
    .await;
    let status = signed.status.expect("status");
    let approved = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Approved")
        .expect("approved");
    assert_eq!(approved.reason.as_deref(), Some("AutoApproved"));
    assert!(approved.last_update_time.is_some());
    let pem = String::from_utf8(status.certificate.expect("certificate").0).expect("pem");
    let der = rudder_component::certs::first_certificate(&pem).expect("certificate PEM");
    let ca_pem = std::fs::read(pki.join("ca.crt")).expect("CA");
    rudder_component::tls::ClientCa::from_pem(&ca_pem)
        .expect("CA")
        .verify(std::slice::from_ref(&der))
        .expect("the certificate chains to the cluster CA");
    let (user, groups) = rudder_component::tls::x509_identity(&der).expect("identity");
    assert_eq!(user, "system:node:n1");
    assert_eq!(groups, vec!["system:nodes".to_string()]);

    // Created before the node CSR was signed, so the approver has most likely looked at it
    // already; whenever it does, it must not approve it.
    let evil = admin.get("node-csr-evil").await.expect("other CSR");
    let conditions = evil.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(conditions.iter().all(|c| c.type_ != "Approved"), "{conditions:?}");
}

/// Stops the controllers when the test ends, pass or fail.
fn scopeguard(trigger: rudder_component::shutdown::ShutdownTrigger) -> impl Drop {
    struct Guard(rudder_component::shutdown::ShutdownTrigger);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.trigger();
        }
    }
    Guard(trigger)
}
