//! The Job controller (upstream `pkg/controller/job`): runs pods until enough succeed, with
//! parallelism, back-off and backoffLimit, Indexed completion, activeDeadlineSeconds, pod
//! failure and success policies, suspension, and exact pod accounting through the
//! `batch.kubernetes.io/job-tracking` finalizer.

pub mod conditions;
pub mod indexes;
pub mod plan;
pub mod pods;
pub mod policy;
pub mod tracking;
