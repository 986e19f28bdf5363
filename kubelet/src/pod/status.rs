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
mod tests {
    use super::*;
    use crate::pod::observed::Sandbox;
    use k8s_openapi::api::core::v1::{PodSpec, Probe};

    fn pod(inits: &[&str], containers: &[&str], policy: &str) -> Pod {
        let c = |n: &&str| Container {
            name: n.to_string(),
            image: Some("img".into()),
            ..Default::default()
        };
        Pod {
            spec: Some(PodSpec {
                init_containers: Some(inits.iter().map(c).collect()),
                containers: containers.iter().map(c).collect(),
                restart_policy: Some(policy.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn inst(id: &str, state: State, code: i32, restarts: i32) -> Instance {
        Instance {
            id: id.into(),
            state,
            exit_code: code,
            reason: String::new(),
            message: String::new(),
            created_at: restarts as i64,
            started_at: 1_000_000_000,
            finished_at: 2_000_000_000,
            restart_count: restarts,
            image: "img".into(),
            image_ref: "sha256:x".into(),
            hash: String::new(),
        }
    }

    fn obs(cs: &[(&str, Instance)]) -> Observed {
        let mut o = Observed {
            sandboxes: vec![Sandbox {
                id: "sb".into(),
                ready: true,
                ip: "10.1.0.5".into(),
                additional_ips: vec![],
                created_at: 1,
            }],
            containers: HashMap::new(),
        };
        for (n, i) in cs {
            o.containers.entry(n.to_string()).or_default().push(i.clone());
        }
        o.sort();
        o
    }

    fn run(
        p: &Pod,
        o: &Observed,
        probes: &HashMap<String, ProbeState>,
        waiting: &HashMap<String, (String, String)>,
        backing_off: &HashMap<String, String>,
    ) -> PodStatus {
        compute(
            p,
            &Inputs {
                observed: o,
                probes,
                waiting,
                backing_off,
                host_ip: "192.168.1.2".into(),
            },
            Timestamp::from_second(100).unwrap(),
        )
    }

    fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a PodCondition {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == t)
            .unwrap()
    }
    fn waiting_reason(s: &ContainerStatus) -> Option<String> {
        s.state.as_ref()?.waiting.as_ref()?.reason.clone()
    }

    #[test]
    fn initializing_pod() {
        let p = pod(&["i1"], &["a"], "Always");
        let s = run(
            &p,
            &obs(&[("i1", inst("1", State::Running, 0, 0))]),
            &HashMap::new(),
            &HashMap::new(),
            &HashMap::new(),
        );
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(cond(&s, "Initialized").status, "False");
        assert_eq!(
            cond(&s, "Initialized").message.as_deref(),
            Some("containers with incomplete status: [i1]")
        );
        assert_eq!(cond(&s, "PodReadyToStartContainers").status, "True");
        assert_eq!(
            waiting_reason(&s.container_statuses.as_ref().unwrap()[0]).as_deref(),
            Some("PodInitializing")
        );
        assert_eq!(s.pod_ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn running_and_ready() {
        let p = pod(&["i1"], &["a", "b"], "Always");
        let o = obs(&[
            ("i1", inst("1", State::Exited, 0, 0)),
            ("a", inst("2", State::Running, 0, 0)),
            ("b", inst("3", State::Running, 0, 0)),
        ]);
        let s = run(&p, &o, &HashMap::new(), &HashMap::new(), &HashMap::new());
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(cond(&s, "Initialized").status, "True");
        assert_eq!(cond(&s, "Ready").status, "True");
        assert_eq!(cond(&s, "ContainersReady").status, "True");
        let init = &s.init_container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            init.state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("Completed")
        );
        assert!(
            s.container_statuses
                .as_ref()
                .unwrap()
                .iter()
                .all(|c| c.ready && c.started == Some(true))
        );
    }

    #[test]
    fn readiness_probe_gates_ready() {
        let mut p = pod(&[], &["a"], "Always");
        p.spec.as_mut().unwrap().containers[0].readiness_probe = Some(Probe::default());
        let o = obs(&[("a", inst("2", State::Running, 0, 0))]);
        let s = run(&p, &o, &HashMap::new(), &HashMap::new(), &HashMap::new());
        assert_eq!(cond(&s, "Ready").status, "False");
        assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("ContainersNotReady"));
        assert_eq!(
            cond(&s, "Ready").message.as_deref(),
            Some("containers with unready status: [a]")
        );
        let probes = HashMap::from([(
            "2".to_string(),
            ProbeState {
                ready: true,
                started: true,
                liveness_failed: false,
            },
        )]);
        let s = run(&p, &o, &probes, &HashMap::new(), &HashMap::new());
        assert_eq!(cond(&s, "Ready").status, "True");
    }

    #[test]
    fn crash_loop_and_errors() {
        let p = pod(&[], &["a"], "Always");
        let o = obs(&[
            ("a", inst("1", State::Exited, 1, 0)),
            ("a", inst("2", State::Exited, 1, 1)),
        ]);
        let bo = HashMap::from([("a".to_string(), "back-off 10s ...".to_string())]);
        let s = run(&p, &o, &HashMap::new(), &HashMap::new(), &bo);
        let c = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(waiting_reason(c).as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(c.restart_count, 1);
        assert_eq!(
            c.last_state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("Error")
        );
        assert_eq!(s.phase.as_deref(), Some("Running"), "restarting under Always");

        let w = HashMap::from([(
            "a".to_string(),
            ("ErrImagePull".to_string(), "not found".to_string()),
        )]);
        let s = run(&p, &obs(&[]), &HashMap::new(), &w, &HashMap::new());
        assert_eq!(
            waiting_reason(&s.container_statuses.as_ref().unwrap()[0]).as_deref(),
            Some("ErrImagePull")
        );
        assert_eq!(s.phase.as_deref(), Some("Pending"));

        let mut oom = inst("1", State::Exited, 137, 0);
        oom.reason = "OOMKilled".into();
        let s = run(
            &pod(&[], &["a"], "Never"),
            &obs(&[("a", oom)]),
            &HashMap::new(),
            &HashMap::new(),
            &HashMap::new(),
        );
        let t = s.container_statuses.as_ref().unwrap()[0]
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap();
        assert_eq!(t.reason.as_deref(), Some("OOMKilled"));
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodCompleted"));
    }

    #[test]
    fn phases() {
        let s = run(
            &pod(&[], &["a"], "OnFailure"),
            &obs(&[("a", inst("1", State::Exited, 0, 0))]),
            &HashMap::new(),
            &HashMap::new(),
            &HashMap::new(),
        );
        assert_eq!(s.phase.as_deref(), Some("Succeeded"));
        let s = run(
            &pod(&["i"], &["a"], "Never"),
            &obs(&[("i", inst("1", State::Exited, 3, 0))]),
            &HashMap::new(),
            &HashMap::new(),
            &HashMap::new(),
        );
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        let s = run(
            &pod(&[], &["a"], "Always"),
            &obs(&[]),
            &HashMap::new(),
            &HashMap::new(),
            &HashMap::new(),
        );
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(
            waiting_reason(&s.container_statuses.as_ref().unwrap()[0]).as_deref(),
            Some("ContainerCreating")
        );
    }
}
