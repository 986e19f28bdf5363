//! Sharing equal values between pod records. Pods made from one template carry the same
//! namespace, labels, tolerations (two defaults on every pod), images, scheduler name and,
//! once scheduled, one of a few thousand node names: one `Arc` of each distinct value serves
//! them all, instead of a copy per pod (a label map alone costs ~600 bytes however small).
//!
//! Values nobody else holds any more are dropped when a pool has doubled since its last sweep,
//! so a pool stays within twice the distinct values in use.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Toleration;

/// Pools below this size are never swept.
const MIN_SWEEP: usize = 1024;

/// A pod's tolerations, comparable and hashable as a whole so they can be shared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tolerations(pub Vec<Toleration>);

impl Eq for Tolerations {}

impl Hash for Tolerations {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for t in &self.0 {
            t.key.hash(state);
            t.operator.hash(state);
            t.value.hash(state);
            t.effect.hash(state);
            t.toleration_seconds.hash(state);
        }
    }
}

impl Deref for Tolerations {
    type Target = [Toleration];

    fn deref(&self) -> &[Toleration] {
        &self.0
    }
}

#[derive(Debug)]
struct Pool<T: ?Sized> {
    set: HashSet<Arc<T>>,
    sweep_at: usize,
}

impl<T: ?Sized> Default for Pool<T> {
    fn default() -> Self {
        Self {
            set: HashSet::new(),
            sweep_at: MIN_SWEEP,
        }
    }
}

impl<T: ?Sized + Hash + Eq> Pool<T> {
    fn get(&self, value: &T) -> Option<Arc<T>> {
        self.set.get(value).cloned()
    }

    /// Adds a value not in the pool, sweeping first when the pool has doubled.
    fn insert(&mut self, shared: Arc<T>) -> Arc<T> {
        if self.set.len() >= self.sweep_at {
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.sweep_at = (self.set.len() * 2).max(MIN_SWEEP);
        }
        self.set.insert(shared.clone());
        shared
    }

    fn len(&self) -> usize {
        self.set.len()
    }
}

/// The pools used while converting pods (one per pod informer; not shared across threads).
#[derive(Debug, Default)]
pub struct Interner {
    strings: Pool<str>,
    labels: Pool<BTreeMap<String, String>>,
    tolerations: Pool<Tolerations>,
    images: Pool<[Option<String>]>,
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    pub fn string(&mut self, s: &str) -> Arc<str> {
        match self.strings.get(s) {
            Some(shared) => shared,
            None => self.strings.insert(Arc::from(s)),
        }
    }

    pub fn labels(&mut self, labels: BTreeMap<String, String>) -> Arc<BTreeMap<String, String>> {
        match self.labels.get(&labels) {
            Some(shared) => shared,
            None => self.labels.insert(Arc::new(labels)),
        }
    }

    pub fn tolerations(&mut self, tolerations: Vec<Toleration>) -> Arc<Tolerations> {
        let tolerations = Tolerations(tolerations);
        match self.tolerations.get(&tolerations) {
            Some(shared) => shared,
            None => self.tolerations.insert(Arc::new(tolerations)),
        }
    }

    pub fn images(&mut self, images: Vec<Option<String>>) -> Arc<[Option<String>]> {
        match self.images.get(&images[..]) {
            Some(shared) => shared,
            None => self.images.insert(Arc::from(images)),
        }
    }

    /// Distinct values held (for tests).
    pub fn len(&self) -> usize {
        self.strings.len() + self.labels.len() + self.tolerations.len() + self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(app: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), app.to_string())])
    }

    #[test]
    fn equal_values_share_one_copy() {
        let mut i = Interner::new();
        let a = i.labels(labels("web"));
        let b = i.labels(labels("web"));
        let c = i.labels(labels("db"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&i.string("default"), &i.string("default")));
        let tol = |s: Option<i64>| Toleration {
            key: Some("node.kubernetes.io/not-ready".into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: s,
            ..Toleration::default()
        };
        let t1 = i.tolerations(vec![tol(Some(300))]);
        let t2 = i.tolerations(vec![tol(Some(300))]);
        let t3 = i.tolerations(vec![tol(None)]);
        assert!(Arc::ptr_eq(&t1, &t2) && !Arc::ptr_eq(&t1, &t3));
        assert_eq!(t1.len(), 1, "derefs to the slice");
        let images = vec![Some("pause".to_string()), None];
        assert!(Arc::ptr_eq(&i.images(images.clone()), &i.images(images)));
    }

    #[test]
    fn values_no_pod_holds_are_swept_when_the_pool_doubles() {
        let mut i = Interner::new();
        let kept: Vec<_> = (0..10).map(|n| i.labels(labels(&format!("kept-{n}")))).collect();
        for n in 10..MIN_SWEEP {
            drop(i.labels(labels(&format!("gone-{n}"))));
        }
        assert_eq!(i.len(), MIN_SWEEP, "not swept below the minimum");
        // The next new value triggers a sweep: only the held ones (and it) remain.
        let last = i.labels(labels("last"));
        assert_eq!(i.len(), 11);
        assert!(Arc::ptr_eq(&kept[3], &i.labels(labels("kept-3"))));
        assert!(Arc::ptr_eq(&last, &i.labels(labels("last"))));
    }
}
