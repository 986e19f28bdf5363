//! The CertificateSigningRequest API that TLS bootstrap relies on: the requester is recorded
//! from the credentials, `/approval` changes only the conditions, `/status` cannot approve and
//! sets the certificate once, and the main resource changes neither.

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::Api;
use kube::api::PostParams;
use rudder_testkit::TestApiServer;
use serde_json::json;

fn request_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "system:node:n1");
    params.serialize_request(&key).expect("csr").pem().expect("pem")
}

fn b64(bytes: &[u8]) -> String {
    serde_json::to_value(k8s_openapi::ByteString(bytes.to_vec()))
        .expect("b64")
        .as_str()
        .expect("string")
        .to_string()
}

fn code(result: Result<CertificateSigningRequest, kube::Error>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(kube::Error::Api(status)) => status.code,
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn with_conditions(
    csr: &CertificateSigningRequest,
    conditions: serde_json::Value,
) -> CertificateSigningRequest {
    let mut value = serde_json::to_value(csr).expect("json");
    value["status"]["conditions"] = conditions;
    serde_json::from_value(value).expect("csr")
}

#[tokio::test]
async fn csr_subresources_follow_upstream_rules() {
    let server = TestApiServer::start().await;
    let api: Api<CertificateSigningRequest> = Api::all(server.client.clone());
    let body: CertificateSigningRequest = serde_json::from_value(json!({
        "metadata": {"name": "c1"},
        "spec": {"request": b64(request_pem().as_bytes()),
                 "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                 "usages": ["digital signature", "client auth"],
                 "username": "someone-else", "groups": ["system:nodes"]},
        "status": {"conditions": [{"type": "Approved", "status": "True"}]},
    }))
    .expect("csr");
    let created = api.create(&PostParams::default(), &body).await.expect("create");
    assert_ne!(created.spec.username.as_deref(), Some("someone-else"));
    let groups = created.spec.groups.clone().unwrap_or_default();
    assert!(groups.iter().any(|g| g == "system:masters"), "{groups:?}");
    assert!(
        created
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_none()
    );

    // Server-side apply creates go the same way.
    let applied = api
        .patch(
            "c2",
            &kube::api::PatchParams::apply("test"),
            &kube::api::Patch::Apply(json!({
                "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": "c2"},
                "spec": {"request": b64(request_pem().as_bytes()),
                         "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                         "usages": ["digital signature", "client auth"],
                         "username": "system:node:n1", "groups": ["system:nodes"]},
            })),
        )
        .await
        .expect("apply");
    assert_eq!(applied.spec.username, created.spec.username);

    let approved = json!([{"type": "Approved", "status": "True", "reason": "Test", "message": "ok"}]);
    // /status may not approve.
    let via_status = api
        .replace_status(
            "c1",
            &PostParams::default(),
            &with_conditions(&created, approved.clone()),
        )
        .await;
    assert_eq!(code(via_status), 422);
    // The main resource ignores status changes.
    let via_main = api
        .replace(
            "c1",
            &PostParams::default(),
            &with_conditions(&created, approved.clone()),
        )
        .await
        .expect("update");
    assert!(
        via_main
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_none()
    );
    // /approval approves, and stamps the condition.
    let current = api.get("c1").await.expect("get");
    let done = api
        .replace_subresource(
            "approval",
            "c1",
            &PostParams::default(),
            &with_conditions(&current, approved),
        )
        .await
        .expect("approve");
    let condition = &done
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .expect("conditions")[0];
    assert_eq!(condition.type_, "Approved");
    assert!(condition.last_update_time.is_some() && condition.last_transition_time.is_some());
    // Approved and Denied exclude each other.
    let both = json!([{"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]);
    let result = api
        .replace_subresource(
            "approval",
            "c1",
            &PostParams::default(),
            &with_conditions(&done, both),
        )
        .await;
    assert_eq!(code(result), 422);

    // /status sets the certificate once approved, and only once.
    let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    let mut issued = done.clone();
    issued.status.as_mut().expect("status").certificate = Some(k8s_openapi::ByteString(cert.into()));
    let issued = api
        .replace_status("c1", &PostParams::default(), &issued)
        .await
        .expect("issue");
    let mut changed = issued.clone();
    changed.status.as_mut().expect("status").certificate =
        Some(k8s_openapi::ByteString(cert.replace("MAA=", "MAE=").into()));
    assert_eq!(
        code(api.replace_status("c1", &PostParams::default(), &changed).await),
        422
    );
}
