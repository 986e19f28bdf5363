//! Upstream's workqueue metrics (`k8s.io/component-base/metrics/prometheus/workqueue`), label
//! `name`: `workqueue_adds_total`, `workqueue_depth`, `workqueue_queue_duration_seconds`,
//! `workqueue_work_duration_seconds`, `workqueue_retries_total`,
//! `workqueue_unfinished_work_seconds`, `workqueue_longest_running_processor_seconds`.
//!
//! The last two are computed when scraped from every live queue (upstream refreshes them every
//! 500ms); queues sharing a name are summed (unfinished) or maxed (longest).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use tokio::time::Instant;

use crate::metrics::register;

/// Sum and maximum of the processing time of the items a queue is working on.
pub(crate) trait UnfinishedWork: Send + Sync {
    fn queue_name(&self) -> &str;
    fn unfinished(&self, now: Instant) -> (std::time::Duration, std::time::Duration);
}

struct Families {
    adds: Option<IntCounterVec>,
    depth: Option<IntGaugeVec>,
    queue_duration: Option<HistogramVec>,
    work_duration: Option<HistogramVec>,
    retries: Option<IntCounterVec>,
    unfinished: Option<UnfinishedCollector>,
}

fn families() -> &'static Families {
    static FAMILIES: OnceLock<Families> = OnceLock::new();
    FAMILIES.get_or_init(|| {
        // Upstream: ExponentialBuckets(10e-9, 10, 10), 10ns .. 10s.
        let buckets = || prometheus::exponential_buckets(10e-9, 10.0, 10);
        Families {
            adds: register("workqueue_adds_total", || {
                IntCounterVec::new(
                    Opts::new(
                        "workqueue_adds_total",
                        "Total number of adds handled by workqueue",
                    ),
                    &["name"],
                )
            }),
            depth: register("workqueue_depth", || {
                IntGaugeVec::new(
                    Opts::new("workqueue_depth", "Current depth of workqueue"),
                    &["name"],
                )
            }),
            queue_duration: register("workqueue_queue_duration_seconds", || {
                HistogramVec::new(
                    HistogramOpts::new(
                        "workqueue_queue_duration_seconds",
                        "How long in seconds an item stays in workqueue before being requested.",
                    )
                    .buckets(buckets()?),
                    &["name"],
                )
            }),
            work_duration: register("workqueue_work_duration_seconds", || {
                HistogramVec::new(
                    HistogramOpts::new(
                        "workqueue_work_duration_seconds",
                        "How long in seconds processing an item from workqueue takes.",
                    )
                    .buckets(buckets()?),
                    &["name"],
                )
            }),
            retries: register("workqueue_retries_total", || {
                IntCounterVec::new(
                    Opts::new(
                        "workqueue_retries_total",
                        "Total number of retries handled by workqueue",
                    ),
                    &["name"],
                )
            }),
            unfinished: register("workqueue_unfinished_work_seconds", UnfinishedCollector::new),
        }
    })
}

/// One queue's handles on the shared families (all `None` if metrics could not be registered).
#[derive(Debug, Clone)]
pub(crate) struct QueueMetrics {
    adds: Option<IntCounter>,
    depth: Option<IntGauge>,
    queue_duration: Option<Histogram>,
    work_duration: Option<Histogram>,
    retries: Option<IntCounter>,
}

impl QueueMetrics {
    pub(crate) fn new(name: &str) -> Self {
        let f = families();
        Self {
            adds: f.adds.as_ref().map(|v| v.with_label_values(&[name])),
            depth: f.depth.as_ref().map(|v| v.with_label_values(&[name])),
            queue_duration: f.queue_duration.as_ref().map(|v| v.with_label_values(&[name])),
            work_duration: f.work_duration.as_ref().map(|v| v.with_label_values(&[name])),
            retries: f.retries.as_ref().map(|v| v.with_label_values(&[name])),
        }
    }

    /// Track `queue` for the unfinished-work gauges for as long as it lives.
    pub(crate) fn track(queue: Weak<dyn UnfinishedWork>) {
        if let Some(collector) = &families().unfinished {
            let mut queues = collector.queues.lock();
            // Also pruned on every scrape; this keeps an unscraped process from piling up
            // dropped queues.
            queues.retain(|q| q.strong_count() > 0);
            queues.push(queue);
        }
    }

    pub(crate) fn added(&self, n: usize) {
        if let Some(c) = &self.adds {
            c.inc_by(n as u64);
        }
    }

    pub(crate) fn set_depth(&self, depth: usize) {
        if let Some(g) = &self.depth {
            g.set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
    }

    pub(crate) fn queued_for(&self, d: std::time::Duration) {
        if let Some(h) = &self.queue_duration {
            h.observe(d.as_secs_f64());
        }
    }

    pub(crate) fn worked_for(&self, d: std::time::Duration) {
        if let Some(h) = &self.work_duration {
            h.observe(d.as_secs_f64());
        }
    }

    pub(crate) fn retried(&self) {
        if let Some(c) = &self.retries {
            c.inc();
        }
    }
}

/// Computes `workqueue_unfinished_work_seconds` and
/// `workqueue_longest_running_processor_seconds` at scrape time.
#[derive(Clone)]
struct UnfinishedCollector {
    queues: Arc<Mutex<Vec<Weak<dyn UnfinishedWork>>>>,
    unfinished: GaugeVec,
    longest: GaugeVec,
}

impl UnfinishedCollector {
    fn new() -> prometheus::Result<Self> {
        Ok(Self {
            queues: Arc::default(),
            unfinished: GaugeVec::new(
                Opts::new(
                    "workqueue_unfinished_work_seconds",
                    "How many seconds of work has done that is in progress and hasn't been observed by \
                     work_duration. Large values indicate stuck threads. One can deduce the number of \
                     stuck threads by observing the rate at which this increases.",
                ),
                &["name"],
            )?,
            longest: GaugeVec::new(
                Opts::new(
                    "workqueue_longest_running_processor_seconds",
                    "How many seconds has the longest running processor for workqueue been running.",
                ),
                &["name"],
            )?,
        })
    }
}

impl Collector for UnfinishedCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs = self.unfinished.desc();
        descs.extend(self.longest.desc());
        descs
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = Instant::now();
        let mut per_name: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        // Held to the end so that concurrent scrapes do not interleave reset and set.
        let mut queues = self.queues.lock();
        queues.retain(|weak| {
            let Some(queue) = weak.upgrade() else {
                return false;
            };
            let (sum, max) = queue.unfinished(now);
            let entry = per_name.entry(queue.queue_name().to_string()).or_default();
            entry.0 += sum.as_secs_f64();
            entry.1 = entry.1.max(max.as_secs_f64());
            true
        });
        // Rebuilt on every scrape so that names of dropped queues disappear.
        self.unfinished.reset();
        self.longest.reset();
        for (name, (sum, max)) in per_name {
            let set = |v: &GaugeVec, x: f64| v.with_label_values(&[name.as_str()]).set(x);
            set(&self.unfinished, sum);
            set(&self.longest, max);
        }
        let mut families = self.unfinished.collect();
        families.extend(self.longest.collect());
        drop(queues);
        families
    }
}
