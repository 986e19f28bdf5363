use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use rudder_component::certs::{CertificateAuthority, first_certificate, sign_client_cert};
use rudder_component::tls::{ClientCa, PeerIdentity};

use super::*;
use crate::server::fake_review::FakeReviewer;

fn peer_with(ca: &CertificateAuthority, cn: &str, groups: &[&str]) -> PeerIdentity {
    let (cert, _) = sign_client_cert(ca, cn, groups).expect("client cert");
    PeerIdentity {
        peer_certificates: Arc::from(vec![first_certificate(&cert).expect("der")]),
        ..PeerIdentity::default()
    }
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

struct Setup {
    ca: CertificateAuthority,
    fake: Arc<FakeReviewer>,
}

impl Setup {
    fn new() -> Setup {
        let fake = Arc::new(FakeReviewer::default());
        fake.token("good", "system:serviceaccount:ns:sa", &["system:serviceaccounts"]);
        Setup {
            ca: CertificateAuthority::generate("cluster-ca").unwrap(),
            fake,
        }
    }

    fn authn(&self, tokens: bool, anonymous: bool) -> Authenticator {
        let ca = ClientCa::from_pem(self.ca.cert_pem().as_bytes()).unwrap();
        let reviewer: Arc<dyn Reviewer> = self.fake.clone();
        Authenticator::new(
            Some(ca),
            tokens.then_some((reviewer, Duration::from_secs(120))),
            anonymous,
        )
    }
}

#[tokio::test]
async fn without_credentials_only_anonymous_when_enabled() {
    let s = Setup::new();
    let none = HeaderMap::new();
    let peer = PeerIdentity::default();
    assert_eq!(
        s.authn(true, false)
            .authenticate(Some(&peer), &none)
            .await
            .unwrap(),
        None
    );
    let anon = s
        .authn(true, true)
        .authenticate(Some(&peer), &none)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anon.name, "system:anonymous");
    assert_eq!(anon.groups, vec!["system:unauthenticated"]);
    assert!(!Authenticator::new(None, None, false).has_method());
}

#[tokio::test]
async fn a_client_certificate_names_user_and_groups() {
    let s = Setup::new();
    let peer = peer_with(&s.ca, "kube-apiserver-kubelet-client", &["system:masters"]);
    let user = s
        .authn(false, false)
        .authenticate(Some(&peer), &HeaderMap::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.name, "kube-apiserver-kubelet-client");
    assert_eq!(user.groups, vec!["system:masters", "system:authenticated"]);
}

#[tokio::test]
async fn a_certificate_of_another_ca_is_refused_even_with_anonymous_on() {
    let s = Setup::new();
    let other = CertificateAuthority::generate("other-ca").unwrap();
    let peer = peer_with(&other, "mallory", &["system:masters"]);
    let err = s
        .authn(true, true)
        .authenticate(Some(&peer), &HeaderMap::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthnError::Certificate(_)), "{err}");
    // A valid token on the same request still authenticates, as upstream's union.
    let user = s
        .authn(true, true)
        .authenticate(Some(&peer), &bearer("good"))
        .await
        .unwrap();
    assert_eq!(user.unwrap().name, "system:serviceaccount:ns:sa");
}

#[tokio::test(start_paused = true)]
async fn tokens_go_through_token_review_and_are_cached_both_ways() {
    let s = Setup::new();
    let authn = s.authn(true, true);
    let user = authn.authenticate(None, &bearer("good")).await.unwrap().unwrap();
    assert_eq!(user.name, "system:serviceaccount:ns:sa");
    assert_eq!(user.uid, "uid-system:serviceaccount:ns:sa");
    assert_eq!(
        user.groups,
        vec!["system:serviceaccounts", "system:authenticated"]
    );
    authn.authenticate(None, &bearer("good")).await.unwrap();
    assert_eq!(s.fake.token_calls(), 1, "the second answer is cached");

    // A refused token is a 401 (not anonymous), with the review's reason, and cached too.
    let err = authn.authenticate(None, &bearer("bad")).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid bearer token: token not found");
    s.fake.token("bad", "late", &[]);
    assert!(authn.authenticate(None, &bearer("bad")).await.is_err());
    assert_eq!(s.fake.token_calls(), 2);
    tokio::time::advance(Duration::from_secs(121)).await;
    let user = authn.authenticate(None, &bearer("bad")).await.unwrap().unwrap();
    assert_eq!(user.name, "late");
    assert_eq!(s.fake.token_calls(), 3);

    // The apiserver cannot be asked: an error, not cached.
    s.fake.fail(true);
    let err = authn.authenticate(None, &bearer("fresh")).await.unwrap_err();
    assert!(matches!(err, AuthnError::Review(_)), "{err}");
    s.fake.fail(false);
    assert!(authn.authenticate(None, &bearer("fresh")).await.is_err());
    assert_eq!(s.fake.token_calls(), 5);
}

#[tokio::test]
async fn tokens_are_ignored_without_the_webhook_and_other_schemes_always() {
    let s = Setup::new();
    let off = s.authn(false, false);
    assert_eq!(off.authenticate(None, &bearer("good")).await.unwrap(), None);
    let on = s.authn(true, false);
    let mut basic = HeaderMap::new();
    basic.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert_eq!(on.authenticate(None, &basic).await.unwrap(), None);
    let mut empty = HeaderMap::new();
    empty.insert("authorization", "Bearer ".parse().unwrap());
    assert_eq!(on.authenticate(None, &empty).await.unwrap(), None);
    let mut lower = HeaderMap::new();
    lower.insert("authorization", "bearer good".parse().unwrap());
    assert!(on.authenticate(None, &lower).await.unwrap().is_some());
    assert_eq!(s.fake.token_calls(), 1);
}

fn websocket(protocols: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("connection", "Upgrade".parse().unwrap());
    h.insert("upgrade", "websocket".parse().unwrap());
    for p in protocols {
        h.append("sec-websocket-protocol", p.parse().unwrap());
    }
    h
}

fn token_protocol(token: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token);
    format!("{WEBSOCKET_BEARER_PREFIX}{encoded}")
}

#[tokio::test]
async fn a_token_in_the_websocket_subprotocols_authenticates_as_upstreams() {
    let s = Setup::new();
    let authn = s.authn(true, false);
    let good = token_protocol("good");
    let user = authn
        .authenticate(None, &websocket(&["v5.channel.k8s.io", &good]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.name, "system:serviceaccount:ns:sa");
    // The same protocols over one header line, comma-separated.
    let one_line = format!("v5.channel.k8s.io, {good}");
    assert!(
        authn
            .authenticate(None, &websocket(&[&one_line]))
            .await
            .unwrap()
            .is_some()
    );
    // Not a WebSocket upgrade: the protocol header means nothing.
    let mut plain = HeaderMap::new();
    plain.insert("sec-websocket-protocol", one_line.parse().unwrap());
    assert_eq!(authn.authenticate(None, &plain).await.unwrap(), None);
    // Refusals: a token alone, two tokens, bad encoding, an unknown token.
    for (protocols, why) in [
        (vec![good.clone()], "missing additional subprotocol"),
        (
            vec!["v5.channel.k8s.io".into(), good.clone(), token_protocol("other")],
            "multiple base64.bearer.authorization tokens specified",
        ),
        (
            vec!["v5.channel.k8s.io".into(), format!("{WEBSOCKET_BEARER_PREFIX}!!")],
            "invalid base64.bearer.authorization token encoding",
        ),
        (
            vec!["v5.channel.k8s.io".into(), token_protocol("bad")],
            "token not found",
        ),
    ] {
        let refs: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let err = authn.authenticate(None, &websocket(&refs)).await.unwrap_err();
        assert!(err.to_string().ends_with(why), "{err} vs {why}");
    }
    // Without the token webhook the subprotocol is not looked at.
    let off = s.authn(false, false);
    assert_eq!(
        off.authenticate(None, &websocket(&["v5.channel.k8s.io", &good]))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        strip_websocket_token(&websocket(&["v5.channel.k8s.io", &good, "v4.channel.k8s.io"])),
        Some("v5.channel.k8s.io,v4.channel.k8s.io".into())
    );
    assert_eq!(strip_websocket_token(&websocket(&["v5.channel.k8s.io"])), None);
}
