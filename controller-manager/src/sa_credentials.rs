//! `--use-service-account-credentials` (upstream `SAControllerClientBuilder`): each controller
//! talks to the apiserver as its own service account `kube-system/<name>`, bound by the default
//! RBAC policy to `system:controller:<name>`, instead of as the controller-manager. The account
//! is created when missing; its token comes from the TokenRequest API and is renewed before it
//! expires.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, ObjectMeta, PostParams};
use parking_lot::RwLock;
use rudder_client::ratelimit::{RateLimit, RateLimitLayer};
use rudder_component::shutdown::Shutdown;

/// Where the accounts live.
const NAMESPACE: &str = "kube-system";
/// Lifetime asked for (upstream: one hour); renewed after 80% of it.
const TOKEN_SECONDS: i64 = 3600;
/// Wait before asking again after a failed renewal.
const RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("service account {NAMESPACE}/{account}: {source}")]
    Account {
        account: String,
        #[source]
        source: kube::Error,
    },
    #[error("token for service account {NAMESPACE}/{account}: {reason}")]
    Token { account: String, reason: String },
    #[error("building the client for {account}: {reason}")]
    Client { account: String, reason: String },
}

/// The service account (and client name) upstream gives each controller, by canonical name.
pub fn service_account_name(controller: &str) -> &str {
    match controller {
        "serviceaccount-controller" => "service-account-controller",
        "garbage-collector-controller" => "generic-garbage-collector",
        "replicationcontroller-controller" => "replication-controller",
        "pod-garbage-collector-controller" => "pod-garbage-collector",
        "daemonset-controller" => "daemon-set-controller",
        "endpoints-controller" => "endpoint-controller",
        "node-lifecycle-controller" => "node-controller",
        "horizontal-pod-autoscaler-controller" => "horizontal-pod-autoscaler",
        "persistentvolume-binder-controller" => "persistent-volume-binder",
        "root-ca-certificate-publisher-controller" => "root-ca-cert-publisher",
        "certificatesigningrequest-signing-controller"
        | "certificatesigningrequest-approving-controller"
        | "certificatesigningrequest-cleaner-controller" => "certificate-controller",
        other => other,
    }
}

/// The controller-manager's own client configuration (`--kubeconfig`, else kube's defaults).
pub async fn root_config(kubeconfig: Option<&std::path::Path>) -> Result<kube::Config, CredentialsError> {
    let failed = |reason: String| CredentialsError::Client {
        account: "kube-controller-manager".into(),
        reason,
    };
    match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| failed(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| failed(e.to_string()))
        }
        None => kube::Config::infer().await.map_err(|e| failed(e.to_string())),
    }
}

/// A client authenticated as `kube-system/<account>`: `root` (the controller-manager's own
/// client) makes sure the account exists and requests its tokens; the new client reaches the
/// same server as `root_config` with none of its credentials.
pub async fn client_for(
    root: &kube::Client,
    root_config: &kube::Config,
    account: &str,
    rate_limit: Option<RateLimit>,
    shutdown: Shutdown,
) -> Result<kube::Client, CredentialsError> {
    ensure_account(root, account).await?;
    let (token, expires_in) = request_token(root, account).await?;
    let token = Arc::new(RwLock::new(token));
    tokio::spawn(renew(
        root.clone(),
        account.to_string(),
        token.clone(),
        expires_in,
        shutdown,
    ));
    let mut config = root_config.clone();
    config.auth_info = kube::config::AuthInfo::default();
    let client_error = |e: kube::Error| CredentialsError::Client {
        account: account.to_string(),
        reason: e.to_string(),
    };
    let builder = kube::client::ClientBuilder::try_from(config).map_err(client_error)?;
    let builder = builder.with_layer(&BearerLayer { token });
    Ok(match rate_limit {
        Some(limit) => builder.with_layer(&RateLimitLayer::new(limit)).build(),
        None => builder.build(),
    })
}

async fn ensure_account(root: &kube::Client, account: &str) -> Result<(), CredentialsError> {
    let api: Api<ServiceAccount> = Api::namespaced(root.clone(), NAMESPACE);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(account.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => {
            tracing::info!(account, "created the controller's service account");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(CredentialsError::Account {
            account: account.into(),
            source,
        }),
    }
}

/// A token and how long it lives.
async fn request_token(root: &kube::Client, account: &str) -> Result<(String, Duration), CredentialsError> {
    let api: Api<ServiceAccount> = Api::namespaced(root.clone(), NAMESPACE);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let failed = |reason: String| CredentialsError::Token {
        account: account.into(),
        reason,
    };
    let answer: TokenRequest = api
        .create_subresource("token", account, &PostParams::default(), &request)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = answer
        .status
        .ok_or_else(|| failed("no status in the answer".into()))?;
    let left = status.expiration_timestamp.0.as_second() - k8s_openapi::jiff::Timestamp::now().as_second();
    Ok((status.token, Duration::from_secs(left.max(0) as u64)))
}

/// Renews the token after 80% of its life until `shutdown`.
async fn renew(
    root: kube::Client,
    account: String,
    token: Arc<RwLock<String>>,
    mut expires_in: Duration,
    shutdown: Shutdown,
) {
    loop {
        let wait = expires_in.mul_f64(0.8).max(RETRY);
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match request_token(&root, &account).await {
            Ok((fresh, lifetime)) => {
                *token.write() = fresh;
                expires_in = lifetime;
            }
            Err(error) => {
                tracing::warn!(%account, %error, "renewing the controller's token failed; retrying");
                expires_in = RETRY;
            }
        }
    }
}

/// Sets `Authorization: Bearer <current token>` on every request.
#[derive(Clone)]
struct BearerLayer {
    token: Arc<RwLock<String>>,
}

impl<S> tower::Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            token: self.token.clone(),
        }
    }
}

#[derive(Clone)]
struct Bearer<S> {
    inner: S,
    token: Arc<RwLock<String>>,
}

impl<S, B> tower::Service<http::Request<B>> for Bearer<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {}", self.token.read())) {
            let mut value = value;
            value.set_sensitive(true);
            req.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_use_upstreams_account_names() {
        let cases = [
            ("replicaset-controller", "replicaset-controller"),
            ("daemonset-controller", "daemon-set-controller"),
            ("garbage-collector-controller", "generic-garbage-collector"),
            (
                "certificatesigningrequest-approving-controller",
                "certificate-controller",
            ),
            ("endpoints-controller", "endpoint-controller"),
            ("node-ipam-controller", "node-ipam-controller"),
        ];
        for (controller, account) in cases {
            assert_eq!(service_account_name(controller), account, "{controller}");
        }
    }
}
