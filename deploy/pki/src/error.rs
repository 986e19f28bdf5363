//! What can go wrong in `init`, `renew` and `check`, one variant per failed step.

use std::path::PathBuf;

use crate::fsutil::FsError;
use crate::inspect::InspectError;
use crate::issue::IssueError;
use crate::kubeconfig::KubeconfigError;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error("{path}: {source}")]
    Inspect {
        path: PathBuf,
        #[source]
        source: InspectError,
    },
    #[error("{path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: KubeconfigError,
    },
    #[error("{present} exists but {missing} does not: remove it or restore the other")]
    HalfPair { present: PathBuf, missing: PathBuf },
    #[error("{path} exists but does not fit: {reason} (remove it to have it re-issued)")]
    Mismatch { path: PathBuf, reason: String },
    #[error("{path} is not signed by {ca}")]
    NotSignedBy { path: PathBuf, ca: PathBuf },
    #[error("{path}: the private key does not belong to the certificate")]
    KeyMismatch { path: PathBuf },
    #[error("{0} does not exist: run `rudder-pki init` first")]
    MissingCa(PathBuf),
    #[error("the system's random number generator failed")]
    Random,
    #[error("{0} holds no certificates")]
    Empty(PathBuf),
}
