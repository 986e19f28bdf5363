//! The pod status the kubelet reports: container statuses with upstream's reasons, phase,
//! conditions, IPs, QoS class. Pure: computed from the spec, the runtime, probe results.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::names;
use super::observed::{Instance, Observed, State};
use super::plan::{restart_policy, should_restart};

/// Probe results of one running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeState {
    pub ready: bool,
    pub started: bool,
    pub liveness_failed: bool,
}

/// Everything the status is computed from besides the pod.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub observed: &'a Observed,
    /// Container id → probe results (containers without probes are absent).
    pub probes: &'a HashMap<String, ProbeState>,
    /// Container name → (reason, message) for containers that could not be created
    /// (ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...).
    pub waiting: &'a HashMap<String, (String, String)>,
    /// Container name → CrashLoopBackOff message.
    pub backing_off: &'a HashMap<String, String>,
    pub host_ip: String,
}

fn time(nanos: i64) -> Option<Time> {
    (nanos > 0)
        .then(|| Timestamp::from_second(nanos / 1_000_000_000).ok())
        .flatten()
        .map(Time)
}

fn terminated(i: &Instance) -> ContainerStateTerminated {
    let reason = if i.reason == "OOMKilled" {
        "OOMKilled"
    } else if i.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    ContainerStateTerminated {
        container_id: Some(format!("containerd://{}", i.id)),
        exit_code: i.exit_code,
        finished_at: time(i.finished_at),
        message: Some(i.message.clone()).filter(|m| !m.is_empty()),
        reason: Some(reason.into()),
        signal: None,
        started_at: time(i.started_at),
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

fn container_status(
    c: &Container,
    init: bool,
    inits_done: bool,
    policy: &str,
    inp: &Inputs<'_>,
) -> ContainerStatus {
    let latest = inp.observed.latest(&c.name);
    let probe = latest.and_then(|i| inp.probes.get(&i.id)).copied();
    let has_readiness = c.readiness_probe.is_some();
    let has_startup = c.startup_probe.is_some();
    let mut last_state = inp
        .observed
        .previous(&c.name)
        .filter(|p| p.state == State::Exited)
        .map(|p| ContainerState {
            terminated: Some(terminated(p)),
            ..Default::default()
        });
    let (state, ready, started) = match latest {
        None => {
            let st = match inp.waiting.get(&c.name) {
                Some((r, m)) => waiting(r, Some(m.clone()).filter(|m| !m.is_empty())),
                None if !init && !inits_done => waiting("PodInitializing", None),
                None if init => waiting("PodInitializing", None),
                None => waiting("ContainerCreating", None),
            };
            (st, false, false)
        }
        Some(i) => match i.state {
            State::Running => {
                let started = !has_startup || probe.is_some_and(|p| p.started);
                let ready = started && (!has_readiness || probe.is_some_and(|p| p.ready));
                let st = ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: time(i.started_at),
                    }),
                    ..Default::default()
                };
                (st, ready, started)
            }
            State::Exited => {
                let restarting = should_restart(policy, i.exit_code) && !(init && i.exit_code == 0);
                if let Some(msg) = inp.backing_off.get(&c.name).filter(|_| restarting) {
                    last_state = Some(ContainerState {
                        terminated: Some(terminated(i)),
                        ..Default::default()
                    });
                    (waiting("CrashLoopBackOff", Some(msg.clone())), false, false)
                } else if let Some((r, m)) = inp.waiting.get(&c.name).filter(|_| restarting) {
                    last_state = Some(ContainerState {
                        terminated: Some(terminated(i)),
                        ..Default::default()
                    });
                    (
                        waiting(r, Some(m.clone()).filter(|m| !m.is_empty())),
                        false,
                        false,
                    )
                } else {
                    (
                        ContainerState {
                            terminated: Some(terminated(i)),
                            ..Default::default()
                        },
                        false,
                        false,
                    )
                }
            }
            State::Created | State::Unknown => (waiting("ContainerCreating", None), false, false),
        },
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: latest.map(|i| i.image_ref.clone()).unwrap_or_default(),
        container_id: latest.map(|i| format!("containerd://{}", i.id)),
        ready,
        restart_count: latest.map_or(0, |i| i.restart_count),
        started: (!init).then_some(started),
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ..Default::default()
    }
}

/// Upstream's getPhase over the regular containers.
fn phase(policy: &str, statuses: &[ContainerStatus]) -> &'static str {
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in statuses {
        let st = s.state.clone().unwrap_or_default();
        if st.running.is_some() {
            running += 1;
        } else if let Some(t) = st.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .is_some()
        {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    }
}

fn condition(
    t: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    prev: &[PodCondition],
    now: &Time,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let transition = prev
        .iter()
        .find(|c| c.type_ == t && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    PodCondition {
        type_: t.into(),
        status: status.into(),
        reason: reason.map(str::to_string),
        message,
        last_transition_time: Some(transition),
        last_probe_time: None,
        observed_generation: None,
    }
}

pub fn compute(pod: &Pod, inp: &Inputs<'_>, now: Timestamp) -> PodStatus {
    let now_t = Time(now);
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = restart_policy(pod).to_string();
    let prev = pod.status.clone().unwrap_or_default();
    let prev_conds = prev.conditions.clone().unwrap_or_default();

    let inits = spec.init_containers.clone().unwrap_or_default();
    let mut init_statuses = Vec::new();
    let mut pending_inits = Vec::new();
    let mut init_failed = false;
    for c in &inits {
        let sidecar = super::plan::is_sidecar(c);
        let done = if sidecar {
            inp.observed
                .latest(&c.name)
                .is_some_and(|i| i.state == State::Running)
        } else {
            inp.observed
                .latest(&c.name)
                .is_some_and(|i| i.state == State::Exited && i.exit_code == 0)
        };
        if !done {
            pending_inits.push(c.name.clone());
            if inp
                .observed
                .latest(&c.name)
                .is_some_and(|i| i.state == State::Exited && i.exit_code != 0)
                && policy == "Never"
                && !sidecar
            {
                init_failed = true;
            }
        }
        let own_policy = if sidecar { "Always" } else { policy.as_str() };
        init_statuses.push(container_status(c, !sidecar, false, own_policy, inp));
    }
    let inits_done = pending_inits.is_empty();
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(c, false, inits_done, &policy, inp))
        .collect();

    let phase = if init_failed {
        "Failed"
    } else if !inits_done {
        "Pending"
    } else {
        phase(&policy, &statuses)
    };
    let completed = phase == "Succeeded" || phase == "Failed";
    let unready: Vec<String> = statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.clone())
        .collect();
    let sandbox = inp.observed.ready_sandbox();

    let mut conditions = vec![condition(
        "PodReadyToStartContainers",
        sandbox.is_some_and(|s| !s.ip.is_empty()),
        None,
        None,
        &prev_conds,
        &now_t,
    )];
    conditions.push(if inits_done {
        condition(
            "Initialized",
            true,
            completed.then_some("PodCompleted"),
            None,
            &prev_conds,
            &now_t,
        )
    } else {
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                pending_inits.join(" ")
            )),
            &prev_conds,
            &now_t,
        )
    });
    let ready_cond = |t: &str| {
        if completed {
            condition(t, false, Some("PodCompleted"), None, &prev_conds, &now_t)
        } else if unready.is_empty() {
            condition(t, true, None, None, &prev_conds, &now_t)
        } else {
            condition(
                t,
                false,
                Some("ContainersNotReady"),
                Some(format!("containers with unready status: [{}]", unready.join(" "))),
                &prev_conds,
                &now_t,
            )
        }
    };
    conditions.push(ready_cond("ContainersReady"));
    conditions.push(ready_cond("Ready"));
    conditions.push(condition("PodScheduled", true, None, None, &prev_conds, &now_t));

    let (pod_ip, pod_ips) = match inp.observed.sandbox().filter(|s| !s.ip.is_empty()) {
        Some(s) => {
            let mut ips = vec![PodIP { ip: s.ip.clone() }];
            ips.extend(s.additional_ips.iter().map(|ip| PodIP { ip: ip.clone() }));
            (Some(s.ip.clone()), Some(ips))
        }
        // After the sandbox is gone the last known IPs stay, as upstream.
        None => (prev.pod_ip.clone(), prev.pod_ips.clone()),
    };
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        host_ip: Some(inp.host_ip.clone()),
        host_ips: Some(vec![HostIP {
            ip: inp.host_ip.clone(),
        }]),
        pod_ip,
        pod_ips,
        qos_class: Some(names::qos_class(pod).into()),
        start_time: prev.start_time.clone().or(Some(now_t)),
        init_container_statuses: Some(init_statuses).filter(|s| !s.is_empty()),
        container_statuses: Some(statuses),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
