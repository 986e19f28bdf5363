//! What to do next for a pod, from its spec and what the runtime has: upstream's
//! computePodActions, reduced. Pure: no I/O, table-tested.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Pod;

use super::backoff::Backoff;
use super::observed::{Observed, State, nanos_to_system_time};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Start a new sandbox (after stopping the old ones listed in `stop_sandboxes`).
    pub create_sandbox: bool,
    /// Old sandboxes to stop. They are not removed here: their dead containers stay for
    /// `kubectl logs --previous` until the container GC takes them (as upstream).
    pub stop_sandboxes: Vec<String>,
    /// Containers to kill: (id, name, why).
    pub kill: Vec<(String, String, String)>,
    /// Containers to start, in order; init containers come alone.
    pub start: Vec<String>,
    /// Containers held back by crash-loop back-off: name → message.
    pub backing_off: HashMap<String, String>,
    /// When to look again because a back-off ends.
    pub wake_at: Option<SystemTime>,
}

/// Whether a container that exited with `code` runs again under the pod's restartPolicy.
pub fn should_restart(policy: &str, code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != 0,
        _ => true,
    }
}

pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// The back-off key of a container (upstream: pod name, namespace, uid, container name, hash).
pub fn backoff_key(pod: &Pod, container: &str) -> String {
    format!(
        "{}_{}_{}_{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or(""),
        container
    )
}

fn backoff_message(pod: &Pod, container: &str, delay: std::time::Duration) -> String {
    format!(
        "back-off {}s restarting failed container={} pod={}_{}({})",
        delay.as_secs(),
        container,
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

/// Whether the pod still has work to run (so a missing sandbox must be created).
/// A restartable init container (sidecar): restartPolicy Always on an init container.
pub fn is_sidecar(c: &k8s_openapi::api::core::v1::Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn needs_running(pod: &Pod, obs: &Observed) -> bool {
    let Some(spec) = &pod.spec else { return false };
    let policy = restart_policy(pod);
    if policy == "Always" {
        return true;
    }
    let inits = spec.init_containers.iter().flatten().filter(|c| !is_sidecar(c));
    for c in inits {
        match obs.latest(&c.name) {
            None => return true,
            Some(i) if i.state != State::Exited => return true,
            Some(i) if i.exit_code != 0 => return should_restart(policy, i.exit_code),
            _ => {}
        }
    }
    spec.containers.iter().any(|c| match obs.latest(&c.name) {
        None => true,
        Some(i) if i.state != State::Exited => true,
        Some(i) => should_restart(policy, i.exit_code),
    })
}

/// Decides a restart of `name` whose latest instance exited at `finished`; records it in the
/// back-off when it goes ahead.
fn restart_or_back_off(
    pod: &Pod,
    name: &str,
    finished: i64,
    backoff: &mut Backoff,
    now: SystemTime,
    plan: &mut Plan,
) -> bool {
    let key = backoff_key(pod, name);
    let event = nanos_to_system_time(finished);
    if let Some(delay) = backoff.in_backoff_since(&key, event, now) {
        plan.backing_off
            .insert(name.into(), backoff_message(pod, name, delay));
        let ends = event + delay;
        plan.wake_at = Some(plan.wake_at.map_or(ends, |w| w.min(ends)));
        return false;
    }
    backoff.next(&key, event);
    true
}

pub fn plan(
    pod: &Pod,
    obs: &Observed,
    liveness_failed: &HashSet<String>,
    backoff: &mut Backoff,
    now: SystemTime,
) -> Plan {
    let mut plan = Plan::default();
    let Some(spec) = &pod.spec else { return plan };
    // A pod the API already records as finished never runs again (e.g. after a kubelet
    // restart that finds its containers gone).
    if matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return plan;
    }
    let policy = restart_policy(pod).to_string();
    if obs.ready_sandbox().is_none() {
        if needs_running(pod, obs) {
            plan.create_sandbox = true;
            plan.stop_sandboxes = obs
                .sandboxes
                .iter()
                .filter(|s| s.ready)
                .map(|s| s.id.clone())
                .collect();
        }
        return plan;
    }
    // Old sandboxes beside the ready one stop.
    plan.stop_sandboxes = obs
        .sandboxes
        .iter()
        .skip(1)
        .filter(|s| s.ready)
        .map(|s| s.id.clone())
        .collect();

    // Init containers, one at a time, in order; a sidecar counts as done once it runs.
    for c in spec.init_containers.iter().flatten() {
        if is_sidecar(c) {
            match obs.latest(&c.name) {
                None => {
                    plan.start.push(c.name.clone());
                    return plan;
                }
                Some(i) if i.state == State::Created => {
                    plan.kill
                        .push((i.id.clone(), c.name.clone(), "created but not started".into()));
                    plan.start.push(c.name.clone());
                    return plan;
                }
                Some(i) if i.state == State::Exited => {
                    if restart_or_back_off(pod, &c.name, i.finished_at, backoff, now, &mut plan) {
                        plan.start.push(c.name.clone());
                    }
                    return plan;
                }
                Some(i) if liveness_failed.contains(&i.id) => {
                    plan.kill.push((
                        i.id.clone(),
                        c.name.clone(),
                        format!("Container {} failed liveness probe, will be restarted", c.name),
                    ));
                    return plan;
                }
                Some(_) => continue,
            }
        }
        match obs.latest(&c.name) {
            None => {
                plan.start.push(c.name.clone());
                return plan;
            }
            Some(i) if i.state == State::Created => {
                plan.kill
                    .push((i.id.clone(), c.name.clone(), "created but not started".into()));
                plan.start.push(c.name.clone());
                return plan;
            }
            Some(i) if i.state != State::Exited => return plan,
            Some(i) if i.exit_code == 0 => continue,
            Some(i) => {
                if should_restart(&policy, i.exit_code)
                    && restart_or_back_off(pod, &c.name, i.finished_at, backoff, now, &mut plan)
                {
                    plan.start.push(c.name.clone());
                }
                return plan;
            }
        }
    }

    for c in &spec.containers {
        match obs.latest(&c.name) {
            None => plan.start.push(c.name.clone()),
            Some(i) => match i.state {
                State::Running if !i.hash.is_empty() && i.hash != super::spec::container_hash(c) => {
                    // The spec changed (e.g. a new image): replace the container at once.
                    plan.kill.push((
                        i.id.clone(),
                        c.name.clone(),
                        format!("Container {} definition changed, will be restarted", c.name),
                    ));
                    plan.start.push(c.name.clone());
                }
                State::Running if liveness_failed.contains(&i.id) => {
                    plan.kill.push((
                        i.id.clone(),
                        c.name.clone(),
                        format!("Container {} failed liveness probe, will be restarted", c.name),
                    ));
                }
                State::Running | State::Unknown => {}
                State::Created => {
                    plan.kill
                        .push((i.id.clone(), c.name.clone(), "created but not started".into()));
                    plan.start.push(c.name.clone());
                }
                State::Exited => {
                    if should_restart(&policy, i.exit_code)
                        && restart_or_back_off(pod, &c.name, i.finished_at, backoff, now, &mut plan)
                    {
                        plan.start.push(c.name.clone());
                    }
                }
            },
        }
    }
    // Once every regular container of a Never/OnFailure pod is done, sidecars stop too.
    let finished = policy != "Always"
        && spec.containers.iter().all(|c| {
            obs.latest(&c.name)
                .is_some_and(|i| i.state == State::Exited && !should_restart(&policy, i.exit_code))
        });
    if finished {
        for c in spec.init_containers.iter().flatten().filter(|c| is_sidecar(c)) {
            if let Some(i) = obs.latest(&c.name).filter(|i| i.state == State::Running) {
                plan.kill
                    .push((i.id.clone(), c.name.clone(), "main containers completed".into()));
            }
        }
    }
    plan
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
