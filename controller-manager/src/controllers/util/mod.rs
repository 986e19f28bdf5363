//! What many controllers need. **Other controllers: use these instead of writing your own**, so
//! ownership, readiness and expectations mean the same thing everywhere (upstream keeps the same
//! helpers in `pkg/controller/controller_utils.go` and `controller_ref_manager.go`).
//!
//! - [`owner`]: controllerRef lookup, building a controllerRef, and the adopt/release decision
//!   (`ClaimPods`) as a pure function, plus the patch bodies that carry it out.
//! - [`claim`]: `claim_pods`, the adopt/release decision carried out against the API.
//! - [`pod`]: active / ready / available checks, and upstream's order of pods to delete first.
//! - [`template`]: a Pod from a PodTemplateSpec (generateName, labels, ownerRefs).
//! - [`expectations`]: `ControllerExpectations`: creates and deletes in flight per controller key,
//!   so a sync does not act again on a stale informer cache.
//! - [`selector`]: a `metav1.LabelSelector` as a matcher (rudder-api's upstream-exact selector).
//! - [`key`]: the namespace/name key work queues carry.
//! - [`worker`]: `run_workers` (queue → sync loops with backoff) and `forward` (informer → queue).
//! - [`events`]: the event recorder controllers use (`ctx.recorder("...-controller")`).

pub mod api;
pub mod claim;
pub mod events;
pub mod expectations;
pub mod key;
pub mod owner;
pub mod pod;
pub mod selector;
pub mod template;
pub mod worker;

pub use key::ObjectKey;
