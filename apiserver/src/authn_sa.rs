//! Service-account tokens (upstream `pkg/serviceaccount/jwt.go`, `claims.go`): JWTs signed with
//! the service-account key, issued by TokenRequest and accepted as bearer tokens.
//!
//! A token is ours when its `iss` is one of the accepted issuers; then it must carry a valid
//! signature from a verification key, be within its validity (one minute of leeway, as
//! go-jose's), name one of the API audiences, and its service account (and bound pod, if any)
//! must still exist with the UIDs the token names. The user is
//! `system:serviceaccount:<ns>:<name>` in `system:serviceaccounts` and
//! `system:serviceaccounts:<ns>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::authn::{AuthnError, TokenAuthenticator, UserInfo};
use crate::authn_sa_keys::{PublicKey, SigningKey};
use crate::registry::Registry;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: i64 = 60;

/// The default `--service-account-issuer` (kubeadm's).
pub(crate) const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// A `name`/`uid` reference in the private claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ref {
    pub(crate) name: String,
    pub(crate) uid: String,
}

/// The `kubernetes.io` claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Private {
    pub(crate) namespace: String,
    pub(crate) serviceaccount: Ref,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) pod: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) secret: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) node: Option<Ref>,
}

/// `aud` may be one string or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn list(&self) -> Vec<String> {
        match self {
            Audience::One(a) => vec![a.clone()],
            Audience::Many(a) => a.clone(),
        }
    }
}

/// A token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: Audience,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    #[serde(default)]
    pub(crate) jti: String,
    #[serde(rename = "kubernetes.io")]
    pub(crate) kubernetes: Option<Private>,
}

impl Claims {
    pub(crate) fn audiences(&self) -> Vec<String> {
        self.aud.list()
    }
}

/// What a token is bound to besides its service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bound {
    Pod { pod: Ref, node: Option<Ref> },
    Secret(Ref),
}

/// Signs and verifies service-account tokens.
#[derive(Debug)]
pub(crate) struct ServiceAccountTokens {
    signer: SigningKey,
    signer_kid: String,
    verifiers: Vec<PublicKey>,
    issuers: Vec<String>,
    api_audiences: Vec<String>,
    registry: Option<Arc<Registry>>,
}

impl ServiceAccountTokens {
    /// `issuers[0]` signs new tokens; every one is accepted. `api_audiences` empty means the
    /// issuers (upstream's `--api-audiences` default).
    pub(crate) fn new(
        signer: SigningKey,
        mut verifiers: Vec<PublicKey>,
        issuers: Vec<String>,
        api_audiences: Vec<String>,
        registry: Option<Arc<Registry>>,
    ) -> Self {
        let public = signer.public();
        if !verifiers.contains(&public) {
            verifiers.push(public.clone());
        }
        let api_audiences = if api_audiences.is_empty() {
            issuers.clone()
        } else {
            api_audiences
        };
        Self {
            signer_kid: public.key_id(),
            signer,
            verifiers,
            issuers,
            api_audiences,
            registry,
        }
    }

    /// The audiences a token without explicit ones is issued for.
    pub(crate) fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// Signs a token for `namespace/name` (uid `uid`), valid `seconds` from `now`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn issue(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        audiences: &[String],
        seconds: i64,
        bound: Option<&Bound>,
        now: i64,
    ) -> Result<(String, i64), String> {
        let mut private = Private {
            namespace: namespace.into(),
            serviceaccount: Ref {
                name: name.into(),
                uid: uid.into(),
            },
            ..Default::default()
        };
        match bound {
            Some(Bound::Pod { pod, node }) => {
                private.pod = Some(pod.clone());
                private.node = node.clone();
            }
            Some(Bound::Secret(secret)) => private.secret = Some(secret.clone()),
            None => {}
        }
        let claims = Claims {
            iss: self.issuers.first().cloned().unwrap_or_default(),
            sub: format!("system:serviceaccount:{namespace}:{name}"),
            aud: Audience::Many(audiences.to_vec()),
            exp: now + seconds,
            iat: now,
            nbf: now,
            jti: random_uuid(),
            kubernetes: Some(private),
        };
        Ok((self.sign(&claims)?, claims.exp))
    }

    /// Signs arbitrary claims (tests craft expired tokens with it).
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, String> {
        let header = serde_json::json!({"alg": self.signer.alg(), "kid": self.signer_kid});
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let signing_input = format!("{}.{}", b64().encode(header.to_string()), b64().encode(payload));
        let sig = self.signer.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64().encode(sig)))
    }

    /// The claims of a token we issued, valid at `now` for one of `audiences` (the API
    /// audiences when empty); `Ok(None)` when the token is not one of ours.
    pub(crate) fn verify(
        &self,
        token: &str,
        now: i64,
        audiences: &[String],
    ) -> Result<Option<Claims>, AuthnError> {
        let targets = if audiences.is_empty() {
            &self.api_audiences
        } else {
            audiences
        };
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let decode = |part: &str| b64().decode(part.trim_end_matches('=')).ok();
        let Some(header) = decode(h).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
            return Ok(None);
        };
        let Some(payload) = decode(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
            return Ok(None);
        };
        let issuer = payload.get("iss").and_then(Value::as_str).unwrap_or_default();
        if !self.issuers.iter().any(|i| i == issuer) {
            return Ok(None);
        }
        let unauthorized = |m: &str| AuthnError::Unauthorized(m.to_string());
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
        let sig = decode(s).ok_or_else(|| unauthorized("malformed token signature"))?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        let valid = self
            .verifiers
            .iter()
            .filter(|k| k.alg() == alg)
            .any(|k| k.verify(signing_input.as_bytes(), &sig));
        if !valid {
            return Err(unauthorized("token signed by an unknown key"));
        }
        let claims: Claims = serde_json::from_value(payload)
            .map_err(|e| unauthorized(&format!("malformed token claims: {e}")))?;
        if now > claims.exp + LEEWAY_SECONDS {
            return Err(unauthorized("service account token has expired"));
        }
        if now + LEEWAY_SECONDS < claims.nbf || now + LEEWAY_SECONDS < claims.iat {
            return Err(unauthorized("service account token is not valid yet"));
        }
        let audiences = claims.aud.list();
        if !audiences.iter().any(|a| targets.contains(a)) {
            return Err(unauthorized(&format!(
                "token audiences {audiences:?} is invalid for the target audiences {targets:?}"
            )));
        }
        Ok(Some(claims))
    }

    /// Checks that what the token names still exists; returns the user.
    pub(crate) fn user(&self, claims: &Claims) -> Result<UserInfo, AuthnError> {
        let unauthorized = |m: String| AuthnError::Unauthorized(m);
        let private = claims
            .kubernetes
            .as_ref()
            .ok_or_else(|| unauthorized("token has no kubernetes.io claims".into()))?;
        let ns = &private.namespace;
        let sa = &private.serviceaccount;
        if claims.sub != format!("system:serviceaccount:{ns}:{}", sa.name) {
            return Err(unauthorized(
                "token subject does not match its service account".into(),
            ));
        }
        if let Some(registry) = &self.registry {
            let uid_of = |plural: &str, name: &str| -> Option<String> {
                let res = registry.get_resource("", "v1", plural)?;
                let obj = res.cache.get(&res.key(Some(ns), name))?.value();
                Some(obj.pointer("/metadata/uid")?.as_str()?.to_string())
            };
            match uid_of("serviceaccounts", &sa.name) {
                None => {
                    return Err(unauthorized(format!(
                        "service account {ns}/{} has been deleted",
                        sa.name
                    )));
                }
                Some(uid) if uid != sa.uid => {
                    return Err(unauthorized(format!(
                        "service account UID ({uid}) does not match claim ({})",
                        sa.uid
                    )));
                }
                Some(_) => {}
            }
            for (plural, bound) in [("pods", &private.pod), ("secrets", &private.secret)] {
                let Some(bound) = bound else { continue };
                match uid_of(plural, &bound.name) {
                    None => {
                        return Err(unauthorized(format!(
                            "{plural} {ns}/{} has been deleted",
                            bound.name
                        )));
                    }
                    Some(uid) if uid != bound.uid => {
                        return Err(unauthorized(format!(
                            "{plural} UID ({uid}) does not match claim ({})",
                            bound.uid
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        let mut extra = BTreeMap::new();
        if let Some(pod) = &private.pod {
            extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                vec![pod.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                vec![pod.uid.clone()],
            );
        }
        if let Some(node) = &private.node {
            extra.insert(
                "authentication.kubernetes.io/node-name".into(),
                vec![node.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/node-uid".into(),
                vec![node.uid.clone()],
            );
        }
        if !claims.jti.is_empty() {
            extra.insert(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("JTI={}", claims.jti)],
            );
        }
        Ok(UserInfo {
            name: claims.sub.clone(),
            uid: sa.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
            extra,
        })
    }
}

impl TokenAuthenticator for ServiceAccountTokens {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, AuthnError> {
        let Some(claims) = self.verify(token, now(), &[])? else {
            return Ok(None);
        };
        self.user(&claims).map(Some)
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn random_uuid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(dir: &std::path::Path) -> ServiceAccountTokens {
        let key = crate::authn_sa_keys::ensure_generated(dir).expect("key");
        let signer = crate::authn_sa_keys::load_signing_key(&key).expect("load");
        ServiceAccountTokens::new(signer, Vec::new(), vec![DEFAULT_ISSUER.into()], Vec::new(), None)
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let dir = tempfile::tempdir().expect("dir");
        let t = tokens(dir.path());
        let aud = vec![DEFAULT_ISSUER.to_string()];
        let (token, exp) = t
            .issue("ns", "sa", "uid-1", &aud, 3600, None, 1_000)
            .expect("issue");
        assert_eq!(exp, 4_600);
        let claims = t.verify(&token, 2_000, &[]).expect("valid").expect("ours");
        assert_eq!(claims.sub, "system:serviceaccount:ns:sa");
        let user = t.authenticate_token(&t.issue("ns", "sa", "u", &aud, 3600, None, now()).expect("t").0);
        let user = user.expect("ok").expect("user");
        assert_eq!(
            user.groups,
            ["system:serviceaccounts", "system:serviceaccounts:ns"]
        );
        assert!(
            t.verify(&token, 4_600 + LEEWAY_SECONDS + 1, &[]).is_err(),
            "expired"
        );
        assert!(
            t.verify(&token, 1_000 - LEEWAY_SECONDS - 1, &[]).is_err(),
            "not yet valid"
        );
    }

    #[test]
    fn wrong_audience_foreign_issuer_and_bad_signature() {
        let dir = tempfile::tempdir().expect("dir");
        let t = tokens(dir.path());
        let (token, _) = t
            .issue("ns", "sa", "u", &["vault".to_string()], 3600, None, 1_000)
            .expect("issue");
        let err = t.verify(&token, 1_000, &[]).expect_err("wrong audience");
        assert!(
            err.to_string().contains("invalid for the target audiences"),
            "{err}"
        );
        assert!(
            t.verify(&token, 1_000, &["vault".to_string()])
                .expect("asked for")
                .is_some()
        );
        // Another issuer's token is not ours: other authenticators may know it.
        let other = ServiceAccountTokens::new(
            crate::authn_sa_keys::load_signing_key(&dir.path().join("sa.key")).expect("key"),
            Vec::new(),
            vec!["https://elsewhere".into()],
            Vec::new(),
            None,
        );
        assert!(
            t.verify(
                &other.issue("ns", "sa", "u", &[], 600, None, 1_000).expect("t").0,
                1_000,
                &[]
            )
            .expect("no error")
            .is_none()
        );
        // A token signed by another key with our issuer is refused.
        let dir2 = tempfile::tempdir().expect("dir");
        let forged = tokens(dir2.path()).issue("ns", "sa", "u", &[DEFAULT_ISSUER.into()], 600, None, 1_000);
        assert!(t.verify(&forged.expect("t").0, 1_000, &[]).is_err());
        assert!(t.verify("not-a-jwt", 1_000, &[]).expect("ignored").is_none());
    }
}
