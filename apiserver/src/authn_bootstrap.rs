//! Bootstrap tokens (`--enable-bootstrap-token-auth`; upstream
//! `plugin/pkg/auth/authenticator/token/bootstrap`): a bearer token `<id>.<secret>` is matched
//! against the Secret `kube-system/bootstrap-token-<id>` of type `bootstrap.kubernetes.io/token`.
//! A match authenticates as `system:bootstrap:<id>` in `system:bootstrappers` plus the Secret's
//! `auth-extra-groups`. Joining nodes use it to post their first CertificateSigningRequest.
//!
//! As upstream, every mismatch (no Secret, wrong type, wrong secret, expired, not meant for
//! authentication, bad extra groups) is "not a token I know", never an error: the union then
//! answers 401 like for any unknown token, and the reason is only logged.

use std::sync::Arc;

use base64::Engine;
use serde_json::Value;

use crate::authn::{AuthnError, TokenAuthenticator, UserInfo};
use crate::registry::Registry;

/// Namespace of bootstrap token Secrets.
const NAMESPACE: &str = "kube-system";
/// `bootstrapapi.BootstrapTokenSecretPrefix`.
const SECRET_PREFIX: &str = "bootstrap-token-";
/// `bootstrapapi.SecretTypeBootstrapToken`.
pub(crate) const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// `bootstrapapi.BootstrapUserPrefix`.
const USER_PREFIX: &str = "system:bootstrap:";
/// `bootstrapapi.BootstrapDefaultGroup`.
pub(crate) const DEFAULT_GROUP: &str = "system:bootstrappers";

/// Why a Secret does not authenticate a token (for logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Mismatch {
    #[error("is being deleted")]
    Deleted,
    #[error("has the wrong type, want {SECRET_TYPE}")]
    WrongType,
    #[error("has a different token-secret")]
    WrongSecret,
    #[error("has a different token-id")]
    WrongId,
    #[error("has expired")]
    Expired,
    #[error("is not for authentication (usage-bootstrap-authentication is not \"true\")")]
    NotForAuthentication,
    #[error("has an invalid auth-extra-groups entry {0:?}")]
    BadGroup(String),
}

/// Upstream `bootstraptokenutil.ParseToken`: `[a-z0-9]{6}.[a-z0-9]{16}`, as (id, secret).
pub(crate) fn parse_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let valid = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (valid(id, 6) && valid(secret, 16)).then_some((id, secret))
}

/// `bootstrapsecretutil.GetData`: a `data` entry decoded from base64, empty when missing.
fn data(secret: &Value, key: &str) -> Vec<u8> {
    secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .unwrap_or_default()
}

fn data_string(secret: &Value, key: &str) -> String {
    String::from_utf8_lossy(&data(secret, key)).into_owned()
}

/// Upstream `ValidateBootstrapGroupName`: `system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`.
fn valid_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let Some(last) = rest.bytes().last() else {
        return false;
    };
    rest.len() <= 256
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
}

/// Upstream `HasExpired`: an `expiration` (RFC 3339) at or before `now` (Unix seconds) has
/// passed; an unparseable one counts as expired; none never expires.
pub(crate) fn has_expired(secret: &Value, now: i64) -> bool {
    let expiration = data_string(secret, "expiration");
    if expiration.is_empty() {
        return false;
    }
    match time::OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339) {
        // Go's `now.After(exp)`: expired once now is strictly later.
        Ok(at) => now > at.unix_timestamp(),
        Err(error) => {
            tracing::debug!(%expiration, %error, "unparseable bootstrap token expiration; treated as expired");
            true
        }
    }
}

/// Upstream `GetGroups`: `system:bootstrappers` plus the valid extra groups, sorted and
/// deduplicated.
fn groups(secret: &Value) -> Result<Vec<String>, Mismatch> {
    let mut groups = std::collections::BTreeSet::from([DEFAULT_GROUP.to_string()]);
    let extra = data_string(secret, "auth-extra-groups");
    if !extra.is_empty() {
        for group in extra.split(',') {
            if !valid_group(group) {
                return Err(Mismatch::BadGroup(group.to_string()));
            }
            groups.insert(group.to_string());
        }
    }
    Ok(groups.into_iter().collect())
}

/// Go's `subtle.ConstantTimeCompare`: the time taken depends on the length only, never on where
/// the bytes first differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The user a Secret grants for the token `id.token_secret` at `now`, as upstream's
/// `AuthenticateToken` after the Secret lookup.
pub(crate) fn user_for(secret: &Value, id: &str, token_secret: &str, now: i64) -> Result<UserInfo, Mismatch> {
    if secret
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return Err(Mismatch::Deleted);
    }
    if secret.get("type").and_then(Value::as_str) != Some(SECRET_TYPE)
        || !secret.get("data").is_some_and(Value::is_object)
    {
        return Err(Mismatch::WrongType);
    }
    // Constant time: the comparison must not tell an attacker how much of the secret matched.
    if !constant_time_eq(&data(secret, "token-secret"), token_secret.as_bytes()) {
        return Err(Mismatch::WrongSecret);
    }
    if data(secret, "token-id") != id.as_bytes() {
        return Err(Mismatch::WrongId);
    }
    if has_expired(secret, now) {
        return Err(Mismatch::Expired);
    }
    if data(secret, "usage-bootstrap-authentication") != b"true" {
        return Err(Mismatch::NotForAuthentication);
    }
    Ok(UserInfo {
        name: format!("{USER_PREFIX}{id}"),
        groups: groups(secret)?,
        ..UserInfo::default()
    })
}

/// The authenticator: Secrets are read from the apiserver's watch cache.
#[derive(Debug)]
pub(crate) struct BootstrapTokens {
    registry: Arc<Registry>,
}

impl BootstrapTokens {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }

    fn secret(&self, name: &str) -> Option<Value> {
        let res = self.registry.get_resource("", "v1", "secrets")?;
        Some(res.cache.get(&res.key(Some(NAMESPACE), name))?.value())
    }
}

impl TokenAuthenticator for BootstrapTokens {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, AuthnError> {
        let Some((id, token_secret)) = parse_token(token) else {
            return Ok(None);
        };
        let name = format!("{SECRET_PREFIX}{id}");
        let Some(secret) = self.secret(&name) else {
            tracing::debug!(secret = %name, "no Secret matches the bootstrap token");
            return Ok(None);
        };
        match user_for(&secret, id, token_secret, crate::authn_sa::now()) {
            Ok(user) => Ok(Some(user)),
            Err(reason) => {
                tracing::debug!(namespace = NAMESPACE, secret = %name, %reason, "bootstrap token rejected");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(extra: &[(&str, &str)]) -> Value {
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
        ]
        .iter()
        .chain(extra)
        {
            data.insert(k.to_string(), json!(b64(v)));
        }
        json!({
            "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "type": SECRET_TYPE,
            "data": data,
        })
    }

    #[test]
    fn parse_token_table() {
        let cases = [
            ("abcdef.0123456789abcdef", Some(("abcdef", "0123456789abcdef"))),
            ("a1b2c3.z9y8x7w6v5u4t3s2", Some(("a1b2c3", "z9y8x7w6v5u4t3s2"))),
            ("ABCDEF.0123456789abcdef", None),
            ("abcde.0123456789abcdef", None),
            ("abcdef.0123456789abcde", None),
            ("abcdef.0123456789abcdef0", None),
            ("abcdef0123456789abcdef", None),
            ("abcdef:0123456789abcdef", None),
            ("abc-ef.0123456789abcdef", None),
            ("abcdef.0123456789abcdef.x", None),
            ("", None),
        ];
        for (token, want) in cases {
            assert_eq!(parse_token(token), want, "{token}");
        }
    }

    #[test]
    fn matching_secret_gives_bootstrap_user_and_sorted_groups() {
        let s = secret(&[(
            "auth-extra-groups",
            "system:bootstrappers:worker,system:bootstrappers:a-b:c1,system:bootstrappers:worker",
        )]);
        let user = user_for(&s, "abcdef", "0123456789abcdef", NOW).expect("matches");
        assert_eq!(user.name, "system:bootstrap:abcdef");
        assert_eq!(
            user.groups,
            vec![
                "system:bootstrappers",
                "system:bootstrappers:a-b:c1",
                "system:bootstrappers:worker"
            ]
        );
        let plain = user_for(&secret(&[]), "abcdef", "0123456789abcdef", NOW).expect("matches");
        assert_eq!(plain.groups, vec!["system:bootstrappers"]);
    }

    #[test]
    fn mismatches_table() {
        let mut wrong_type = secret(&[]);
        wrong_type["type"] = json!("Opaque");
        let mut deleted = secret(&[]);
        deleted["metadata"]["deletionTimestamp"] = json!("2027-01-01T00:00:00Z");
        let mut no_data = secret(&[]);
        no_data.as_object_mut().map(|o| o.remove("data"));
        let mut not_auth = secret(&[]);
        not_auth["data"]["usage-bootstrap-authentication"] = json!(b64("false"));
        let mut other_id = secret(&[]);
        other_id["data"]["token-id"] = json!(b64("zzzzzz"));
        let cases: Vec<(&str, Value, &str, Mismatch)> = vec![
            ("wrong type", wrong_type, "0123456789abcdef", Mismatch::WrongType),
            ("no data", no_data, "0123456789abcdef", Mismatch::WrongType),
            ("deleted", deleted, "0123456789abcdef", Mismatch::Deleted),
            (
                "wrong secret",
                secret(&[]),
                "0123456789abcdeX",
                Mismatch::WrongSecret,
            ),
            (
                "shorter secret",
                secret(&[]),
                "0123456789abcde",
                Mismatch::WrongSecret,
            ),
            ("other id", other_id, "0123456789abcdef", Mismatch::WrongId),
            (
                "expired",
                secret(&[("expiration", "2027-01-15T07:59:59Z")]),
                "0123456789abcdef",
                Mismatch::Expired,
            ),
            (
                "unparseable expiration",
                secret(&[("expiration", "tomorrow")]),
                "0123456789abcdef",
                Mismatch::Expired,
            ),
            (
                "not for authentication",
                not_auth,
                "0123456789abcdef",
                Mismatch::NotForAuthentication,
            ),
            (
                "bad extra group",
                secret(&[("auth-extra-groups", "system:masters")]),
                "0123456789abcdef",
                Mismatch::BadGroup("system:masters".into()),
            ),
            (
                "extra group ending in a colon",
                secret(&[("auth-extra-groups", "system:bootstrappers:x:")]),
                "0123456789abcdef",
                Mismatch::BadGroup("system:bootstrappers:x:".into()),
            ),
        ];
        for (what, s, token_secret, want) in cases {
            assert_eq!(user_for(&s, "abcdef", token_secret, NOW), Err(want), "{what}");
        }
    }

    #[test]
    fn expiration_boundaries() {
        let at = |e: &str| secret(&[("expiration", e)]);
        assert!(!has_expired(&secret(&[]), NOW));
        assert!(
            !has_expired(&at("2027-01-15T08:00:00Z"), NOW),
            "not after: still valid"
        );
        assert!(!has_expired(&at("2027-01-15T09:00:00+01:00"), NOW - 1));
        assert!(has_expired(&at("2027-01-15T07:59:59.5Z"), NOW));
        assert!(!has_expired(&at("2030-01-01T00:00:00Z"), NOW));
    }
}
