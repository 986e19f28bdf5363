//! The kubelet's calls to the apiserver that decide who a caller is (TokenReview) and what it may
//! do (SubjectAccessReview), behind a trait so the authenticator and authorizer are tested
//! without an apiserver. Retries follow upstream's `DefaultAuthWebhookRetryBackoff` (500 ms,
//! ×1.5, 5 tries) on errors worth retrying (transport, 429, 5xx).

use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use k8s_openapi::api::authorization::v1::{
    SubjectAccessReview, SubjectAccessReviewSpec, SubjectAccessReviewStatus,
};
use kube::api::{Api, PostParams};

/// Upstream's webhook request timeout for the kubelet's delegated authn/authz.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const TRIES: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{what}: {message}")]
    Failed { what: &'static str, message: String },
    #[error("{what}: no answer within {REQUEST_TIMEOUT:?}")]
    Timeout { what: &'static str },
    #[error("{what}: the answer has no status")]
    NoStatus { what: &'static str },
}

/// Asks the apiserver about tokens and access.
#[async_trait::async_trait]
pub trait Reviewer: Send + Sync + std::fmt::Debug {
    async fn review_token(&self, token: &str) -> Result<TokenReviewStatus, ReviewError>;
    async fn review_access(
        &self,
        spec: SubjectAccessReviewSpec,
    ) -> Result<SubjectAccessReviewStatus, ReviewError>;
}

/// [`Reviewer`] through the kubelet's own client (its kubeconfig identity needs `create` on
/// tokenreviews and subjectaccessreviews, which `system:node` and `system:auth-delegator` hold).
#[derive(Clone)]
pub struct ApiReviewer {
    client: kube::Client,
}

impl std::fmt::Debug for ApiReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiReviewer").finish_non_exhaustive()
    }
}

impl ApiReviewer {
    pub fn new(client: kube::Client) -> Self {
        ApiReviewer { client }
    }
}

#[async_trait::async_trait]
impl Reviewer for ApiReviewer {
    async fn review_token(&self, token: &str) -> Result<TokenReviewStatus, ReviewError> {
        const WHAT: &str = "TokenReview";
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let params = PostParams::default();
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                // None: the apiserver checks its own API audiences, as upstream's kubelet asks.
                audiences: None,
            },
            ..Default::default()
        };
        let answer = with_retries(WHAT, || api.create(&params, &review)).await?;
        answer.status.ok_or(ReviewError::NoStatus { what: WHAT })
    }

    async fn review_access(
        &self,
        spec: SubjectAccessReviewSpec,
    ) -> Result<SubjectAccessReviewStatus, ReviewError> {
        const WHAT: &str = "SubjectAccessReview";
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let params = PostParams::default();
        let review = SubjectAccessReview {
            spec,
            ..Default::default()
        };
        let answer = with_retries(WHAT, || api.create(&params, &review)).await?;
        answer.status.ok_or(ReviewError::NoStatus { what: WHAT })
    }
}

async fn with_retries<T, F, Fut>(what: &'static str, mut call: F) -> Result<T, ReviewError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 0;
    loop {
        tries += 1;
        let error = match tokio::time::timeout(REQUEST_TIMEOUT, call()).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(e)) if tries < TRIES && retriable(&e) => e,
            Ok(Err(e)) => {
                return Err(ReviewError::Failed {
                    what,
                    message: e.to_string(),
                });
            }
            Err(_) => return Err(ReviewError::Timeout { what }),
        };
        tracing::debug!(%error, tries, "{what} failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff = backoff.mul_f64(1.5);
    }
}

/// Upstream's `DefaultShouldRetry`: connection problems, 429 and 5xx.
fn retriable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn retries_server_errors_then_gives_up() {
        let mut calls = 0;
        let result: Result<(), _> = with_retries("TokenReview", || {
            calls += 1;
            async { Err(api_error(503)) }
        })
        .await;
        assert_eq!(calls, TRIES);
        assert!(matches!(result, Err(ReviewError::Failed { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_error_is_final_and_a_later_success_wins() {
        let mut calls = 0;
        let result: Result<(), _> = with_retries("SubjectAccessReview", || {
            calls += 1;
            async { Err(api_error(403)) }
        })
        .await;
        assert_eq!(calls, 1);
        let message = result.unwrap_err().to_string();
        assert!(message.starts_with("SubjectAccessReview: "), "{message}");

        let mut calls = 0;
        let result = with_retries("TokenReview", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(api_error(429)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
    }
}
