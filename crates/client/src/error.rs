//! The crate's error type.

use std::path::PathBuf;

/// What can fail in this crate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig file could not be read or parsed.
    #[error("read kubeconfig {path}: {source}")]
    ReadKubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// No configuration was found ($KUBECONFIG, ~/.kube/config, in-cluster), or it is invalid.
    #[error("load client configuration: {0}")]
    InferConfig(#[from] kube::config::InferConfigError),
    /// The kubeconfig was read but does not describe a usable client.
    #[error("client configuration from {path}: {source}")]
    KubeconfigConfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Building the HTTP client failed.
    #[error("build client: {0}")]
    BuildClient(#[source] kube::Error),
    /// A Go duration string did not parse.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration { input: String, reason: &'static str },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A request to the apiserver failed.
    #[error("{operation}: {source}")]
    Api {
        operation: &'static str,
        #[source]
        source: kube::Error,
    },
    /// Leader election: the lease could not be renewed within the renew deadline.
    #[error("leader election lost: lease {namespace}/{name} was not renewed in time")]
    LeaderElectionLost { namespace: String, name: String },
    /// Serving: the listener could not be bound or the certificate could not be made.
    #[error("serve {what}: {reason}")]
    Serve { what: &'static str, reason: String },
    /// An informer's transform was set after the informer started.
    #[error("informer for {resource} already started; set its transform before starting it")]
    InformerStarted { resource: String },
}
