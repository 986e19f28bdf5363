//! Events controllers record (core/v1, upstream reasons such as `SuccessfulCreate`).

use k8s_openapi::api::core::v1::ObjectReference;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// Records events for one component. Cheap to clone; never blocks the caller.
#[derive(Clone)]
pub struct Recorder {
    component: String,
    _client: kube::Client,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("component", &self.component)
            .finish()
    }
}

impl Recorder {
    pub fn new(client: kube::Client, component: &str) -> Self {
        Recorder {
            component: component.to_string(),
            _client: client,
        }
    }

    /// Records `reason`/`message` about `regarding`.
    pub fn record(&self, regarding: &ObjectReference, type_: EventType, reason: &str, message: &str) {
        tracing::info!(
            component = %self.component,
            object = %format!("{}/{}", regarding.namespace.as_deref().unwrap_or(""), regarding.name.as_deref().unwrap_or("")),
            kind = regarding.kind.as_deref().unwrap_or(""),
            ?type_,
            reason,
            message,
            "event"
        );
    }
}

/// An ObjectReference to a typed object (kind, apiVersion, namespace, name, uid, resourceVersion).
pub fn object_ref<K: kube::Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
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
