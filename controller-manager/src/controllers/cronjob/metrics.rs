//! The CronJob controller's metric with upstream's name:
//! `cronjob_controller_job_creation_skew_duration_seconds`, how late a Job was created
//! after its scheduled time.

use std::sync::OnceLock;

use prometheus::{Histogram, HistogramOpts};

pub(crate) fn creation_skew() -> Option<&'static Histogram> {
    static SKEW: OnceLock<Option<Histogram>> = OnceLock::new();
    SKEW.get_or_init(|| {
        let opts = HistogramOpts::new(
            "job_creation_skew_duration_seconds",
            "Time between when a cronjob is scheduled to be run, and when the corresponding job is created",
        )
        .subsystem("cronjob_controller")
        .buckets(prometheus::exponential_buckets(1.0, 2.0, 10).unwrap_or_default());
        let h = Histogram::with_opts(opts).ok()?;
        match prometheus::register(Box::new(h.clone())) {
            Ok(()) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "cannot register job_creation_skew_duration_seconds");
                None
            }
        }
    })
    .as_ref()
}
