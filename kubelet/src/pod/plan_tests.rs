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
