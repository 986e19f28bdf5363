//! What a caller of the kubelet's API may do: upstream's `nodeAuthorizerAttributesGetter`
//! (`pkg/kubelet/server/auth.go`) maps a request to `nodes/<subresource>` attributes, and the
//! Webhook mode asks the apiserver with a SubjectAccessReview per distinct question, caching
//! allowed answers for `cacheAuthorizedTTL` and the rest for `cacheUnauthorizedTTL`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReviewSpec};

use super::authn::UserInfo;
use super::cache::{DEFAULT_CAPACITY, TtlCache};
use super::review::{ReviewError, Reviewer};

/// The API verb for an HTTP method; other methods get "" as upstream.
pub fn api_verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    }
}

/// `path` is `prefix` or below it (upstream's `isSubpath`).
fn is_subpath(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The `nodes` subresources a request is checked against, in order; allowed if any is.
/// Upstream 1.33 with `KubeletFineGrainedAuthz` (beta, on): /pods, /runningpods, /healthz and
/// /configz try their own subresource first and fall back to `proxy`; /stats, /metrics,
/// /logs, /spec and /checkpoint have their own; everything else (exec, attach, portForward,
/// containerLogs, run) is `proxy`.
pub fn subresources(path: &str) -> Vec<&'static str> {
    const OWN: [(&str, &str); 5] = [
        ("/stats", "stats"),
        ("/metrics", "metrics"),
        ("/logs", "log"),
        ("/spec", "spec"),
        ("/checkpoint", "checkpoint"),
    ];
    const FINE_GRAINED: [(&str, &str); 4] = [
        ("/pods", "pods"),
        ("/runningpods", "pods"),
        ("/healthz", "healthz"),
        ("/configz", "configz"),
    ];
    if let Some((_, sub)) = OWN.iter().find(|(p, _)| is_subpath(path, p)) {
        return vec![sub];
    }
    match FINE_GRAINED.iter().find(|(p, _)| is_subpath(path, p)) {
        Some((_, sub)) => vec![sub, "proxy"],
        None => vec!["proxy"],
    }
}

/// The SubjectAccessReview spec for one subresource of this node.
pub fn review_spec(user: &UserInfo, verb: &str, subresource: &str, node: &str) -> SubjectAccessReviewSpec {
    SubjectAccessReviewSpec {
        user: Some(user.name.clone()),
        uid: Some(user.uid.clone()).filter(|u| !u.is_empty()),
        groups: Some(user.groups.clone()),
        extra: Some(user.extra.clone()).filter(|e| !e.is_empty()),
        resource_attributes: Some(ResourceAttributes {
            verb: Some(verb.into()),
            group: Some(String::new()),
            version: Some("v1".into()),
            resource: Some("nodes".into()),
            subresource: Some(subresource.into()),
            name: Some(node.into()),
            namespace: Some(String::new()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `--authorization-mode=Webhook`.
#[derive(Debug)]
pub struct WebhookAuthorizer {
    reviewer: Arc<dyn Reviewer>,
    cache: TtlCache<String, bool>,
    allowed_ttl: Duration,
    denied_ttl: Duration,
}

impl WebhookAuthorizer {
    pub fn new(reviewer: Arc<dyn Reviewer>, allowed_ttl: Duration, denied_ttl: Duration) -> Self {
        WebhookAuthorizer {
            reviewer,
            cache: TtlCache::new(DEFAULT_CAPACITY),
            allowed_ttl,
            denied_ttl,
        }
    }

    /// Whether the apiserver allows `spec`. "Denied" and "no opinion" both refuse.
    pub async fn allowed(&self, spec: SubjectAccessReviewSpec) -> Result<bool, ReviewError> {
        // The whole question is the key, as upstream's webhook authorizer caches it.
        let key = serde_json::to_string(&spec).unwrap_or_default();
        if let Some(allowed) = self.cache.get(&key) {
            return Ok(allowed);
        }
        let status = self.reviewer.review_access(spec).await?;
        let allowed = status.allowed && status.denied != Some(true);
        let ttl = if allowed {
            self.allowed_ttl
        } else {
            self.denied_ttl
        };
        self.cache.insert(key, allowed, ttl);
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fake_review::FakeReviewer;

    #[test]
    fn verbs_and_subresources_are_upstreams() {
        let cases: &[(&str, &[&str])] = &[
            ("/stats/summary", &["stats"]),
            ("/stats", &["stats"]),
            ("/metrics", &["metrics"]),
            ("/metrics/cadvisor", &["metrics"]),
            ("/logs/", &["log"]),
            ("/logs/syslog", &["log"]),
            ("/spec/", &["spec"]),
            ("/checkpoint/ns/pod/c", &["checkpoint"]),
            ("/pods", &["pods", "proxy"]),
            ("/runningpods/", &["pods", "proxy"]),
            ("/healthz", &["healthz", "proxy"]),
            ("/healthz/ping", &["healthz", "proxy"]),
            ("/configz", &["configz", "proxy"]),
            ("/exec/default/p/c", &["proxy"]),
            ("/attach/default/p/c", &["proxy"]),
            ("/portForward/default/p", &["proxy"]),
            ("/containerLogs/default/p/c", &["proxy"]),
            ("/run/default/p/c", &["proxy"]),
            ("/", &["proxy"]),
            // Not a subpath: a prefix of a different word.
            ("/statsfoo", &["proxy"]),
            ("/metricsx/y", &["proxy"]),
            ("/podsx", &["proxy"]),
        ];
        for (path, want) in cases {
            assert_eq!(subresources(path), *want, "{path}");
        }
        assert_eq!(api_verb(&Method::GET), "get");
        assert_eq!(api_verb(&Method::POST), "create");
        assert_eq!(api_verb(&Method::PUT), "update");
        assert_eq!(api_verb(&Method::PATCH), "patch");
        assert_eq!(api_verb(&Method::DELETE), "delete");
        assert_eq!(api_verb(&Method::HEAD), "");
    }

    #[test]
    fn the_review_names_this_node() {
        let user = UserInfo {
            name: "bob".into(),
            groups: vec!["devs".into(), "system:authenticated".into()],
            ..Default::default()
        };
        let spec = review_spec(&user, "create", "proxy", "node-1");
        assert_eq!(spec.user.as_deref(), Some("bob"));
        assert_eq!(spec.uid, None);
        assert_eq!(spec.extra, None);
        let attrs = spec.resource_attributes.unwrap();
        assert_eq!(
            (
                attrs.verb.as_deref(),
                attrs.resource.as_deref(),
                attrs.subresource.as_deref(),
                attrs.name.as_deref(),
                attrs.version.as_deref()
            ),
            (
                Some("create"),
                Some("nodes"),
                Some("proxy"),
                Some("node-1"),
                Some("v1")
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_cached_allowed_longer_than_denied() {
        let fake = Arc::new(FakeReviewer::default());
        fake.allow("alice");
        let authz = WebhookAuthorizer::new(fake.clone(), Duration::from_secs(300), Duration::from_secs(30));
        let user = |name: &str| UserInfo {
            name: name.into(),
            ..Default::default()
        };
        let ask = |name: &str| review_spec(&user(name), "get", "proxy", "n");
        assert!(authz.allowed(ask("alice")).await.unwrap());
        assert!(!authz.allowed(ask("bob")).await.unwrap());
        assert!(authz.allowed(ask("alice")).await.unwrap());
        assert!(!authz.allowed(ask("bob")).await.unwrap());
        assert_eq!(fake.access_calls(), 2, "second answers come from the cache");
        // bob is granted access: seen after the 30 s denial expires, not before.
        fake.allow("bob");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(!authz.allowed(ask("bob")).await.unwrap());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(authz.allowed(ask("bob")).await.unwrap());
        // alice loses it: still allowed from the cache until 5 min.
        fake.deny("alice");
        assert!(authz.allowed(ask("alice")).await.unwrap());
        tokio::time::advance(Duration::from_secs(300)).await;
        assert!(!authz.allowed(ask("alice")).await.unwrap());
        // A different question (another verb) is asked anew.
        let calls = fake.access_calls();
        let other = review_spec(&user("bob"), "create", "proxy", "n");
        assert!(authz.allowed(other).await.unwrap());
        assert_eq!(fake.access_calls(), calls + 1);
        // Failures are not cached.
        fake.fail(true);
        let spec = review_spec(&user("carol"), "get", "proxy", "n");
        assert!(authz.allowed(spec.clone()).await.is_err());
        fake.fail(false);
        assert!(!authz.allowed(spec).await.unwrap());
    }
}
