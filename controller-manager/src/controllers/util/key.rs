//! The `namespace/name` key controllers queue (upstream `cache.MetaNamespaceKeyFunc`).

use std::fmt;

use kube::Resource;

/// A namespaced (or, with an empty namespace, cluster-scoped) object's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of `obj` (empty namespace for cluster-scoped objects).
    pub fn of<K: Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        ObjectKey::new(
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    }

    /// A kube-runtime store reference for this key.
    pub fn to_ref<K: Resource<DynamicType = ()>>(&self) -> kube::runtime::reflector::ObjectRef<K> {
        let r = kube::runtime::reflector::ObjectRef::new(&self.name);
        if self.namespace.is_empty() {
            r
        } else {
            r.within(&self.namespace)
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}
