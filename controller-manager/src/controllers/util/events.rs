//! Events controllers record: core/v1 Events (like upstream's legacy recorder) through
//! rudder-client's aggregating [`EventRecorder`], with upstream reasons (`SuccessfulCreate`...).

use rudder_client::events::{EventApi, EventRecorder};
pub use rudder_client::events::{EventType, object_ref};

use k8s_openapi::api::core::v1::ObjectReference;

/// Records events for one component. Cheap to clone; never blocks the caller.
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: EventRecorder,
}

impl Recorder {
    pub fn new(client: kube::Client, component: &str) -> Self {
        Recorder {
            inner: EventRecorder::new(client, component, EventApi::CoreV1),
        }
    }

    /// Records `reason`/`message` about `regarding`. Upstream controllers' core/v1 events carry
    /// no action.
    pub fn record(&self, regarding: &ObjectReference, type_: EventType, reason: &str, message: &str) {
        self.inner.record(regarding, type_, reason, "", message);
    }
}
