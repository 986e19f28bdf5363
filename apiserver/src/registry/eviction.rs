//! `pods/eviction`: a delete that respects PodDisruptionBudgets, as upstream's
//! pkg/registry/core/pod/storage/eviction.go. Terminal, pending and already-deleting pods are
//! deleted without a budget check; otherwise the one budget selecting the pod must allow a
//! disruption, which is spent (and the pod recorded in `status.disruptedPods`) before the delete.

use rudder_api::selectors::LabelSelector;
use rudder_api::status::{ApiError, StatusCause, StatusReason};
use serde_json::{Value, json};

use super::delete::DeleteOptions;
use super::object;
use super::raw::{Preconditions, RawUpdateError};
use super::{ListParams, Registry, Resource};

/// Upstream's `EvictionsRetry` steps.
const RETRIES: usize = 20;
/// Upstream's `MaxDisruptedPodSize`.
const MAX_DISRUPTED_PODS: usize = 2000;
const BUDGET_MESSAGE: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// An eviction request, decoded.
#[derive(Debug)]
pub(crate) struct Eviction {
    pub(crate) options: DeleteOptions,
}

impl Eviction {
    /// Reads a `policy/v1` Eviction for pod `name`; `dry_run` is the request's query flag.
    pub(crate) fn parse(body: &Value, name: &str, dry_run: bool) -> Result<Eviction, ApiError> {
        if object::name(body).unwrap_or_default() != name {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let options = DeleteOptions {
            dry_run,
            ..Default::default()
        };
        let options = match body.get("deleteOptions").filter(|v| v.is_object()) {
            Some(opts) => options.merge_body(opts)?,
            None => options,
        };
        Ok(Eviction { options })
    }
}

impl Registry {
    /// Evicts pod `name`. `pods` and `budgets` are the pods and poddisruptionbudgets resources.
    pub(crate) async fn evict(
        &self,
        pods: &Resource,
        budgets: &Resource,
        namespace: &str,
        name: &str,
        eviction: &Eviction,
    ) -> Result<(), ApiError> {
        let original = &eviction.options;
        let pinned = original.precondition_resource_version.is_some();
        // Pods that can skip the budget check are deleted at once (conflicts retried unless the
        // client pinned a resourceVersion).
        let mut pod = None;
        for _ in 0..RETRIES {
            let current = self.get(pods, Some(namespace), name).await?;
            if !can_ignore_budget(&current.value()) {
                pod = Some(current);
                break;
            }
            let mut options = original.clone();
            if enforce_resource_version(&current.value()) && !pinned {
                options.precondition_resource_version = Some(current.revision.to_string());
            }
            match self.mark_and_delete(pods, namespace, name, &options).await {
                Err(e) if e.is_conflict() && !pinned => continue,
                other => return other,
            }
        }
        let Some(pod) = pod else {
            return Err(ApiError::conflict("", "pods", name));
        };

        let matching = self.budgets_for(budgets, namespace, &pod.value()).await?;
        if matching.len() > 1 {
            return Err(ApiError::new(
                500,
                StatusReason::Unknown,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        let mut options = original.clone();
        let mut budget_name = None;
        let mut unhealthy_allowed = false;
        if let Some(budget) = matching.first() {
            let pdb_name = object::name(budget).unwrap_or_default().to_string();
            unhealthy_allowed = !is_pod_ready(&pod.value()) && unhealthy_may_go(budget);
            if !unhealthy_allowed {
                self.spend_disruption(budgets, namespace, &pdb_name, name, original.dry_run)
                    .await?;
            }
            budget_name = Some(pdb_name);
        }
        if unhealthy_allowed {
            // The pod must not have become ready since the budget was judged.
            options.precondition_resource_version = Some(pod.revision.to_string());
        }
        match self.mark_and_delete(pods, namespace, name, &options).await {
            Err(e) if e.is_conflict() && unhealthy_allowed && !pinned => {
                Err(too_many_requests(budget_name.as_deref().unwrap_or_default()))
            }
            other => other,
        }
    }

    /// The budgets in the pod's namespace whose selector matches the pod. A budget with an
    /// empty or invalid selector matches nothing, as upstream's eviction treats it.
    async fn budgets_for(
        &self,
        budgets: &Resource,
        namespace: &str,
        pod: &Value,
    ) -> Result<Vec<Value>, ApiError> {
        let list = self
            .list(budgets, Some(namespace), &ListParams::default())
            .await?;
        Ok(list
            .items
            .iter()
            .filter(|pdb| {
                LabelSelector::from_label_selector(pdb.value().pointer("/spec/selector"))
                    .is_ok_and(|s| !s.is_empty() && s.matches_object(pod))
            })
            .map(|pdb| pdb.value())
            .collect())
    }

    /// `checkAndDecrement`, retried on conflicts with a fresh read of the budget.
    async fn spend_disruption(
        &self,
        budgets: &Resource,
        namespace: &str,
        pdb_name: &str,
        pod_name: &str,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        for _ in 0..RETRIES {
            let current = self.get(budgets, Some(namespace), pdb_name).await?;
            let mut pdb = current.value();
            decrement(&mut pdb, pod_name, &object::now_rfc3339())?;
            if dry_run {
                return Ok(());
            }
            let preconditions = Preconditions {
                uid: None,
                resource_version: Some(current.revision.to_string()),
            };
            let status = pdb.get("status").cloned().unwrap_or(Value::Null);
            let result = self
                .update_raw(budgets, Some(namespace), pdb_name, &preconditions, false, |obj| {
                    obj["status"] = status.clone();
                    Ok(())
                })
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(RawUpdateError::Precondition(_) | RawUpdateError::Conflict) => continue,
                Err(RawUpdateError::NotFound) => {
                    return Err(budgets.not_found(pdb_name));
                }
                Err(RawUpdateError::Refused(e) | RawUpdateError::Api(e)) => return Err(e),
            }
        }
        Err(ApiError::timeout(
            &format!("couldn't update PodDisruptionBudget {pdb_name:?} due to conflicts"),
            10,
        ))
    }

    /// `addConditionAndDeletePod`: marks the pod with `DisruptionTarget=True`, then deletes it.
    async fn mark_and_delete(
        &self,
        pods: &Resource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<(), ApiError> {
        let mut options = options.clone();
        if !options.dry_run {
            let preconditions = Preconditions {
                uid: options.precondition_uid.clone(),
                resource_version: options.precondition_resource_version.clone(),
            };
            let now = object::now_rfc3339();
            let marked = self
                .update_raw(pods, Some(namespace), name, &preconditions, false, |pod| {
                    set_disruption_target(pod, &now);
                    Ok(())
                })
                .await;
            match marked {
                Ok(obj) => {
                    if options.precondition_resource_version.is_some() {
                        // We moved the resourceVersion ourselves.
                        options.precondition_resource_version = Some(obj.revision.to_string());
                    }
                }
                Err(RawUpdateError::NotFound) => return Err(pods.not_found(name)),
                Err(RawUpdateError::Precondition(_) | RawUpdateError::Conflict) => {
                    return Err(ApiError::conflict("", "pods", name));
                }
                Err(RawUpdateError::Refused(e) | RawUpdateError::Api(e)) => return Err(e),
            }
        }
        self.delete(pods, Some(namespace), name, &options)
            .await
            .map(|_| ())
    }
}

/// `canIgnorePDB`: terminal, pending and deleting pods.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || object::is_deleting(pod)
}

/// `shouldEnforceResourceVersion`: false for terminal and deleting pods.
fn enforce_resource_version(pod: &Value) -> bool {
    !(matches!(phase(pod), "Succeeded" | "Failed") || object::is_deleting(pod))
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `podutil.IsPodReady`: condition `Ready` is `True`.
fn is_pod_ready(pod: &Value) -> bool {
    condition_status(pod, "Ready") == Some("True")
}

fn condition_status<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .and_then(|c| c.get("status").and_then(Value::as_str))
}

/// Whether an unready pod may be deleted without spending a disruption: always under
/// `unhealthyPodEvictionPolicy: AlwaysAllow`, otherwise when the budget is currently met.
fn unhealthy_may_go(pdb: &Value) -> bool {
    if pdb
        .pointer("/spec/unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
        == Some("AlwaysAllow")
    {
        return true;
    }
    let current = status_int(pdb, "currentHealthy");
    let desired = status_int(pdb, "desiredHealthy");
    current >= desired && desired > 0
}

fn status_int(pdb: &Value, field: &str) -> i64 {
    pdb.get("status")
        .and_then(|s| s.get(field))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// `checkAndDecrement` on a budget held as JSON: refuses, or spends one disruption and
/// records the pod.
fn decrement(pdb: &mut Value, pod_name: &str, now: &str) -> Result<(), ApiError> {
    let name = object::name(pdb).unwrap_or_default().to_string();
    let generation = object::meta(pdb)
        .get("generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if status_int(pdb, "observedGeneration") < generation {
        return Err(too_many_requests(&name));
    }
    let allowed = status_int(pdb, "disruptionsAllowed");
    if allowed < 0 {
        return Err(ApiError::forbidden(
            "policy",
            "poddisruptionbudget",
            &name,
            "pdb disruptions allowed is negative",
        ));
    }
    let disrupted = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(
            "policy",
            "poddisruptionbudget",
            &name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(
            ApiError::too_many_requests(BUDGET_MESSAGE, 0).with_cause(StatusCause::new(
                "DisruptionBudget",
                format!(
                    "The disruption budget {name} needs {} healthy pods and has {} currently",
                    status_int(pdb, "desiredHealthy"),
                    status_int(pdb, "currentHealthy")
                ),
                "",
            )),
        );
    }
    let status = object_field(pdb, "status");
    status.insert("disruptionsAllowed".into(), json!(allowed - 1));
    if allowed - 1 == 0 {
        let observed = status.get("observedGeneration").cloned().unwrap_or(json!(0));
        set_condition(
            status,
            json!({
                "type": "DisruptionAllowed",
                "status": "False",
                "reason": "InsufficientPods",
                "message": "",
                "observedGeneration": observed,
            }),
            now,
        );
    }
    let disrupted = status.entry("disruptedPods").or_insert_with(|| json!({}));
    if !disrupted.is_object() {
        *disrupted = json!({});
    }
    if let Some(map) = disrupted.as_object_mut() {
        map.insert(pod_name.to_string(), json!(now));
    }
    Ok(())
}

/// The 429 of a budget that cannot be judged now (its status lags its spec, or a race).
fn too_many_requests(pdb_name: &str) -> ApiError {
    ApiError::too_many_requests(BUDGET_MESSAGE, 10).with_cause(StatusCause::new(
        "DisruptionBudget",
        format!("The disruption budget {pdb_name} is still being processed by the server."),
        "",
    ))
}

fn object_field<'a>(obj: &'a mut Value, field: &str) -> &'a mut serde_json::Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let Value::Object(map) = obj else {
        unreachable!("just made an object")
    };
    let entry = map.entry(field).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// `meta.SetStatusCondition`: the transition time moves only when the status changes.
fn set_condition(status: &mut serde_json::Map<String, Value>, mut condition: Value, now: &str) {
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let kind = condition["type"].clone();
    match list.iter_mut().find(|c| c.get("type") == Some(&kind)) {
        Some(old) => {
            let same = old.get("status") == condition.get("status");
            condition["lastTransitionTime"] = match (same, old.get("lastTransitionTime")) {
                (true, Some(t)) => t.clone(),
                _ => json!(now),
            };
            *old = condition;
        }
        None => {
            condition["lastTransitionTime"] = json!(now);
            list.push(condition);
        }
    }
}

/// `UpdatePodCondition(DisruptionTarget=True, EvictionByEvictionAPI)`.
fn set_disruption_target(pod: &mut Value, now: &str) {
    let status = object_field(pod, "status");
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let mut condition = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionTarget"))
    {
        Some(old) => {
            if old.get("status").and_then(Value::as_str) == Some("True")
                && let Some(t) = old.get("lastTransitionTime")
            {
                condition["lastTransitionTime"] = t.clone();
            }
            *old = condition;
        }
        None => list.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb(allowed: i64) -> Value {
        json!({"metadata": {"name": "b", "generation": 1}, "spec": {"selector": {"matchLabels": {"app": "x"}}},
            "status": {"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2}})
    }

    #[test]
    fn decrement_spends_and_records() {
        let mut b = pdb(1);
        decrement(&mut b, "p1", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(b["status"]["disruptionsAllowed"], 0);
        assert_eq!(
            b["status"]["disruptedPods"],
            json!({"p1": "2026-01-01T00:00:00Z"})
        );
        assert_eq!(b["status"]["conditions"][0]["type"], "DisruptionAllowed");
        assert_eq!(b["status"]["conditions"][0]["status"], "False");
        assert_eq!(b["status"]["conditions"][0]["reason"], "InsufficientPods");
    }

    #[test]
    fn decrement_refuses_as_upstream() {
        let err = decrement(&mut pdb(0), "p", "t").unwrap_err();
        assert_eq!((err.code(), err.reason()), (429, StatusReason::TooManyRequests));
        assert_eq!(err.message(), BUDGET_MESSAGE);
        assert!(err.has_cause("DisruptionBudget"));
        let mut stale = pdb(3);
        stale["metadata"]["generation"] = json!(2);
        assert_eq!(
            decrement(&mut stale, "p", "t").unwrap_err().retry_after_seconds(),
            Some(10)
        );
        let err = decrement(&mut pdb(-1), "p", "t").unwrap_err();
        assert_eq!(err.code(), 403);
        assert_eq!(
            err.message(),
            r#"poddisruptionbudget.policy "b" is forbidden: pdb disruptions allowed is negative"#
        );
    }

    #[test]
    fn which_pods_skip_the_budget() {
        let pod = |phase: &str| json!({"metadata": {"name": "p"}, "status": {"phase": phase}});
        assert!(can_ignore_budget(&pod("Pending")));
        assert!(can_ignore_budget(&pod("Succeeded")));
        assert!(!can_ignore_budget(&pod("Running")));
        assert!(enforce_resource_version(&pod("Pending")));
        assert!(!enforce_resource_version(&pod("Failed")));
        let mut met = pdb(0);
        assert!(unhealthy_may_go(&met));
        met["status"]["currentHealthy"] = json!(1);
        assert!(!unhealthy_may_go(&met));
        met["spec"]["unhealthyPodEvictionPolicy"] = json!("AlwaysAllow");
        assert!(unhealthy_may_go(&met));
    }
}
