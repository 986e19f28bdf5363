//! The replica calculator for resource metrics (upstream `replica_calculator.go`
//! `GetResourceReplicas` and `groupPods`), pure: pods, their requests and their measured usage
//! in, a replica count out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// `--horizontal-pod-autoscaler-tolerance` default.
pub(crate) const TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-cpu-initialization-period` default.
const CPU_INITIALIZATION_PERIOD: SignedDuration = SignedDuration::from_secs(300);
/// `--horizontal-pod-autoscaler-initial-readiness-delay` default.
const INITIAL_READINESS_DELAY: SignedDuration = SignedDuration::from_secs(30);

/// One pod's measured usage of the resource (milli-units), with the sample's time and window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub(crate) value: i64,
    pub(crate) timestamp: Timestamp,
    pub(crate) window: SignedDuration,
}

/// Why no replica count could be computed (messages as upstream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CalcError {
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoMetrics,
    #[error("missing request for {resource} in container {container} of Pod {pod}")]
    MissingRequest {
        resource: String,
        container: String,
        pod: String,
    },
    #[error("no metrics returned matched known pods")]
    NoMatchingMetrics,
}

/// The result: replicas, current utilization (percent of request) and raw average usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Calculated {
    pub(crate) replicas: i32,
    pub(crate) utilization: i32,
    pub(crate) raw_average: i64,
}

fn within_tolerance(ratio: f64) -> bool {
    (1.0 - ratio).abs() <= TOLERANCE
}

/// The pod's total request of `resource` in milli-units (`calculatePodRequests`).
pub(crate) fn pod_request(pod: &Pod, resource: &str) -> Result<i64, CalcError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let mut total = 0i64;
    for c in pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
    {
        let q = c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource))
            .and_then(|q| crate::controllers::resourcequota::quantity::Qty::parse(&q.0))
            .ok_or_else(|| CalcError::MissingRequest {
                resource: resource.into(),
                container: c.name.clone(),
                pod: name.clone(),
            })?;
        total = total.saturating_add(i64::try_from(q.nanos / 1_000_000).unwrap_or(i64::MAX));
    }
    Ok(total)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Ready,
    Unready,
    Missing,
    Ignored,
}

/// `groupPods`: deleted and failed pods are ignored, pending ones and (for cpu) pods still
/// warming up count as unready, pods without a sample as missing.
fn group(pod: &Pod, sample: Option<&Sample>, resource: &str, now: Timestamp) -> Group {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    if pod.metadata.deletion_timestamp.is_some() || phase == Some("Failed") {
        return Group::Ignored;
    }
    if phase == Some("Pending") {
        return Group::Unready;
    }
    let Some(sample) = sample else {
        return Group::Missing;
    };
    if resource != "cpu" {
        return Group::Ready;
    }
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let start = status.and_then(|s| s.start_time.as_ref()).map(|t| t.0);
    let (Some(ready), Some(start)) = (ready, start) else {
        return Group::Unready;
    };
    let transition = ready.last_transition_time.as_ref().map_or(start, |t| t.0);
    let unready = if start
        .checked_add(CPU_INITIALIZATION_PERIOD)
        .is_ok_and(|t| t > now)
    {
        ready.status == "False"
            || sample.timestamp < transition.checked_add(sample.window).unwrap_or(transition)
    } else {
        ready.status == "False"
            && start
                .checked_add(INITIAL_READINESS_DELAY)
                .is_ok_and(|t| t > transition)
    };
    if unready { Group::Unready } else { Group::Ready }
}

/// `GetResourceUtilizationRatio`.
fn utilization_ratio(
    samples: &BTreeMap<String, i64>,
    requests: &BTreeMap<String, i64>,
    target: i32,
) -> Result<(f64, i32, i64), CalcError> {
    let mut used = 0i64;
    let mut requested = 0i64;
    let mut n = 0i64;
    for (pod, value) in samples {
        if let Some(r) = requests.get(pod) {
            used += value;
            requested += r;
            n += 1;
        }
    }
    if requested == 0 || n == 0 {
        return Err(CalcError::NoMatchingMetrics);
    }
    let utilization = i32::try_from(used * 100 / requested).unwrap_or(i32::MAX);
    Ok((
        f64::from(utilization) / f64::from(target.max(1)),
        utilization,
        used / n,
    ))
}

/// `GetResourceReplicas` for a target utilization (percent of request).
pub(crate) fn resource_replicas(
    current: i32,
    target_utilization: i32,
    resource: &str,
    pods: &[&Pod],
    samples: &BTreeMap<String, Sample>,
    now: Timestamp,
) -> Result<Calculated, CalcError> {
    calculate(current, target_utilization, resource, pods, samples, now, &|p| {
        pod_request(p, resource)
    })
}

fn calculate(
    current: i32,
    target_utilization: i32,
    resource: &str,
    pods: &[&Pod],
    samples: &BTreeMap<String, Sample>,
    now: Timestamp,
    request_of: &dyn Fn(&Pod) -> Result<i64, CalcError>,
) -> Result<Calculated, CalcError> {
    if pods.is_empty() {
        return Err(CalcError::NoPods);
    }
    let mut metrics: BTreeMap<String, i64> = BTreeMap::new();
    let (mut ready, mut unready, mut missing) = (0i32, Vec::new(), Vec::new());
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let sample = samples.get(&name);
        match group(pod, sample, resource, now) {
            Group::Ready => {
                ready += 1;
                if let Some(s) = sample {
                    metrics.insert(name, s.value);
                }
            }
            Group::Unready => unready.push(name),
            Group::Missing => missing.push(name),
            Group::Ignored => {}
        }
    }
    if metrics.is_empty() {
        return Err(CalcError::NoMetrics);
    }
    let mut requests = BTreeMap::new();
    for pod in pods {
        requests.insert(pod.metadata.name.clone().unwrap_or_default(), request_of(pod)?);
    }
    let (ratio, utilization, raw_average) = utilization_ratio(&metrics, &requests, target_utilization)?;
    let result = |replicas| Calculated {
        replicas,
        utilization,
        raw_average,
    };
    let scale_up_with_unready = !unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        if within_tolerance(ratio) {
            return Ok(result(current));
        }
        return Ok(result(ceil_i32(ratio * f64::from(ready))));
    }
    if !missing.is_empty() {
        // Scale down: assume missing pods use their full request (or the target if higher);
        // scale up: assume they use nothing.
        let fallback = i64::from(target_utilization.max(100));
        for name in &missing {
            let value = if ratio < 1.0 {
                requests.get(name).copied().unwrap_or(0) * fallback / 100
            } else {
                0
            };
            metrics.insert(name.clone(), value);
        }
    }
    if scale_up_with_unready {
        for name in &unready {
            metrics.insert(name.clone(), 0);
        }
    }
    let (new_ratio, _, _) = utilization_ratio(&metrics, &requests, target_utilization)?;
    if within_tolerance(new_ratio) || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0) {
        return Ok(result(current));
    }
    let replicas = ceil_i32(new_ratio * metrics.len() as f64);
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(result(current));
    }
    Ok(result(replicas))
}

/// `GetRawResourceReplicas` for an average-value target (milli-units per pod): the same
/// grouping and fallbacks, with the target standing in for every pod's request.
pub(crate) fn raw_resource_replicas(
    current: i32,
    target_average: i64,
    resource: &str,
    pods: &[&Pod],
    samples: &BTreeMap<String, Sample>,
    now: Timestamp,
) -> Result<Calculated, CalcError> {
    calculate(current, 100, resource, pods, samples, now, &|_| {
        Ok(target_average)
    })
}

fn ceil_i32(v: f64) -> i32 {
    let c = v.ceil();
    if c >= f64::from(i32::MAX) {
        i32::MAX
    } else {
        c as i32
    }
}

#[cfg(test)]
#[path = "replicas_tests.rs"]
mod tests;
