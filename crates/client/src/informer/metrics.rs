//! The informers' `rudder_informer_*` metrics (see the module docs of `informer`).

use std::sync::OnceLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};

use crate::Object;
use crate::metrics::register;

struct Families {
    events: Option<IntCounterVec>,
    lists: Option<IntCounterVec>,
    errors: Option<IntCounterVec>,
    objects: Option<IntGaugeVec>,
}

fn families() -> &'static Families {
    static FAMILIES: OnceLock<Families> = OnceLock::new();
    FAMILIES.get_or_init(|| Families {
        events: register("rudder_informer_events_total", || {
            IntCounterVec::new(
                Opts::new(
                    "rudder_informer_events_total",
                    "Changes an informer delivered to its store and subscribers, by type (applied, deleted).",
                ),
                &["resource", "type"],
            )
        }),
        lists: register("rudder_informer_lists_total", || {
            IntCounterVec::new(
                Opts::new(
                    "rudder_informer_lists_total",
                    "Complete lists (initial and relists) an informer loaded into its store.",
                ),
                &["resource"],
            )
        }),
        errors: register("rudder_informer_watch_errors_total", || {
            IntCounterVec::new(
                Opts::new(
                    "rudder_informer_watch_errors_total",
                    "List or watch errors an informer backed off from.",
                ),
                &["resource"],
            )
        }),
        objects: register("rudder_informer_objects", || {
            IntGaugeVec::new(
                Opts::new("rudder_informer_objects", "Objects in an informer's store."),
                &["resource"],
            )
        }),
    })
}

/// `pods`, `deployments.apps`: plural, then the group if any (upstream's resource notation).
pub(crate) fn resource_label<K: Object>() -> String {
    let plural = K::plural(&());
    let group = K::group(&());
    if group.is_empty() {
        plural.into_owned()
    } else {
        format!("{plural}.{group}")
    }
}

/// One informer's handles on the families.
#[derive(Debug)]
pub(crate) struct InformerMetrics {
    applied: Option<IntCounter>,
    deleted: Option<IntCounter>,
    lists: Option<IntCounter>,
    errors: Option<IntCounter>,
    objects: Option<IntGauge>,
}

impl InformerMetrics {
    pub(crate) fn new(resource: &str) -> Self {
        let f = families();
        Self {
            applied: f
                .events
                .as_ref()
                .map(|v| v.with_label_values(&[resource, "applied"])),
            deleted: f
                .events
                .as_ref()
                .map(|v| v.with_label_values(&[resource, "deleted"])),
            lists: f.lists.as_ref().map(|v| v.with_label_values(&[resource])),
            errors: f.errors.as_ref().map(|v| v.with_label_values(&[resource])),
            objects: f.objects.as_ref().map(|v| v.with_label_values(&[resource])),
        }
    }

    pub(crate) fn applied(&self, n: usize) {
        if let Some(c) = &self.applied {
            c.inc_by(n as u64);
        }
    }

    pub(crate) fn deleted(&self, n: usize) {
        if let Some(c) = &self.deleted {
            c.inc_by(n as u64);
        }
    }

    pub(crate) fn listed(&self) {
        if let Some(c) = &self.lists {
            c.inc();
        }
    }

    pub(crate) fn error(&self) {
        if let Some(c) = &self.errors {
            c.inc();
        }
    }

    pub(crate) fn set_objects(&self, n: usize) {
        if let Some(g) = &self.objects {
            g.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}
