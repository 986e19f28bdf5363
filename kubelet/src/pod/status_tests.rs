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
            attempt: 0,
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
