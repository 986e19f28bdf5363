//! The Job controller's metrics, with upstream's names (`pkg/controller/job/metrics`),
//! registered once in the process's default registry (served at `/metrics`).

use std::sync::OnceLock;

use prometheus::{IntCounterVec, Opts};

pub(crate) struct Metrics {
    /// `job_controller_jobs_finished_total{completion_mode,result,reason}`.
    finished: Option<IntCounterVec>,
    /// `job_controller_job_pods_finished_total{completion_mode,result}`.
    pods_finished: Option<IntCounterVec>,
    /// `job_controller_job_syncs_total{completion_mode,result,action}`.
    syncs: Option<IntCounterVec>,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> Option<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help).subsystem("job_controller"), labels).ok()?;
    match prometheus::register(Box::new(c.clone())) {
        Ok(()) => Some(c),
        Err(e) => {
            tracing::warn!(metric = name, error = %e, "cannot register metric");
            None
        }
    }
}

pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics {
        finished: counter(
            "jobs_finished_total",
            "The number of finished jobs",
            &["completion_mode", "result", "reason"],
        ),
        pods_finished: counter(
            "job_pods_finished_total",
            "The number of finished Pods that are fully tracked",
            &["completion_mode", "result"],
        ),
        syncs: counter(
            "job_syncs_total",
            "The number of job syncs",
            &["completion_mode", "result", "action"],
        ),
    })
}

impl Metrics {
    pub(crate) fn job_finished(&self, mode: &str, succeeded: bool, reason: &str) {
        if let Some(c) = &self.finished {
            let result = if succeeded { "succeeded" } else { "failed" };
            c.with_label_values(&[mode, result, reason]).inc();
        }
    }

    pub(crate) fn pods_finished(&self, mode: &str, succeeded: i32, failed: i32) {
        if let Some(c) = &self.pods_finished {
            c.with_label_values(&[mode, "succeeded"])
                .inc_by(u64::try_from(succeeded).unwrap_or(0));
            c.with_label_values(&[mode, "failed"])
                .inc_by(u64::try_from(failed).unwrap_or(0));
        }
    }

    pub(crate) fn sync(&self, mode: &str, ok: bool, action: &str) {
        if let Some(c) = &self.syncs {
            c.with_label_values(&[mode, if ok { "success" } else { "error" }, action])
                .inc();
        }
    }
}
