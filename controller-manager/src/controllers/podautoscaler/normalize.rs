//! From a metric's recommendation to the replicas actually set (upstream `horizontal.go`
//! `normalizeDesiredReplicas` and `normalizeDesiredReplicasWithBehaviors`): stabilization
//! windows over past recommendations, then min/max and scale-rate limits, each with the
//! condition reason upstream reports.

use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// `--horizontal-pod-autoscaler-downscale-stabilization` default (used without `behavior`).
pub(crate) const DOWNSCALE_STABILIZATION: SignedDuration = SignedDuration::from_secs(300);

/// A past recommendation or scale change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timed {
    pub(crate) at: Timestamp,
    pub(crate) value: i32,
}

/// The outcome with the AbleToScale and ScalingLimited condition reasons and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normalized {
    pub(crate) replicas: i32,
    pub(crate) able_reason: &'static str,
    pub(crate) able_message: &'static str,
    pub(crate) limited: bool,
    pub(crate) limited_reason: &'static str,
    pub(crate) limited_message: &'static str,
}

const READY: (&str, &str) = ("ReadyForNewScale", "recommended size matches current size");
const WITHIN: (&str, &str) = (
    "DesiredWithinRange",
    "the desired count is within the acceptable range",
);
const TOO_FEW: (&str, &str) = (
    "TooFewReplicas",
    "the desired replica count is less than the minimum replica count",
);
const TOO_MANY: (&str, &str) = (
    "TooManyReplicas",
    "the desired replica count is more than the maximum replica count",
);
const UP_LIMIT: (&str, &str) = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
);
const DOWN_LIMIT: (&str, &str) = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
);

fn after(at: Timestamp, now: Timestamp, window: SignedDuration) -> bool {
    now.checked_sub(window).is_ok_and(|cutoff| at > cutoff)
}

fn finish(
    replicas: i32,
    stabilized: i32,
    prenormalized: i32,
    limit: (&'static str, &'static str),
    stab_reason: (&'static str, &'static str),
) -> Normalized {
    let (able_reason, able_message) = if stabilized != prenormalized {
        stab_reason
    } else {
        READY
    };
    Normalized {
        replicas,
        able_reason,
        able_message,
        limited: replicas != stabilized,
        limited_reason: limit.0,
        limited_message: limit.1,
    }
}

/// Without `behavior`: the highest recommendation of the last five minutes, then at most
/// max(2×current, 4) and within min/max.
pub(crate) fn legacy(
    recommendations: &[Timed],
    now: Timestamp,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
) -> Normalized {
    let stabilized = recommendations
        .iter()
        .filter(|r| after(r.at, now, DOWNSCALE_STABILIZATION))
        .map(|r| r.value)
        .fold(desired, i32::max);
    let scale_up_limit = (current.saturating_mul(2)).max(4);
    let (max_allowed, max_reason) = if max > scale_up_limit {
        (scale_up_limit, UP_LIMIT)
    } else {
        (max, TOO_MANY)
    };
    let (replicas, limit) = if stabilized < min {
        (min, TOO_FEW)
    } else if stabilized > max_allowed {
        (max_allowed, max_reason)
    } else {
        (stabilized, WITHIN)
    };
    finish(
        replicas,
        stabilized,
        desired,
        limit,
        (
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
        ),
    )
}

/// Upstream's defaults for the parts of `behavior` left out (`GenerateHPAScaleUpRules` /
/// `GenerateHPAScaleDownRules`).
fn rules(r: Option<&HPAScalingRules>, up: bool) -> (i64, String, Vec<(String, i32, i64)>) {
    let window = r
        .and_then(|r| r.stabilization_window_seconds)
        .map_or(if up { 0 } else { 300 }, i64::from);
    let select = r
        .and_then(|r| r.select_policy.clone())
        .unwrap_or_else(|| "Max".into());
    let policies: Vec<(String, i32, i64)> = match r.and_then(|r| r.policies.as_ref()) {
        Some(p) if !p.is_empty() => p
            .iter()
            .map(|p| (p.type_.clone(), p.value, i64::from(p.period_seconds)))
            .collect(),
        _ if up => vec![("Percent".into(), 100, 15), ("Pods".into(), 4, 15)],
        _ => vec![("Percent".into(), 100, 15)],
    };
    (window, select, policies)
}

fn changed_in_period(events: &[Timed], now: Timestamp, period: i64) -> i32 {
    events
        .iter()
        .filter(|e| after(e.at, now, SignedDuration::from_secs(period)))
        .map(|e| e.value)
        .sum()
}

/// With `behavior`: per-direction stabilization windows and scaling policies over the scale
/// events of their periods.
#[allow(clippy::too_many_arguments)]
pub(crate) fn with_behavior(
    behavior: &HorizontalPodAutoscalerBehavior,
    recommendations: &[Timed],
    scale_up_events: &[Timed],
    scale_down_events: &[Timed],
    now: Timestamp,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
) -> Normalized {
    let (up_window, up_select, up_policies) = rules(behavior.scale_up.as_ref(), true);
    let (down_window, down_select, down_policies) = rules(behavior.scale_down.as_ref(), false);
    let mut up_rec = desired;
    let mut down_rec = desired;
    for r in recommendations {
        if after(r.at, now, SignedDuration::from_secs(up_window)) {
            up_rec = up_rec.min(r.value);
        }
        if after(r.at, now, SignedDuration::from_secs(down_window)) {
            down_rec = down_rec.max(r.value);
        }
    }
    let stabilized = current.max(up_rec).min(down_rec);
    let stab_reason = if stabilized > desired {
        (
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
        )
    } else {
        (
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation",
        )
    };
    let period_start = |period: i64| {
        current - changed_in_period(scale_up_events, now, period)
            + changed_in_period(scale_down_events, now, period)
    };
    let (replicas, limit) = if stabilized > current {
        let limit = if up_select == "Disabled" {
            current
        } else {
            let proposals = up_policies.iter().map(|(kind, value, period)| {
                let start = period_start(*period);
                if kind == "Pods" {
                    start.saturating_add(*value)
                } else {
                    (f64::from(start) * (1.0 + f64::from(*value) / 100.0)).ceil() as i32
                }
            });
            if up_select == "Min" {
                proposals.min()
            } else {
                proposals.max()
            }
            .unwrap_or(current)
        }
        .max(current);
        let (max_allowed, reason) = if max > limit {
            (limit, UP_LIMIT)
        } else {
            (max, TOO_MANY)
        };
        if stabilized > max_allowed {
            (max_allowed, reason)
        } else {
            (stabilized, WITHIN)
        }
    } else if stabilized < current {
        let limit = if down_select == "Disabled" {
            current
        } else {
            let proposals = down_policies.iter().map(|(kind, value, period)| {
                let start = period_start(*period);
                if kind == "Pods" {
                    start.saturating_sub(*value)
                } else {
                    (f64::from(start) * (1.0 - f64::from(*value) / 100.0)) as i32
                }
            });
            // "Min" change while scaling down means the highest replica count.
            if down_select == "Min" {
                proposals.max()
            } else {
                proposals.min()
            }
            .unwrap_or(current)
        }
        .min(current);
        let (min_allowed, reason) = if min < limit {
            (limit, DOWN_LIMIT)
        } else {
            (min, TOO_FEW)
        };
        if stabilized < min_allowed {
            (min_allowed, reason)
        } else {
            (stabilized, WITHIN)
        }
    } else {
        (stabilized, WITHIN)
    };
    finish(replicas, stabilized, desired, limit, stab_reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::autoscaling::v2::HPAScalingPolicy;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn legacy_table() {
        let recent = [Timed { at: t(900), value: 8 }];
        // (history, current, desired, min, max) -> (replicas, limited reason)
        let cases = [
            (&[][..], 3, 5, 1, 10, (5, "DesiredWithinRange")),
            (&[][..], 3, 20, 1, 10, (6, "ScaleUpLimit")),
            (&[][..], 3, 20, 1, 5, (5, "TooManyReplicas")),
            (&[][..], 3, 0, 2, 10, (2, "TooFewReplicas")),
            (&recent[..], 10, 2, 1, 10, (8, "DesiredWithinRange")),
        ];
        for (history, current, desired, min, max, want) in cases {
            let n = legacy(history, t(1000), current, desired, min, max);
            assert_eq!(
                (n.replicas, n.limited_reason),
                want,
                "{current}->{desired} [{min},{max}]"
            );
        }
        let n = legacy(&recent, t(1000), 10, 2, 1, 10);
        assert_eq!(n.able_reason, "ScaleDownStabilized");
        let old = [Timed { at: t(600), value: 8 }];
        assert_eq!(
            legacy(&old, t(1000), 10, 2, 1, 10).replicas,
            2,
            "outside the window"
        );
    }

    #[test]
    fn default_behavior() {
        let b = HorizontalPodAutoscalerBehavior::default();
        // Scale up: max(100% of 4, 4 pods) -> 8 at most per 15s.
        let n = with_behavior(&b, &[], &[], &[], t(1000), 4, 20, 1, 50);
        assert_eq!((n.replicas, n.limited_reason), (8, "ScaleUpLimit"));
        // Recent scale-up of 4 within the period: start was 4, so still 8 at most.
        let ups = [Timed { at: t(995), value: 4 }];
        assert_eq!(
            with_behavior(&b, &[], &ups, &[], t(1000), 8, 20, 1, 50).replicas,
            8
        );
        // Scale down is held by the 300s window's highest recommendation.
        let recs = [Timed { at: t(900), value: 6 }];
        let n = with_behavior(&b, &recs, &[], &[], t(1000), 8, 2, 1, 50);
        assert_eq!((n.replicas, n.able_reason), (6, "ScaleDownStabilized"));
    }

    #[test]
    fn custom_policies() {
        let b = HorizontalPodAutoscalerBehavior {
            scale_down: Some(HPAScalingRules {
                stabilization_window_seconds: Some(0),
                select_policy: Some("Max".into()),
                policies: Some(vec![HPAScalingPolicy {
                    type_: "Pods".into(),
                    value: 1,
                    period_seconds: 60,
                }]),
                ..Default::default()
            }),
            scale_up: Some(HPAScalingRules {
                select_policy: Some("Disabled".into()),
                ..Default::default()
            }),
        };
        let n = with_behavior(&b, &[], &[], &[], t(1000), 5, 1, 1, 10);
        assert_eq!((n.replicas, n.limited_reason), (4, "ScaleDownLimit"));
        let n = with_behavior(&b, &[], &[], &[], t(1000), 5, 9, 1, 10);
        assert_eq!(n.replicas, 5, "scale up disabled");
    }
}
