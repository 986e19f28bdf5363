//! Service account tokens for projected `serviceAccountToken` volume sources (upstream
//! `pkg/kubelet/token`): a TokenRequest per (audience, lifetime), bound to the pod, kept until
//! 80% of its lifetime has passed or it is 24 hours old, then requested again.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount, ServiceAccountTokenProjection};
use kube::api::{Api, PostParams};

/// Upstream's defaults and limits.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// A token older than this is refreshed whatever its lifetime.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// One projection's token as the apiserver issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// When it expires (status.expirationTimestamp).
    pub expires: SystemTime,
    /// The lifetime asked for (spec.expirationSeconds of the answer).
    pub expiration_seconds: i64,
}

/// The cache key of a projection: upstream keys by service account, namespace, audiences,
/// lifetime and bound object; within one pod's worker only audience and lifetime vary.
pub fn key(p: &ServiceAccountTokenProjection) -> String {
    format!(
        "{}|{}",
        p.audience.as_deref().unwrap_or(""),
        p.expiration_seconds.unwrap_or(DEFAULT_EXPIRATION_SECONDS)
    )
}

/// Whether a token must be requested again at `now`: past 80% of its lifetime (20% before
/// expiry), or issued more than 24 hours ago; `jitter` brings both a little earlier so many
/// pods do not refresh at once (upstream adds up to 10 s).
pub fn requires_refresh(t: &Token, now: SystemTime, jitter: Duration) -> bool {
    let ttl = Duration::from_secs(t.expiration_seconds.max(0) as u64);
    let issued = t.expires.checked_sub(ttl).unwrap_or(SystemTime::UNIX_EPOCH);
    if now >= (issued + MAX_TTL).checked_sub(jitter).unwrap_or(issued) {
        return true;
    }
    let refresh_at = t
        .expires
        .checked_sub(ttl / 5 + jitter)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    now >= refresh_at
}

/// The serviceAccountToken projections of the pod's projected volumes.
pub fn projections(pod: &Pod) -> Vec<ServiceAccountTokenProjection> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.service_account_token.clone())
        .collect()
}

/// The service account the pod runs as.
pub fn service_account(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("request a token for service account {namespace}/{name}: {source}")]
    Request {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the token request for service account {0} was answered without a token")]
    Empty(String),
}

/// Requests a token for the projection, bound to the pod (its name and uid).
pub async fn request(
    client: &kube::Client,
    pod: &Pod,
    p: &ServiceAccountTokenProjection,
) -> Result<Token, TokenError> {
    let namespace = super::names::namespace(pod);
    let name = service_account(pod);
    let expiration_seconds = p.expiration_seconds.unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    let req = TokenRequest {
        spec: TokenRequestSpec {
            audiences: p.audience.iter().filter(|a| !a.is_empty()).cloned().collect(),
            expiration_seconds: Some(expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..Default::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let err = |source| TokenError::Request {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    };
    let answer: TokenRequest = api
        .create_subresource("token", &name, &PostParams::default(), &req)
        .await
        .map_err(err)?;
    let status = answer
        .status
        .filter(|s| !s.token.is_empty())
        .ok_or_else(|| TokenError::Empty(format!("{namespace}/{name}")))?;
    let expires = SystemTime::from(status.expiration_timestamp.0);
    Ok(Token {
        token: status.token,
        expires,
        expiration_seconds: answer.spec.expiration_seconds.unwrap_or(expiration_seconds),
    })
}

/// Brings the pod's tokens up to date: keeps fresh ones, requests missing or aging ones.
/// A failed refresh keeps a token that has not expired yet (the apiserver may be briefly
/// away); the error is returned for the log.
pub async fn refresh(
    client: &kube::Client,
    pod: &Pod,
    mut cached: HashMap<String, Token>,
    now: SystemTime,
) -> (HashMap<String, Token>, Vec<TokenError>) {
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    for p in projections(pod) {
        let k = key(&p);
        if out.contains_key(&k) {
            continue;
        }
        let old = cached.remove(&k);
        if let Some(t) = &old
            && !requires_refresh(t, now, jitter())
        {
            out.insert(k, t.clone());
            continue;
        }
        match request(client, pod, &p).await {
            Ok(t) => {
                out.insert(k, t);
            }
            Err(e) => {
                if let Some(t) = old.filter(|t| t.expires > now) {
                    out.insert(k, t);
                }
                errors.push(e);
            }
        }
    }
    (out, errors)
}

/// Up to 10 seconds, from the clock's nanoseconds (no RNG needed for spreading refreshes).
fn jitter() -> Duration {
    let n = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(u64::from(n % 10_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn token(expires_s: u64, seconds: i64) -> Token {
        Token {
            token: "x".into(),
            expires: t(expires_s),
            expiration_seconds: seconds,
        }
    }

    #[test]
    fn refresh_at_80_percent_or_after_a_day() {
        // Issued at 1000 for 3607 s: expires at 4607, refreshed from 4607 - 721 = 3886.
        let tok = token(4607, 3607);
        let cases = [
            (1000, false),
            (3800, false),
            (3885, false),
            (3886, true),
            (4607, true),
            (9999, true),
        ];
        for (now, want) in cases {
            assert_eq!(requires_refresh(&tok, t(now), Duration::ZERO), want, "at {now}");
        }
        // Jitter only brings it earlier.
        assert!(requires_refresh(&tok, t(3880), Duration::from_secs(10)));
        // A year-long token is refreshed after 24 hours.
        let long = token(1000 + 365 * 86400, 365 * 86400);
        assert!(!requires_refresh(&long, t(1000 + 86399), Duration::ZERO));
        assert!(requires_refresh(&long, t(1000 + 86400), Duration::ZERO));
    }

    #[test]
    fn projections_and_keys() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [], "volumes": [
                {"name": "kube-api-access-x", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                    {"configMap": {"name": "kube-root-ca.crt"}}]}},
                {"name": "vault", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "t", "audience": "vault"}}]}}]}
        }))
        .expect("pod");
        let ps = projections(&pod);
        assert_eq!(ps.len(), 2);
        assert_eq!(key(&ps[0]), "|3607");
        assert_eq!(key(&ps[1]), "vault|3600");
        assert_eq!(service_account(&pod), "default");
    }
}
