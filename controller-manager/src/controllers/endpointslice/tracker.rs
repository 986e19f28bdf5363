//! What the last sync of each Service wrote, so the next sync does not act on a cache that has
//! not caught up (upstream `endpointSliceTracker` and its stale-slice check): acting on a stale
//! cache would create duplicate slices.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use parking_lot::Mutex;

use crate::controllers::util::ObjectKey;

/// How long to trust that a write will show up before giving up and syncing anyway.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Written {
    at: Instant,
    /// Slices written, with the resourceVersion the API answered.
    present: Vec<(String, u64)>,
    /// Slices deleted.
    absent: Vec<String>,
}

/// Per-Service record of the last sync's writes.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    by_service: Mutex<HashMap<ObjectKey, Written>>,
}

fn rv(slice: &EndpointSlice) -> u64 {
    slice
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Tracker {
    pub(crate) fn record(&self, service: &ObjectKey, present: Vec<(String, u64)>, absent: Vec<String>) {
        self.by_service.lock().insert(
            service.clone(),
            Written {
                at: Instant::now(),
                present,
                absent,
            },
        );
    }

    pub(crate) fn forget(&self, service: &ObjectKey) {
        self.by_service.lock().remove(service);
    }

    /// Whether `cached` (the Service's slices in the informer) already reflect our writes.
    pub(crate) fn is_current(&self, service: &ObjectKey, cached: &[&EndpointSlice]) -> bool {
        let mut map = self.by_service.lock();
        let Some(w) = map.get(service) else {
            return true;
        };
        let find = |name: &str| cached.iter().find(|s| s.metadata.name.as_deref() == Some(name));
        let caught_up = w
            .present
            .iter()
            .all(|(name, v)| find(name).is_some_and(|s| rv(s) >= *v))
            && w.absent.iter().all(|name| find(name).is_none());
        if caught_up || w.at.elapsed() > PATIENCE {
            map.remove(service);
            return true;
        }
        false
    }

    pub(crate) fn resource_version(slice: &EndpointSlice) -> u64 {
        rv(slice)
    }
}
