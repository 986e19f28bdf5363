//! One `reconcileAutoscaler` pass: the target's scale, the metrics, the replica count, the
//! write to the scale subresource, and the HPA's status and conditions.

use std::collections::HashMap;

use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus, MetricStatus,
    MetricValueStatus, ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::reflector::Store;
use parking_lot::Mutex;
use serde_json::json;

use super::metrics;
use super::normalize::{self, Timed};
use super::replicas;
use crate::controllers::util::ObjectKey;
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::selector;
use crate::controllers::util::worker::Requeue;

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) hpas: Store<HorizontalPodAutoscaler>,
    pub(crate) pods: Store<Pod>,
    pub(crate) recorder: Recorder,
    /// Per HPA: past recommendations, scale-up and scale-down events.
    pub(crate) history: Mutex<HashMap<ObjectKey, History>>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct History {
    recommendations: Vec<Timed>,
    ups: Vec<Timed>,
    downs: Vec<Timed>,
}

fn set_condition(
    conds: &mut Vec<HorizontalPodAutoscalerCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) {
    let existing = conds.iter_mut().find(|c| c.type_ == type_);
    let next = HorizontalPodAutoscalerCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    };
    match existing {
        Some(c) => {
            let keep = (c.status == next.status)
                .then(|| c.last_transition_time.clone())
                .flatten();
            *c = next;
            if keep.is_some() {
                c.last_transition_time = keep;
            }
        }
        None => conds.push(next),
    }
}

/// The outcome of the metrics: a proposal, its metric statuses, and the first error.
struct MetricsOutcome {
    proposal: Option<(i32, String)>,
    statuses: Vec<MetricStatus>,
    invalid: usize,
    total: usize,
    first_error: Option<(&'static str, String)>,
    /// `failed to get <resource> resource metric value: <first error>`.
    first_error_detail: Option<String>,
}

async fn compute(
    shared: &Shared,
    hpa: &HorizontalPodAutoscaler,
    ns: &str,
    selector_str: &str,
    current: i32,
    now: Timestamp,
) -> MetricsOutcome {
    let spec = hpa.spec.clone().unwrap_or_default();
    let metric_specs = spec.metrics.clone().unwrap_or_default();
    let mut out = MetricsOutcome {
        proposal: None,
        statuses: Vec::new(),
        invalid: 0,
        total: metric_specs.len().max(1),
        first_error: None,
        first_error_detail: None,
    };
    let matcher =
        selector::LabelSelector::parse(selector_str).unwrap_or_else(|_| selector::LabelSelector::nothing());
    let all = shared.pods.state();
    let pods: Vec<&Pod> = all
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
        .filter(|p| selector::matches(&matcher, p.metadata.labels.as_ref()))
        .collect();
    // No metrics in the spec: upstream's default, 80% CPU.
    let defaulted = metric_specs.is_empty();
    let resource_targets: Vec<(String, Option<i32>, Option<String>, String)> = if defaulted {
        vec![("cpu".into(), Some(80), None, "Resource".into())]
    } else {
        metric_specs
            .iter()
            .map(|m| match &m.resource {
                Some(r) if m.type_ == "Resource" => (
                    r.name.clone(),
                    r.target.average_utilization,
                    r.target.average_value.as_ref().map(|q| q.0.clone()),
                    m.type_.clone(),
                ),
                _ => (String::new(), None, None, m.type_.clone()),
            })
            .collect()
    };
    for (resource, utilization, average, type_) in resource_targets {
        if type_ != "Resource" || resource.is_empty() {
            out.invalid += 1;
            out.first_error.get_or_insert((
                "FailedGetExternalMetric",
                format!("unsupported metric type {type_:?}"),
            ));
            continue;
        }
        let samples = match metrics::pod_usage(&shared.client, ns, selector_str, &resource).await {
            Ok(s) => s,
            Err(e) => {
                out.invalid += 1;
                let msg = if average.is_some() {
                    format!(
                        "failed to get {resource} usage: unable to get metrics for resource {resource}: {e}"
                    )
                } else {
                    format!(
                        "failed to get {resource} utilization: unable to get metrics for resource {resource}: {e}"
                    )
                };
                out.first_error_detail
                    .get_or_insert(format!("failed to get {resource} resource metric value: {msg}"));
                out.first_error.get_or_insert(("FailedGetResourceMetric", msg));
                continue;
            }
        };
        let calc = match (utilization, &average) {
            (Some(pct), _) => replicas::resource_replicas(current, pct, &resource, &pods, &samples, now),
            (None, Some(avg)) => {
                let milli = crate::controllers::resourcequota::quantity::Qty::parse(avg)
                    .map_or(0, |q| i64::try_from(q.nanos / 1_000_000).unwrap_or(i64::MAX));
                replicas::raw_resource_replicas(current, milli, &resource, &pods, &samples, now)
            }
            (None, None) => {
                out.invalid += 1;
                out.first_error.get_or_insert(("FailedGetResourceMetric", format!("invalid resource metric source: neither a utilization target nor a value target was set for {resource}")));
                continue;
            }
        };
        match calc {
            Ok(c) => {
                let label = if utilization.is_some() {
                    format!("{resource} resource utilization (percentage of request)")
                } else {
                    format!("{resource} resource")
                };
                if out.proposal.as_ref().is_none_or(|(r, _)| c.replicas > *r) {
                    out.proposal = Some((c.replicas, label));
                }
                out.statuses.push(MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus {
                        name: resource.clone(),
                        current: MetricValueStatus {
                            average_utilization: utilization.map(|_| c.utilization),
                            average_value: Some(Quantity(format!("{}m", c.raw_average))),
                            value: None,
                        },
                    }),
                    ..Default::default()
                });
            }
            Err(e) => {
                out.invalid += 1;
                out.first_error.get_or_insert((
                    "FailedGetResourceMetric",
                    format!("failed to get {resource} utilization: {e}"),
                ));
            }
        }
    }
    out
}

pub(crate) async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, kube::Error> {
    let Some(hpa) = shared.hpas.get(&key.to_ref()) else {
        shared.history.lock().remove(key);
        return Ok(None);
    };
    let now = Timestamp::now();
    let spec = hpa.spec.clone().unwrap_or_default();
    let regarding = object_ref(hpa.as_ref());
    let mut status = hpa.status.clone().unwrap_or_default();
    let mut conds = status.conditions.take().unwrap_or_default();
    let target = &spec.scale_target_ref;
    let api_version = target.api_version.clone().unwrap_or_else(|| "v1".into());
    let (group, version) = api_version
        .split_once('/')
        .map_or((String::new(), api_version.clone()), |(g, v)| {
            (g.into(), v.into())
        });
    let gvk = GroupVersionKind::gvk(&group, &version, &target.kind);
    let scale_api = match kube::discovery::pinned_kind(&shared.client, &gvk).await {
        Ok((resource, _)) => Ok(Api::<DynamicObject>::namespaced_with(
            shared.client.clone(),
            &key.namespace,
            &resource,
        )),
        Err(e) => Err(e.to_string()),
    };
    let scale = match &scale_api {
        Ok(api) => api.get_scale(&target.name).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let scale = match scale {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("the HPA controller was unable to get the target's current scale: {e}");
            shared
                .recorder
                .record(&regarding, EventType::Warning, "FailedGetScale", &e);
            set_condition(&mut conds, "AbleToScale", "False", "FailedGetScale", msg, now);
            status.conditions = Some(conds);
            write_status(shared, &hpa, key, status).await?;
            return Ok(None);
        }
    };
    set_condition(
        &mut conds,
        "AbleToScale",
        "True",
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".into(),
        now,
    );
    let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let selector_str = scale
        .status
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    let min = spec.min_replicas.unwrap_or(1);
    let max = spec.max_replicas;
    let desired;
    let mut reason = String::new();
    status.current_replicas = Some(current);
    if current == 0 && min != 0 {
        set_condition(
            &mut conds,
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".into(),
            now,
        );
        desired = 0;
    } else if current > max {
        desired = max;
        reason = "Current number of replicas above Spec.MaxReplicas".into();
    } else if current < min {
        desired = min;
        reason = "Current number of replicas below Spec.MinReplicas".into();
    } else {
        let outcome = compute(shared, &hpa, &key.namespace, &selector_str, current, now).await;
        status.current_metrics = (!outcome.statuses.is_empty()).then(|| outcome.statuses.clone());
        let Some((proposal, metric)) = outcome.proposal else {
            // Every metric failed: report and leave the scale alone (upstream returns here).
            if let Some((why, msg)) = &outcome.first_error {
                shared.recorder.record(&regarding, EventType::Warning, why, msg);
                set_condition(
                    &mut conds,
                    "ScalingActive",
                    "False",
                    why,
                    format!("the HPA was unable to compute the replica count: {msg}"),
                    now,
                );
                shared.recorder.record(
                    &regarding,
                    EventType::Warning,
                    "FailedComputeMetricsReplicas",
                    &format!(
                        "invalid metrics ({} invalid out of {}), first error is: {}",
                        outcome.invalid,
                        outcome.total,
                        outcome.first_error_detail.as_deref().unwrap_or(msg)
                    ),
                );
            }
            status.desired_replicas = status.desired_replicas.max(0);
            status.observed_generation = hpa.metadata.generation;
            status.conditions = Some(conds);
            write_status(shared, &hpa, key, status).await?;
            return Ok(None);
        };
        set_condition(
            &mut conds,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            format!("the HPA was able to successfully calculate a replica count from {metric}"),
            now,
        );
        let history = shared.history.lock().get(key).cloned().unwrap_or_default();
        let n = match &spec.behavior {
            None => normalize::legacy(&history.recommendations, now, current, proposal, min, max),
            Some(b) => normalize::with_behavior(
                b,
                &history.recommendations,
                &history.ups,
                &history.downs,
                now,
                current,
                proposal,
                min,
                max,
            ),
        };
        {
            let mut map = shared.history.lock();
            let h = map.entry(key.clone()).or_default();
            h.recommendations.push(Timed {
                at: now,
                value: proposal,
            });
            let keep_after = now
                .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(3600))
                .unwrap_or(now);
            h.recommendations.retain(|r| r.at > keep_after);
        }
        set_condition(
            &mut conds,
            "AbleToScale",
            "True",
            n.able_reason,
            n.able_message.into(),
            now,
        );
        set_condition(
            &mut conds,
            "ScalingLimited",
            if n.limited { "True" } else { "False" },
            n.limited_reason,
            n.limited_message.into(),
            now,
        );
        desired = n.replicas;
        reason = if desired > current {
            format!("{metric} above target")
        } else {
            "All metrics below target".into()
        };
    }
    let scaling = desired != current && !(current == 0 && min != 0);
    if let Some(api) = scale_api.as_ref().ok().filter(|_| scaling) {
        let patch = json!({"spec": {"replicas": desired}});
        if let Err(e) = api
            .patch_scale(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            shared.recorder.record(
                &regarding,
                EventType::Warning,
                "FailedRescale",
                &format!("New size: {desired}; reason: {reason}; error: {e}"),
            );
            set_condition(
                &mut conds,
                "AbleToScale",
                "False",
                "FailedUpdateScale",
                format!("the HPA controller was unable to update the target scale: {e}"),
                now,
            );
            status.conditions = Some(conds);
            write_status(shared, &hpa, key, status).await?;
            return Err(e);
        }
        shared.recorder.record(
            &regarding,
            EventType::Normal,
            "SuccessfulRescale",
            &format!("New size: {desired}; reason: {reason}"),
        );
        set_condition(
            &mut conds,
            "AbleToScale",
            "True",
            "SucceededRescale",
            format!("the HPA controller was able to update the target scale to {desired}"),
            now,
        );
        status.last_scale_time = Some(Time(now));
        let mut map = shared.history.lock();
        let h = map.entry(key.clone()).or_default();
        let event = Timed {
            at: now,
            value: (desired - current).abs(),
        };
        if desired > current {
            h.ups.push(event)
        } else {
            h.downs.push(event)
        }
    }
    status.desired_replicas = desired;
    status.observed_generation = hpa.metadata.generation;
    status.conditions = Some(conds);
    write_status(shared, &hpa, key, status).await?;
    Ok(None)
}

async fn write_status(
    shared: &Shared,
    hpa: &HorizontalPodAutoscaler,
    key: &ObjectKey,
    status: HorizontalPodAutoscalerStatus,
) -> Result<(), kube::Error> {
    if hpa.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut next = hpa.clone();
    next.status = Some(status);
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(shared.client.clone(), &key.namespace);
    api.replace_status(&key.name, &PostParams::default(), &next)
        .await?;
    Ok(())
}
