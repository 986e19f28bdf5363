//! A [`Reviewer`] for unit tests: tokens map to users, users are allowed or not, calls counted.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use k8s_openapi::api::authentication::v1::{TokenReviewStatus, UserInfo as ApiUser};
use k8s_openapi::api::authorization::v1::{SubjectAccessReviewSpec, SubjectAccessReviewStatus};
use parking_lot::Mutex;

use super::review::{ReviewError, Reviewer};

#[derive(Debug, Default)]
pub(crate) struct FakeReviewer {
    tokens: Mutex<HashMap<String, (String, Vec<String>)>>,
    allowed: Mutex<HashSet<String>>,
    failing: AtomicBool,
    token_calls: AtomicUsize,
    access_calls: AtomicUsize,
    pub(crate) last_access: Mutex<Option<SubjectAccessReviewSpec>>,
}

impl FakeReviewer {
    pub(crate) fn token(&self, token: &str, user: &str, groups: &[&str]) {
        self.tokens.lock().insert(
            token.into(),
            (user.into(), groups.iter().map(|g| g.to_string()).collect()),
        );
    }

    pub(crate) fn allow(&self, user: &str) {
        self.allowed.lock().insert(user.into());
    }

    pub(crate) fn deny(&self, user: &str) {
        self.allowed.lock().remove(user);
    }

    /// Every call fails (the apiserver is unreachable) while set.
    pub(crate) fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub(crate) fn token_calls(&self) -> usize {
        self.token_calls.load(Ordering::SeqCst)
    }

    pub(crate) fn access_calls(&self) -> usize {
        self.access_calls.load(Ordering::SeqCst)
    }

    fn check(&self, what: &'static str) -> Result<(), ReviewError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(ReviewError::Failed {
                what,
                message: "connection refused".into(),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Reviewer for FakeReviewer {
    async fn review_token(&self, token: &str) -> Result<TokenReviewStatus, ReviewError> {
        self.token_calls.fetch_add(1, Ordering::SeqCst);
        self.check("TokenReview")?;
        Ok(match self.tokens.lock().get(token) {
            Some((name, groups)) => TokenReviewStatus {
                authenticated: Some(true),
                user: Some(ApiUser {
                    username: Some(name.clone()),
                    uid: Some(format!("uid-{name}")),
                    groups: Some(groups.clone()),
                    extra: None,
                }),
                ..Default::default()
            },
            None => TokenReviewStatus {
                authenticated: Some(false),
                error: Some("token not found".into()),
                ..Default::default()
            },
        })
    }

    async fn review_access(
        &self,
        spec: SubjectAccessReviewSpec,
    ) -> Result<SubjectAccessReviewStatus, ReviewError> {
        self.access_calls.fetch_add(1, Ordering::SeqCst);
        self.check("SubjectAccessReview")?;
        let user = spec.user.clone().unwrap_or_default();
        *self.last_access.lock() = Some(spec);
        Ok(SubjectAccessReviewStatus {
            allowed: self.allowed.lock().contains(&user),
            ..Default::default()
        })
    }
}
