//! What to do next for a pod, from its spec and what the runtime has: upstream's
//! computePodActions, reduced. Pure: no I/O, table-tested.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Pod;

use super::backoff::Backoff;
use super::observed::{Observed, State, nanos_to_system_time};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Start a new sandbox (after removing the old ones listed in `remove_sandboxes`).
    pub create_sandbox: bool,
    pub remove_sandboxes: Vec<String>,
    /// Containers to kill: (id, name, why).
    pub kill: Vec<(String, String, String)>,
    /// Containers to start, in order; init containers come alone.
    pub start: Vec<String>,
    /// Containers held back by crash-loop back-off: name → message.
    pub backing_off: HashMap<String, String>,
    /// Old dead instances to remove (all but the two newest per name).
    pub remove_containers: Vec<String>,
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
    for v in obs.containers.values() {
        plan.remove_containers.extend(
            v.iter()
                .skip(2)
                .filter(|i| i.state == State::Exited)
                .map(|i| i.id.clone()),
        );
    }
    if obs.ready_sandbox().is_none() {
        if needs_running(pod, obs) {
            plan.create_sandbox = true;
            plan.remove_sandboxes = obs.sandboxes.iter().map(|s| s.id.clone()).collect();
        }
        return plan;
    }
    // Old sandboxes beside the ready one go.
    plan.remove_sandboxes = obs.sandboxes.iter().skip(1).map(|s| s.id.clone()).collect();

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
mod tests {
    use super::*;
    use crate::pod::observed::{Instance, Sandbox};
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use std::time::Duration;

    fn pod(inits: &[&str], containers: &[&str], policy: &str) -> Pod {
        let c = |n: &&str| Container {
            name: n.to_string(),
            image: Some("img".into()),
            ..Default::default()
        };
        let mut p = Pod {
            spec: Some(PodSpec {
                init_containers: Some(inits.iter().map(c).collect()),
                containers: containers.iter().map(c).collect(),
                restart_policy: Some(policy.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        p.metadata.name = Some("p".into());
        p.metadata.namespace = Some("ns".into());
        p.metadata.uid = Some("u".into());
        p
    }

    fn inst(id: &str, state: State, code: i32, restarts: i32, finished_s: u64) -> Instance {
        Instance {
            id: id.into(),
            state,
            exit_code: code,
            reason: String::new(),
            message: String::new(),
            created_at: restarts as i64,
            started_at: 0,
            finished_at: (finished_s * 1_000_000_000) as i64,
            restart_count: restarts,
            image: "img".into(),
            image_ref: String::new(),
            hash: String::new(),
        }
    }

    fn obs(ready: bool, cs: &[(&str, Instance)]) -> Observed {
        let mut o = Observed {
            sandboxes: vec![Sandbox {
                id: "sb".into(),
                ready,
                ip: "10.0.0.2".into(),
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

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn bo() -> Backoff {
        Backoff::new(Duration::from_secs(10), Duration::from_secs(300))
    }

    #[test]
    fn new_pod_gets_a_sandbox_then_inits_in_order_then_containers() {
        let p = pod(&["i1", "i2"], &["a", "b"], "Always");
        let none = HashSet::new();
        let mut b = bo();
        let plan0 = plan(&p, &Observed::default(), &none, &mut b, t(100));
        assert!(plan0.create_sandbox);
        assert!(plan0.start.is_empty());

        let plan1 = plan(&p, &obs(true, &[]), &none, &mut b, t(100));
        assert_eq!(plan1.start, vec!["i1"]);
        let plan2 = plan(
            &p,
            &obs(true, &[("i1", inst("x", State::Running, 0, 0, 0))]),
            &none,
            &mut b,
            t(100),
        );
        assert!(plan2.start.is_empty(), "waits for the running init container");
        let plan3 = plan(
            &p,
            &obs(true, &[("i1", inst("x", State::Exited, 0, 0, 99))]),
            &none,
            &mut b,
            t(100),
        );
        assert_eq!(plan3.start, vec!["i2"]);
        let done = [
            ("i1", inst("x", State::Exited, 0, 0, 99)),
            ("i2", inst("y", State::Exited, 0, 0, 99)),
        ];
        let plan4 = plan(&p, &obs(true, &done), &none, &mut b, t(100));
        assert_eq!(plan4.start, vec!["a", "b"]);
    }

    #[test]
    fn crash_loop_backs_off_and_doubles() {
        let p = pod(&[], &["a"], "Always");
        let none = HashSet::new();
        let mut b = bo();
        let first = plan(
            &p,
            &obs(true, &[("a", inst("1", State::Exited, 1, 0, 100))]),
            &none,
            &mut b,
            t(100),
        );
        assert_eq!(first.start, vec!["a"], "first crash restarts at once");
        let second = plan(
            &p,
            &obs(true, &[("a", inst("2", State::Exited, 1, 1, 101))]),
            &none,
            &mut b,
            t(102),
        );
        assert!(second.start.is_empty());
        assert_eq!(
            second.backing_off["a"],
            "back-off 10s restarting failed container=a pod=p_ns(u)"
        );
        assert_eq!(second.wake_at, Some(t(111)));
        let third = plan(
            &p,
            &obs(true, &[("a", inst("2", State::Exited, 1, 1, 101))]),
            &none,
            &mut b,
            t(111),
        );
        assert_eq!(third.start, vec!["a"]);
        let fourth = plan(
            &p,
            &obs(true, &[("a", inst("3", State::Exited, 1, 2, 112))]),
            &none,
            &mut b,
            t(113),
        );
        assert_eq!(
            fourth.backing_off["a"],
            "back-off 20s restarting failed container=a pod=p_ns(u)"
        );
    }

    #[test]
    fn restart_policies() {
        let none = HashSet::new();
        for (policy, code, restarts) in [
            ("Always", 0, true),
            ("Always", 1, true),
            ("OnFailure", 0, false),
            ("OnFailure", 2, true),
            ("Never", 1, false),
            ("Never", 0, false),
        ] {
            let p = pod(&[], &["a"], policy);
            let got = plan(
                &p,
                &obs(true, &[("a", inst("1", State::Exited, code, 0, 100))]),
                &none,
                &mut bo(),
                t(100),
            );
            assert_eq!(!got.start.is_empty(), restarts, "{policy} exit {code}");
        }
        // A finished Never pod whose sandbox is gone gets no new sandbox.
        let p = pod(&[], &["a"], "Never");
        let got = plan(
            &p,
            &obs(false, &[("a", inst("1", State::Exited, 0, 0, 100))]),
            &none,
            &mut bo(),
            t(100),
        );
        assert!(!got.create_sandbox);
        // A failed init container fails a Never pod: nothing more starts.
        let p = pod(&["i"], &["a"], "Never");
        let got = plan(
            &p,
            &obs(true, &[("i", inst("1", State::Exited, 1, 0, 100))]),
            &none,
            &mut bo(),
            t(100),
        );
        assert!(got.start.is_empty());
    }

    #[test]
    fn finished_pods_never_run_again() {
        let mut p = pod(&[], &["a"], "OnFailure");
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        let got = plan(&p, &Observed::default(), &HashSet::new(), &mut bo(), t(100));
        assert_eq!(got, Plan::default());
    }

    #[test]
    fn liveness_failure_kills_the_container() {
        let p = pod(&[], &["a"], "Always");
        let failed = HashSet::from(["1".to_string()]);
        let got = plan(
            &p,
            &obs(true, &[("a", inst("1", State::Running, 0, 0, 0))]),
            &failed,
            &mut bo(),
            t(100),
        );
        assert_eq!(got.kill.len(), 1);
        assert_eq!(got.kill[0].0, "1");
    }

    #[test]
    fn sidecars_run_beside_the_main_containers_and_stop_after_them() {
        let mut p = pod(&["side", "i2"], &["a"], "Never");
        p.spec.as_mut().unwrap().init_containers.as_mut().unwrap()[0].restart_policy = Some("Always".into());
        let none = HashSet::new();
        let got = plan(&p, &obs(true, &[]), &none, &mut bo(), t(100));
        assert_eq!(got.start, vec!["side"]);
        let got = plan(
            &p,
            &obs(true, &[("side", inst("s", State::Running, 0, 0, 0))]),
            &none,
            &mut bo(),
            t(100),
        );
        assert_eq!(
            got.start,
            vec!["i2"],
            "a running sidecar lets the next init container start"
        );
        let o = obs(
            true,
            &[
                ("side", inst("s", State::Running, 0, 0, 0)),
                ("i2", inst("x", State::Exited, 0, 0, 1)),
                ("a", inst("y", State::Exited, 0, 0, 2)),
            ],
        );
        let got = plan(&p, &o, &none, &mut bo(), t(100));
        assert_eq!(
            got.kill.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
            vec!["s"],
            "sidecar stops once the main container is done"
        );
    }

    #[test]
    fn changed_spec_replaces_the_container() {
        let p = pod(&[], &["a"], "Never");
        let mut i = inst("1", State::Running, 0, 0, 0);
        i.hash = "stale".into();
        let got = plan(&p, &obs(true, &[("a", i)]), &HashSet::new(), &mut bo(), t(100));
        assert_eq!(got.kill.len(), 1);
        assert_eq!(got.start, vec!["a"]);
    }

    #[test]
    fn old_instances_are_removed() {
        let p = pod(&[], &["a"], "Always");
        let o = obs(
            true,
            &[
                ("a", inst("1", State::Exited, 1, 0, 1)),
                ("a", inst("2", State::Exited, 1, 1, 2)),
                ("a", inst("3", State::Running, 0, 2, 0)),
            ],
        );
        let got = plan(&p, &o, &HashSet::new(), &mut bo(), t(100));
        assert_eq!(got.remove_containers, vec!["1"]);
    }
}
