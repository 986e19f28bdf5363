//! Transforms: trim objects before an informer caches them (client-go `SetTransform`).
//!
//! A large cluster's pods and nodes carry a lot a component never reads — above all
//! `metadata.managedFields`, often half of a pod's size. Upstream's kube-scheduler and
//! kube-controller-manager drop it with `TransformStripManagedFields` on every shared informer;
//! [`strip_managed_fields`] is that transform.

use std::fmt;
use std::sync::Arc;

use kube::runtime::watcher::Event;

use crate::Object;

/// The annotation `kubectl apply` keeps the last applied object in (often as big as the object).
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A function applied to every object before it enters an informer's store.
pub(crate) struct Transform<K>(Arc<dyn Fn(&mut K) + Send + Sync>);

impl<K> Clone for Transform<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K> fmt::Debug for Transform<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Transform")
    }
}

impl<K: Object> Transform<K> {
    pub(crate) fn new(f: impl Fn(&mut K) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// `event` with every object in it transformed.
    pub(crate) fn event(&self, event: Event<K>) -> Event<K> {
        match event {
            Event::Apply(mut obj) => {
                (self.0)(&mut obj);
                Event::Apply(obj)
            }
            Event::Delete(mut obj) => {
                (self.0)(&mut obj);
                Event::Delete(obj)
            }
            Event::InitApply(mut obj) => {
                (self.0)(&mut obj);
                Event::InitApply(obj)
            }
            other @ (Event::Init | Event::InitDone) => other,
        }
    }
}

/// Drops `metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-configuration`
/// annotation (upstream `TransformStripManagedFields`, plus the annotation, which no
/// controller reads either). An object left without annotations keeps `None`.
pub fn strip_managed_fields<K: kube::Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use kube::api::ObjectMeta;

    use super::*;

    fn pod(annotations: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                managed_fields: Some(vec![ManagedFieldsEntry {
                    manager: Some("kubectl".into()),
                    ..ManagedFieldsEntry::default()
                }]),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn strips_managed_fields_and_last_applied_only() {
        let mut p = pod(&[(LAST_APPLIED_ANNOTATION, "{}"), ("keep", "me")]);
        strip_managed_fields(&mut p);
        assert_eq!(p.metadata.managed_fields, None);
        let annotations = p.metadata.annotations.expect("other annotations kept");
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations.get("keep").map(String::as_str), Some("me"));
        assert_eq!(p.metadata.name.as_deref(), Some("p"));
    }

    #[test]
    fn annotations_emptied_by_stripping_become_none() {
        let mut p = pod(&[(LAST_APPLIED_ANNOTATION, "{}")]);
        strip_managed_fields(&mut p);
        assert_eq!(p.metadata.annotations, None);
    }

    #[test]
    fn every_object_carrying_event_is_transformed() {
        let t = Transform::<Pod>::new(strip_managed_fields);
        for event in [
            Event::Apply(pod(&[])),
            Event::Delete(pod(&[])),
            Event::InitApply(pod(&[])),
        ] {
            match t.event(event) {
                Event::Apply(p) | Event::Delete(p) | Event::InitApply(p) => {
                    assert_eq!(p.metadata.managed_fields, None)
                }
                Event::Init | Event::InitDone => panic!("kind changed"),
            }
        }
        assert!(matches!(t.event(Event::Init), Event::Init));
        assert!(matches!(t.event(Event::InitDone), Event::InitDone));
    }
}
