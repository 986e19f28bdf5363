use axum::http::{HeaderMap, Method};

use super::*;
use crate::server::fake_review::FakeReviewer;

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

fn setup(mode: AuthorizationMode) -> (Arc<FakeReviewer>, KubeletAuth) {
    let fake = Arc::new(FakeReviewer::default());
    fake.token("bob-token", "bob", &["devs"]);
    fake.token("admin-token", "admin", &[]);
    fake.allow("admin");
    let config = ServerAuth {
        authorization_mode: mode,
        ..ServerAuth::default()
    };
    let auth = KubeletAuth::with_reviewer(&config, "node-1", fake.clone()).unwrap();
    (fake, auth)
}

#[test]
fn some_way_to_authenticate_is_required() {
    let fake: Arc<dyn Reviewer> = Arc::new(FakeReviewer::default());
    let none = ServerAuth {
        token_webhook: false,
        ..ServerAuth::default()
    };
    let err = KubeletAuth::with_reviewer(&none, "n", fake.clone()).unwrap_err();
    assert!(matches!(err, AuthError::NoMethod), "{err}");
    let missing = ServerAuth {
        client_ca_file: Some("/nonexistent/ca.crt".into()),
        ..ServerAuth::default()
    };
    let err = KubeletAuth::with_reviewer(&missing, "n", fake.clone()).unwrap_err();
    assert!(err.to_string().starts_with("--client-ca-file: "), "{err}");
    let anonymous_only = ServerAuth {
        token_webhook: false,
        anonymous: true,
        ..ServerAuth::default()
    };
    assert!(KubeletAuth::with_reviewer(&anonymous_only, "n", fake).is_ok());
}

#[tokio::test]
async fn webhook_mode_refuses_with_upstreams_message() {
    let (fake, auth) = setup(AuthorizationMode::Webhook);
    let err = auth
        .check(None, &Method::POST, "/exec/default/p/c", &bearer("bob-token"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Refusal::Forbidden(
            "Forbidden (user=bob, verb=create, resource=nodes, subresource(s)=[proxy])".into()
        )
    );
    let asked = fake.last_access.lock().clone().unwrap();
    assert_eq!(asked.user.as_deref(), Some("bob"));
    assert_eq!(
        asked.groups.as_deref(),
        Some(&["devs".to_string(), "system:authenticated".to_string()][..])
    );
    let attrs = asked.resource_attributes.unwrap();
    assert_eq!(attrs.name.as_deref(), Some("node-1"));
    assert_eq!(attrs.subresource.as_deref(), Some("proxy"));

    // Fine-grained paths try their own subresource, then proxy.
    let err = auth
        .check(None, &Method::GET, "/healthz", &bearer("bob-token"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Refusal::Forbidden(
            "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[healthz proxy])".into()
        )
    );
    let user = auth
        .check(
            None,
            &Method::GET,
            "/containerLogs/ns/p/c",
            &bearer("admin-token"),
        )
        .await
        .unwrap();
    assert_eq!(user.name, "admin");
}

#[tokio::test]
async fn unauthenticated_requests_get_401_before_any_review() {
    let (fake, auth) = setup(AuthorizationMode::Webhook);
    let none = HeaderMap::new();
    assert_eq!(
        auth.check(None, &Method::GET, "/pods", &none).await.unwrap_err(),
        Refusal::Unauthorized
    );
    assert_eq!(
        auth.check(None, &Method::GET, "/pods", &bearer("nope"))
            .await
            .unwrap_err(),
        Refusal::Unauthorized
    );
    assert_eq!(fake.access_calls(), 0);
}

#[tokio::test]
async fn always_allow_lets_every_authenticated_caller_in() {
    let (fake, auth) = setup(AuthorizationMode::AlwaysAllow);
    let user = auth
        .check(None, &Method::POST, "/exec/default/p/c", &bearer("bob-token"))
        .await
        .unwrap();
    assert_eq!(user.name, "bob");
    assert_eq!(fake.access_calls(), 0);
}

#[tokio::test]
async fn a_review_that_cannot_be_made_is_a_500() {
    let (fake, auth) = setup(AuthorizationMode::Webhook);
    // Authenticate first (cached), then make the access review fail.
    auth.check(None, &Method::GET, "/x", &bearer("admin-token"))
        .await
        .unwrap();
    fake.fail(true);
    let err = auth
        .check(None, &Method::GET, "/stats/summary", &bearer("admin-token"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Refusal::AuthorizationError(
            "Authorization error (user=admin, verb=get, resource=nodes, subresource=stats)".into()
        )
    );
}

#[tokio::test]
async fn the_filter_answers_in_front_of_every_route() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let (_, auth) = setup(AuthorizationMode::Webhook);
    let app = axum::Router::new()
        .route("/pods", axum::routing::get(|| async { "pods" }))
        .layer(axum::middleware::from_fn_with_state(Arc::new(auth), filter));
    let call = |uri: &'static str, token: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut req = axum::http::Request::get(uri);
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let resp = app
                .oneshot(req.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status.as_u16(), String::from_utf8_lossy(&body).into_owned())
        }
    };
    assert_eq!(call("/pods", None).await, (401, "Unauthorized".into()));
    assert_eq!(call("/nothing-here", None).await.0, 401, "unknown paths too");
    assert_eq!(call("/pods", Some("bob-token")).await.0, 403);
    assert_eq!(call("/pods", Some("admin-token")).await, (200, "pods".into()));
    assert_eq!(call("/nothing-here", Some("admin-token")).await.0, 404);
}

#[tokio::test]
async fn the_websocket_token_goes_no_further_than_the_filter() {
    use base64::Engine;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let (_, auth) = setup(AuthorizationMode::Webhook);
    let app = axum::Router::new()
        .route(
            "/exec/{ns}/{pod}/{c}",
            axum::routing::get(|headers: HeaderMap| async move {
                let seen: Vec<String> = headers
                    .get_all("sec-websocket-protocol")
                    .iter()
                    .map(|v| v.to_str().unwrap_or_default().to_string())
                    .collect();
                seen.join("|")
            }),
        )
        .layer(axum::middleware::from_fn_with_state(Arc::new(auth), filter));
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("admin-token");
    let req = axum::http::Request::get("/exec/ns/p/c")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-protocol", "v5.channel.k8s.io")
        .header(
            "sec-websocket-protocol",
            format!("base64url.bearer.authorization.k8s.io.{token}, v4.channel.k8s.io"),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"v5.channel.k8s.io,v4.channel.k8s.io");
}
