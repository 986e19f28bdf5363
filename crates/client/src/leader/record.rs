//! What to write to the Lease on one acquire-or-renew attempt: a pure function of the Lease as
//! read, whether it has expired in our eyes, and who we are (upstream `tryAcquireOrRenew`).

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attempt {
    /// No Lease yet: create it holding it.
    Create(LeaseSpec),
    /// Write this spec over the Lease (renewal, or taking it over).
    Update(LeaseSpec),
    /// Someone else holds an unexpired lease.
    HeldBy(String),
}

/// `existing`: the Lease's spec as read (None if it does not exist). `expired`: whether
/// `leaseDurationSeconds` has passed since we last saw that spec change (measured on our own
/// clock, as upstream does, so clock skew between machines does not matter).
pub(crate) fn plan(
    existing: Option<&LeaseSpec>,
    expired: bool,
    identity: &str,
    lease_duration_seconds: i32,
    now: Timestamp,
) -> Attempt {
    let mut spec = LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(lease_duration_seconds),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(0),
        ..LeaseSpec::default()
    };
    let Some(existing) = existing else {
        return Attempt::Create(spec);
    };
    let holder = existing.holder_identity.as_deref().unwrap_or("");
    if holder == identity {
        spec.acquire_time = existing.acquire_time.clone();
        spec.lease_transitions = existing.lease_transitions;
        return Attempt::Update(spec);
    }
    if !holder.is_empty() && !expired {
        return Attempt::HeldBy(holder.to_string());
    }
    spec.lease_transitions = Some(existing.lease_transitions.unwrap_or(0).saturating_add(1));
    Attempt::Update(spec)
}

/// The spec that gives the lease up (upstream `release`): no holder, one-second duration,
/// transitions kept, so a standby takes over at its next attempt.
pub(crate) fn released(existing: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: existing.lease_transitions,
        ..LeaseSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("timestamp")
    }

    fn held(holder: Option<&str>, acquired: i64, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(at(acquired))),
            renew_time: Some(MicroTime(at(acquired + 5))),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn plans_like_upstream() {
        struct Case {
            name: &'static str,
            existing: Option<LeaseSpec>,
            expired: bool,
            want: fn(&Attempt) -> bool,
        }
        let cases = [
            Case {
                name: "no lease: create holding it, no transitions",
                existing: None,
                expired: false,
                want: |a| {
                    matches!(a, Attempt::Create(s) if s.holder_identity.as_deref() == Some("me")
                    && s.lease_transitions == Some(0)
                    && s.acquire_time == Some(MicroTime(at(100)))
                    && s.lease_duration_seconds == Some(15))
                },
            },
            Case {
                name: "ours: renew, keep acquire time and transitions",
                existing: Some(held(Some("me"), 10, 3)),
                expired: true,
                want: |a| {
                    matches!(a, Attempt::Update(s) if s.holder_identity.as_deref() == Some("me")
                    && s.lease_transitions == Some(3)
                    && s.acquire_time == Some(MicroTime(at(10)))
                    && s.renew_time == Some(MicroTime(at(100))))
                },
            },
            Case {
                name: "someone else's, not expired: wait",
                existing: Some(held(Some("other"), 10, 3)),
                expired: false,
                want: |a| *a == Attempt::HeldBy("other".into()),
            },
            Case {
                name: "someone else's, expired: take over, one more transition",
                existing: Some(held(Some("other"), 10, 3)),
                expired: true,
                want: |a| {
                    matches!(a, Attempt::Update(s) if s.holder_identity.as_deref() == Some("me")
                    && s.lease_transitions == Some(4)
                    && s.acquire_time == Some(MicroTime(at(100))))
                },
            },
            Case {
                name: "released (no holder), not expired: take over at once",
                existing: Some(released(&held(Some("other"), 10, 3), at(90))),
                expired: false,
                want: |a| {
                    matches!(a, Attempt::Update(s) if s.holder_identity.as_deref() == Some("me")
                    && s.lease_transitions == Some(4))
                },
            },
        ];
        for case in cases {
            let got = plan(case.existing.as_ref(), case.expired, "me", 15, at(100));
            assert!((case.want)(&got), "{}: got {got:?}", case.name);
        }
    }

    #[test]
    fn release_clears_holder_and_keeps_transitions() {
        let spec = released(&held(Some("me"), 10, 7), at(50));
        assert_eq!(spec.holder_identity, None);
        assert_eq!(spec.lease_duration_seconds, Some(1));
        assert_eq!(spec.lease_transitions, Some(7));
        assert_eq!(spec.renew_time, Some(MicroTime(at(50))));
    }
}
