//! `--enable-bootstrap-token-auth`: bootstrap token Secrets in kube-system authenticate as
//! `system:bootstrap:<id>`; expired, wrong or unusable ones do not.

use std::time::Duration;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, PostParams};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

async fn whoami(client: kube::Client) -> Result<SelfSubjectReview, kube::Error> {
    let review: SelfSubjectReview = serde_json::from_value(json!({})).expect("review");
    Api::<SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &review)
        .await
}

async fn token_secret(server: &TestApiServer, id: &str, secret: &str, extra: serde_json::Value) {
    let mut string_data = json!({
        "token-id": id,
        "token-secret": secret,
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
    });
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            string_data[k] = v.clone();
        }
    }
    let object: Secret = serde_json::from_value(json!({
        "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "stringData": string_data,
    }))
    .expect("secret");
    Api::<Secret>::namespaced(server.client.clone(), "kube-system")
        .create(&PostParams::default(), &object)
        .await
        .expect("create bootstrap token secret");
}

fn is_unauthorized(result: &Result<SelfSubjectReview, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 401)
}

#[tokio::test]
async fn bootstrap_token_authenticates_and_expired_or_wrong_ones_do_not() {
    let server = TestApiServer::start_with(|c| c.auth.enable_bootstrap_token_auth = true).await;
    // The rejected ones first: the watch cache applies Secrets in order, so once the last one
    // authenticates the earlier ones are visible to the authenticator too.
    token_secret(
        &server,
        "expird",
        "0123456789abcdef",
        json!({"expiration": "2020-01-01T00:00:00Z"}),
    )
    .await;
    token_secret(
        &server,
        "noauth",
        "0123456789abcdef",
        json!({"usage-bootstrap-authentication": "false"}),
    )
    .await;
    token_secret(
        &server,
        "abcdef",
        "0123456789abcdef",
        json!({"auth-extra-groups": "system:bootstrappers:worker", "expiration": "2099-01-01T00:00:00Z"}),
    )
    .await;

    let good = server.token_client("abcdef.0123456789abcdef").await;
    let review = eventually(
        "the bootstrap token to authenticate",
        Duration::from_secs(10),
        || {
            let good = good.clone();
            async move { whoami(good).await.ok() }
        },
    )
    .await;
    let user = review.status.and_then(|s| s.user_info).expect("user info");
    assert_eq!(user.username.as_deref(), Some("system:bootstrap:abcdef"));
    assert_eq!(
        user.groups.unwrap_or_default(),
        vec![
            "system:bootstrappers",
            "system:bootstrappers:worker",
            "system:authenticated"
        ]
    );

    for token in [
        "expird.0123456789abcdef",
        "noauth.0123456789abcdef",
        "abcdef.0123456789abcdeX",
        "zzzzzz.0123456789abcdef",
    ] {
        let result = whoami(server.token_client(token).await).await;
        assert!(is_unauthorized(&result), "{token}: {result:?}");
    }
}

#[tokio::test]
async fn bootstrap_tokens_are_ignored_without_the_flag() {
    let server = TestApiServer::start().await;
    token_secret(&server, "abcdef", "0123456789abcdef", json!({})).await;
    // Wait until the watch cache (what the authenticator would read) has the Secret: a
    // resourceVersion=0 list is served from it.
    let secrets = Api::<Secret>::namespaced(server.client.clone(), "kube-system");
    eventually("the Secret in the watch cache", Duration::from_secs(10), || {
        let secrets = secrets.clone();
        async move {
            let list = secrets.list(&ListParams::default().match_any()).await.ok()?;
            list.items
                .iter()
                .any(|s| s.metadata.name.as_deref() == Some("bootstrap-token-abcdef"))
                .then_some(())
        }
    })
    .await;
    let result = whoami(server.token_client("abcdef.0123456789abcdef").await).await;
    assert!(is_unauthorized(&result), "{result:?}");
}
