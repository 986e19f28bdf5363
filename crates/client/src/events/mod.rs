//! Event recorders: `core/v1` Events (upstream's legacy `record` recorder, used by the
//! controller-manager) and `events.k8s.io/v1` Events (upstream's `tools/events` recorder, used
//! by the scheduler).
//!
//! [`EventRecorder::record`] never blocks: events go on a queue of 1000 and a background task
//! writes them, up to 16 at once (one key's writes in order). When the queue is full events are
//! dropped, as upstream, with one warning per [`DROP_LOG_INTERVAL`] giving the count. Repeats of the same object, type,
//! reason, action and message within 10 minutes update the first Event instead of creating
//! another: core/v1 patches `count` and `lastTimestamp`; events.k8s.io/v1 patches
//! `series {count, lastObservedTime}`. Event names are `<object-name>.<unix-nanos-hex>`, in the
//! object's namespace (`default` for cluster-scoped objects).
//!
//! core/v1 recorders also do what upstream's `EventCorrelator` does besides counting: from the
//! 10th distinct message of one object, type and reason within 10 minutes, events fold into one
//! "(combined from similar events): <latest message>" Event; and each object gets at most 25
//! Events at once, then one per 5 minutes (the spam filter), the rest being dropped.

mod build;
mod cache;
mod correlate;
mod drops;
mod sink;

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::mpsc;

use crate::Object;
use build::Recorded;
pub use drops::DROP_LOG_INTERVAL;

/// Upstream `maxQueuedEvents`.
const QUEUE: usize = 1000;

/// Which Event API a recorder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApi {
    /// `v1` Events (`involvedObject`, `count`, `firstTimestamp`/`lastTimestamp`).
    CoreV1,
    /// `events.k8s.io/v1` Events (`regarding`, `note`, `series`).
    EventsV1,
}

/// The Event `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Records Events for one component. Cheap to clone; clones share the queue and writer.
#[derive(Clone)]
pub struct EventRecorder {
    component: String,
    api: EventApi,
    /// `None` when created outside a tokio runtime: events are then only logged.
    tx: Option<mpsc::Sender<Recorded>>,
    /// Events dropped on a full queue, logged at most once per [`DROP_LOG_INTERVAL`].
    dropped: Arc<drops::Drops>,
}

impl fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecorder")
            .field("component", &self.component)
            .field("api", &self.api)
            .finish()
    }
}

impl EventRecorder {
    /// A recorder for `component` (`default-scheduler`, `deployment-controller`) writing `api`
    /// Events. Starts its writer on the current tokio runtime; the writer stops once every
    /// clone of the recorder is dropped.
    pub fn new(client: kube::Client, component: &str, api: EventApi) -> Self {
        let tx = match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                handle.spawn(sink::Sink::new(client, api, component).run(rx));
                Some(tx)
            }
            Err(error) => {
                tracing::error!(%error, component, "event recorder created outside a tokio runtime; events will not be written");
                None
            }
        };
        Self {
            component: component.to_string(),
            api,
            tx,
            dropped: Arc::default(),
        }
    }

    /// Record an event about `regarding`. Non-blocking: queued and written in the background.
    /// `action` is what was done or failed (`Scheduling`, `Binding`); core/v1 Events carry it
    /// too.
    pub fn record(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        message: &str,
    ) {
        tracing::debug!(
            component = %self.component,
            object = %format!(
                "{}/{}",
                regarding.namespace.as_deref().unwrap_or(""),
                regarding.name.as_deref().unwrap_or("")
            ),
            kind = regarding.kind.as_deref().unwrap_or(""),
            type_ = type_.as_str(),
            reason,
            message,
            "event"
        );
        let Some(tx) = &self.tx else {
            return;
        };
        let recorded = Recorded {
            regarding: regarding.clone(),
            type_: type_.as_str(),
            reason: reason.to_string(),
            action: action.to_string(),
            message: message.to_string(),
            at: Timestamp::now(),
        };
        match tx.try_send(recorded) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.dropped.dropped(&self.component),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!(reason, "unable to record event: event writer stopped");
            }
        }
    }
}

/// A reference to `obj` for [`EventRecorder::record`] (upstream `reference.GetReference`):
/// apiVersion, kind, namespace, name, uid, resourceVersion.
pub fn object_ref<K: Object>(obj: &K) -> ObjectReference {
    let meta = obj.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}
