//! The CronJob controller (upstream `pkg/controller/cronjob`, controller v2): creates a Job
//! for every scheduled time, honours the concurrency policy, starting deadline and
//! suspension, tracks active Jobs and trims finished ones to the history limits.

pub mod plan;
pub mod schedule;
