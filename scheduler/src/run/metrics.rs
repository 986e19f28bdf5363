//! Scheduler metrics with upstream's names, registered once per process in the default
//! registry (which the component's /metrics endpoint serves).

use std::sync::OnceLock;

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts};

#[derive(Debug, Clone)]
pub struct Metrics {
    /// `scheduler_schedule_attempts_total{result,profile}`: result = scheduled|unschedulable|error.
    pub schedule_attempts: IntCounterVec,
    /// `scheduler_pending_pods{queue}`: queue = active|backoff|unschedulable|gated.
    pub pending_pods: IntGaugeVec,
    /// `scheduler_scheduling_attempt_duration_seconds{result,profile}`.
    pub attempt_duration: HistogramVec,
    /// `scheduler_scheduling_algorithm_duration_seconds`.
    pub algorithm_duration: Histogram,
    /// `scheduler_preemption_attempts_total`.
    pub preemption_attempts: IntCounter,
    /// `scheduler_preemption_victims`.
    pub preemption_victims: Histogram,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let buckets = prometheus::exponential_buckets(0.001, 2.0, 15)?;
    let m = Metrics {
        schedule_attempts: IntCounterVec::new(
            Opts::new(
                "scheduler_schedule_attempts_total",
                "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
            ),
            &["result", "profile"],
        )?,
        pending_pods: IntGaugeVec::new(
            Opts::new(
                "scheduler_pending_pods",
                "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
            ),
            &["queue"],
        )?,
        attempt_duration: HistogramVec::new(
            HistogramOpts::new(
                "scheduler_scheduling_attempt_duration_seconds",
                "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            )
            .buckets(buckets.clone()),
            &["result", "profile"],
        )?,
        algorithm_duration: Histogram::with_opts(
            HistogramOpts::new(
                "scheduler_scheduling_algorithm_duration_seconds",
                "Scheduling algorithm latency in seconds",
            )
            .buckets(buckets),
        )?,
        preemption_attempts: IntCounter::new(
            "scheduler_preemption_attempts_total",
            "Total preemption attempts in the cluster till now",
        )?,
        preemption_victims: Histogram::with_opts(
            HistogramOpts::new(
                "scheduler_preemption_victims",
                "Number of selected preemption victims",
            )
            .buckets(prometheus::exponential_buckets(1.0, 2.0, 7)?),
        )?,
    };
    let r = prometheus::default_registry();
    r.register(Box::new(m.schedule_attempts.clone()))?;
    r.register(Box::new(m.pending_pods.clone()))?;
    r.register(Box::new(m.attempt_duration.clone()))?;
    r.register(Box::new(m.algorithm_duration.clone()))?;
    r.register(Box::new(m.preemption_attempts.clone()))?;
    r.register(Box::new(m.preemption_victims.clone()))?;
    Ok(m)
}

/// The process-wide metrics (several schedulers in one test process share them).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| match build() {
        Ok(m) => m,
        Err(error) => {
            // Only on a name clash in the default registry; keep working with unregistered ones.
            tracing::error!(%error, "registering scheduler metrics");
            unregistered()
        }
    })
}

fn unregistered() -> Metrics {
    let counter = |n: &str, l: &[&str]| IntCounterVec::new(Opts::new(n, n), l).expect("valid metric");
    let hist = |n: &str, l: &[&str]| HistogramVec::new(HistogramOpts::new(n, n), l).expect("valid metric");
    Metrics {
        schedule_attempts: counter("scheduler_schedule_attempts_total", &["result", "profile"]),
        pending_pods: IntGaugeVec::new(Opts::new("scheduler_pending_pods", "p"), &["queue"])
            .expect("valid metric"),
        attempt_duration: hist(
            "scheduler_scheduling_attempt_duration_seconds",
            &["result", "profile"],
        ),
        algorithm_duration: Histogram::with_opts(HistogramOpts::new(
            "scheduler_scheduling_algorithm_duration_seconds",
            "a",
        ))
        .expect("valid metric"),
        preemption_attempts: IntCounter::new("scheduler_preemption_attempts_total", "p")
            .expect("valid metric"),
        preemption_victims: Histogram::with_opts(HistogramOpts::new("scheduler_preemption_victims", "v"))
            .expect("valid metric"),
    }
}

impl Metrics {
    pub fn set_pending(&self, (active, backoff, unschedulable): (usize, usize, usize)) {
        self.pending_pods
            .with_label_values(&["active"])
            .set(active as i64);
        self.pending_pods
            .with_label_values(&["backoff"])
            .set(backoff as i64);
        self.pending_pods
            .with_label_values(&["unschedulable"])
            .set(unschedulable as i64);
        self.pending_pods.with_label_values(&["gated"]).set(0);
    }
}
