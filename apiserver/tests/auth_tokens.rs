//! Service-account tokens: TokenRequest (`kubectl create token`), authentication with them,
//! and their refusal when expired, for another audience, or when what they are bound to is gone.

mod auth_support;

use auth_support::{WAIT, code, namespace, object, pod, post_json, status};
use base64::Engine;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

async fn request_token(
    server: &TestApiServer,
    ns: &str,
    sa: &str,
    spec: Value,
) -> Result<TokenRequest, kube::Error> {
    Api::<ServiceAccount>::namespaced(server.client.clone(), ns)
        .create_token_request(sa, &PostParams::default(), &object(json!({"spec": spec})))
        .await
}

async fn whoami(client: kube::Client) -> Result<SelfSubjectReview, kube::Error> {
    Api::<SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &object(json!({})))
        .await
}

fn token_of(request: &TokenRequest) -> String {
    request.status.as_ref().expect("status").token.clone()
}

async fn service_account(server: &TestApiServer, ns: &str, name: &str) {
    Api::<ServiceAccount>::namespaced(server.client.clone(), ns)
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name}})),
        )
        .await
        .expect("service account");
}

#[tokio::test]
async fn requested_tokens_authenticate_as_their_service_account() {
    let server = TestApiServer::start().await;
    namespace(&server, "ci").await;
    service_account(&server, "ci", "robot").await;
    let issued = request_token(&server, "ci", "robot", json!({"expirationSeconds": 3600}))
        .await
        .expect("token request");
    let issued_status = issued.status.as_ref().expect("status");
    assert_eq!(issued_status.token.split('.').count(), 3, "a JWT");
    assert_eq!(
        issued.spec.audiences,
        vec!["https://kubernetes.default.svc.cluster.local".to_string()],
        "defaults to the API audiences"
    );
    let robot = server.token_client(&token_of(&issued)).await;
    let me = eventually("the new service account is in the cache", WAIT, || async {
        whoami(robot.clone()).await.ok()
    })
    .await;
    let info = me.status.and_then(|s| s.user_info).expect("user info");
    assert_eq!(info.username.as_deref(), Some("system:serviceaccount:ci:robot"));
    assert_eq!(
        info.groups.unwrap_or_default(),
        [
            "system:serviceaccounts",
            "system:serviceaccounts:ci",
            "system:authenticated"
        ]
    );
    // Authenticated but not authorized for much.
    let pods = Api::<Pod>::namespaced(robot.clone(), "ci")
        .list(&Default::default())
        .await;
    assert_eq!(code(&pods), 403);

    // Too short a lifetime is invalid, as upstream.
    let short = request_token(&server, "ci", "robot", json!({"expirationSeconds": 599})).await;
    let invalid = status(short.expect_err("599 seconds"));
    assert_eq!(invalid.code, 422);
    assert!(
        invalid
            .message
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        invalid.message
    );
    assert_eq!(
        code(&request_token(&server, "ci", "nobody", json!({})).await),
        404
    );

    // Deleting the service account revokes its tokens.
    Api::<ServiceAccount>::namespaced(server.client.clone(), "ci")
        .delete("robot", &DeleteParams::default())
        .await
        .expect("delete sa");
    eventually("the token stops working", WAIT, || async {
        (code(&whoami(robot.clone()).await) == 401).then_some(())
    })
    .await;
}

#[tokio::test]
async fn tokens_for_other_audiences_expired_or_unbound_are_refused() {
    let server = TestApiServer::start().await;
    namespace(&server, "ci").await;
    service_account(&server, "ci", "robot").await;

    // Another audience: valid for that audience's TokenReview, not for this API.
    let vault = request_token(&server, "ci", "robot", json!({"audiences": ["vault"]}))
        .await
        .expect("token for vault");
    let client = server.token_client(&token_of(&vault)).await;
    assert_eq!(code(&whoami(client).await), 401);
    let review = post_json(
        &server.client,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
               "spec": {"token": token_of(&vault), "audiences": ["vault"]}}),
    )
    .await
    .expect("token review");
    assert_eq!(review["status"]["authenticated"], true, "{review}");
    assert_eq!(review["status"]["audiences"], json!(["vault"]));
    assert_eq!(
        review["status"]["user"]["username"],
        "system:serviceaccount:ci:robot"
    );
    let review = post_json(
        &server.client,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        json!({"spec": {"token": token_of(&vault)}}),
    )
    .await
    .expect("token review");
    assert_eq!(review["status"]["authenticated"], false);

    // Expired: signed with the server's own key, a minute of leeway long past.
    let sa = Api::<ServiceAccount>::namespaced(server.client.clone(), "ci")
        .get("robot")
        .await
        .expect("sa");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let expired = sign_with_server_key(
        &server,
        json!({"iss": "https://kubernetes.default.svc.cluster.local",
               "sub": "system:serviceaccount:ci:robot",
               "aud": ["https://kubernetes.default.svc.cluster.local"],
               "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600,
               "kubernetes.io": {"namespace": "ci",
                                 "serviceaccount": {"name": "robot", "uid": sa.metadata.uid}}}),
    );
    let client = server.token_client(&expired).await;
    assert_eq!(code(&whoami(client).await), 401);
    // The same claims, still valid, are accepted: the refusal above was the expiry.
    let fresh = sign_with_server_key(
        &server,
        json!({"iss": "https://kubernetes.default.svc.cluster.local",
               "sub": "system:serviceaccount:ci:robot",
               "aud": ["https://kubernetes.default.svc.cluster.local"],
               "iat": now, "nbf": now, "exp": now + 600,
               "kubernetes.io": {"namespace": "ci",
                                 "serviceaccount": {"name": "robot", "uid": sa.metadata.uid}}}),
    );
    let client = server.token_client(&fresh).await;
    eventually("a valid hand-made token works", WAIT, || async {
        whoami(client.clone()).await.ok()
    })
    .await;

    // Bound to a pod: works while the pod exists.
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "ci");
    let runner = pods
        .create(
            &PostParams::default(),
            &pod("runner", json!({"serviceAccountName": "robot"})),
        )
        .await
        .expect("pod");
    let bound = request_token(
        &server,
        "ci",
        "robot",
        json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "runner",
                                  "uid": runner.metadata.uid}}),
    )
    .await
    .expect("bound token");
    let client = server.token_client(&token_of(&bound)).await;
    let me = eventually("bound token works", WAIT, || async {
        whoami(client.clone()).await.ok()
    })
    .await;
    let extra = me
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.extra)
        .unwrap_or_default();
    assert_eq!(extra["authentication.kubernetes.io/pod-name"], ["runner"]);
    // A pod running as another service account cannot carry robot's token.
    pods.create(&PostParams::default(), &pod("other", json!({})))
        .await
        .expect("pod");
    let wrong = request_token(
        &server,
        "ci",
        "robot",
        json!({"boundObjectRef": {"kind": "Pod", "name": "other"}}),
    )
    .await;
    assert_eq!(code(&wrong), 400);
    pods.delete("runner", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete pod");
    eventually("the pod-bound token stops working", WAIT, || async {
        (code(&whoami(client.clone()).await) == 401).then_some(())
    })
    .await;
}

/// An ES256 JWT over `claims`, signed with the server's generated `sa.key`.
fn sign_with_server_key(server: &TestApiServer, claims: Value) -> String {
    let pem = std::fs::read_to_string(server.cert_dir().join("sa.key")).expect("sa.key");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("pem");
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &der,
        &rng,
    )
    .expect("ES256 key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(json!({"alg": "ES256"}).to_string()),
        b64.encode(claims.to_string())
    );
    let sig = key.sign(&rng, input.as_bytes()).expect("sign");
    format!("{input}.{}", b64.encode(sig.as_ref()))
}
