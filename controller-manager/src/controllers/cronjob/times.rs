//! When a CronJob runs (upstream `mostRecentScheduleTime` and `nextScheduleTimeDuration`):
//! the latest missed activation since the last run, and how long until the next one.

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::CronJob;

use super::schedule::Schedule;

/// Upstream's small delay after the next activation so the sync lands after it, not before.
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

/// Where scheduling starts: the last run (or creation), moved up to `now - deadline`.
pub(super) fn earliest_time(cronjob: &CronJob, deadline: &Option<i64>, now: Timestamp) -> Timestamp {
    let status = cronjob.status.as_ref();
    let mut earliest = status
        .and_then(|s| s.last_schedule_time.as_ref())
        .or(cronjob.metadata.creation_timestamp.as_ref())
        .map_or(now, |t| t.0);
    if let Some(d) = deadline {
        let limit = now - SignedDuration::from_secs(*d);
        if limit > earliest {
            earliest = limit;
        }
    }
    earliest
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum MostRecentError {
    /// Two activations less than a second apart, or none at all (`0 0 31 2 *`).
    Invalid,
    /// More than 100 missed activations; still carries the most recent one.
    TooMany(Timestamp),
}

/// The latest activation in (earliest, now], if any (upstream `mostRecentScheduleTime`).
pub(super) fn most_recent(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> Result<Option<Timestamp>, MostRecentError> {
    let Some(t1) = schedule.next(earliest, tz) else {
        return Err(MostRecentError::Invalid);
    };
    if now < t1 {
        return Ok(None);
    }
    let Some(t2) = schedule.next(t1, tz) else {
        return Err(MostRecentError::Invalid);
    };
    if now < t2 {
        return Ok(Some(t1));
    }
    let between = (t2 - t1).get_seconds();
    if between < 1 {
        return Err(MostRecentError::Invalid);
    }
    // As upstream: approximate the number missed, jump close to `now`, then walk.
    let missed = (now - t1).get_seconds() / between + 1;
    let back = SignedDuration::from_secs((missed - 2).max(0) * between);
    let mut t = schedule.next(t1 + back, tz);
    let mut recent = None;
    while let Some(at) = t {
        if at > now {
            break;
        }
        recent = Some(at);
        t = schedule.next(at, tz);
    }
    match recent {
        Some(r) if missed > 100 => Err(MostRecentError::TooMany(r)),
        r => Ok(r),
    }
}

/// Delay until the activation after the most recent one (plus upstream's 100ms).
pub(super) fn next_delay(
    schedule: &Schedule,
    tz: &TimeZone,
    cronjob: &CronJob,
    now: Timestamp,
) -> Option<Duration> {
    let earliest = earliest_time(cronjob, &None, now);
    let base = match most_recent(schedule, tz, earliest, now) {
        Ok(Some(t)) | Err(MostRecentError::TooMany(t)) => t,
        _ => earliest,
    };
    let next = schedule.next(base, tz)?;
    let wait = Duration::try_from(next - now).unwrap_or(Duration::ZERO);
    Some(wait + NEXT_SCHEDULE_DELTA)
}
