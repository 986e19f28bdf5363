use super::*;
use api::ContainerState::{
    ContainerCreated as Created, ContainerExited as Exited, ContainerRunning as Running,
};

const S: i64 = 1_000_000_000;

fn c(
    id: &str,
    sandbox: &str,
    uid: &str,
    name: &str,
    state: api::ContainerState,
    created_s: i64,
) -> ContainerInfo {
    ContainerInfo {
        id: id.into(),
        sandbox_id: sandbox.into(),
        pod_uid: uid.into(),
        name: name.into(),
        state,
        created_at: created_s * S,
    }
}

fn sb(id: &str, uid: &str, ready: bool, created_s: i64) -> SandboxInfo {
    SandboxInfo {
        id: id.into(),
        pod_uid: uid.into(),
        ready,
        created_at: created_s * S,
    }
}

fn none_gone(_: &str) -> bool {
    false
}

fn run(
    sandboxes: &[SandboxInfo],
    containers: &[ContainerInfo],
    gone: &dyn Fn(&str) -> bool,
    policy: Policy,
) -> Removals {
    plan(sandboxes, containers, gone, &[], &policy, true, 1000 * S)
}

#[test]
fn keeps_the_newest_dead_instance_per_container() {
    // Four attempts of "app": three dead, the current one running. Only the newest dead one
    // (what `kubectl logs --previous` reads) stays; "side" has one dead instance and keeps it.
    let sandboxes = [sb("s1", "u", true, 1)];
    let containers = [
        c("a1", "s1", "u", "app", Exited, 10),
        c("a2", "s1", "u", "app", Exited, 20),
        c("a3", "s1", "u", "app", Exited, 30),
        c("a4", "s1", "u", "app", Running, 40),
        c("b1", "s1", "u", "side", Exited, 15),
    ];
    let got = run(&sandboxes, &containers, &none_gone, Policy::default());
    assert_eq!(got.containers, vec!["a1", "a2"]);
    assert!(got.sandboxes.is_empty());
    assert!(got.gone_pods.is_empty());
}

#[test]
fn in_back_off_the_latest_dead_instance_stays() {
    // Waiting in crash-loop back-off: the latest attempt is dead too; it is the one kept.
    let containers = [
        c("a1", "s1", "u", "app", Exited, 10),
        c("a2", "s1", "u", "app", Exited, 20),
    ];
    let got = run(
        &[sb("s1", "u", true, 1)],
        &containers,
        &none_gone,
        Policy::default(),
    );
    assert_eq!(got.containers, vec!["a1"]);
}

#[test]
fn a_created_attempt_neither_goes_nor_counts() {
    let containers = [
        c("a1", "s1", "u", "app", Exited, 10),
        c("a2", "s1", "u", "app", Created, 20),
    ];
    let got = run(
        &[sb("s1", "u", true, 1)],
        &containers,
        &none_gone,
        Policy::default(),
    );
    assert!(got.containers.is_empty(), "{got:?}");
}

#[test]
fn min_age_and_unlimited_policies() {
    let containers = [
        c("a1", "s1", "u", "app", Exited, 10),
        c("a2", "s1", "u", "app", Exited, 995),
        c("a3", "s1", "u", "app", Exited, 996),
    ];
    let sandboxes = [sb("s1", "u", true, 1)];
    // Created within the last 10 s: not evictable, so a1 is the only (kept) candidate.
    let young = Policy {
        min_age: Duration::from_secs(10),
        ..Policy::default()
    };
    assert!(
        run(&sandboxes, &containers, &none_gone, young)
            .containers
            .is_empty()
    );
    let unlimited = Policy {
        max_per_pod_container: -1,
        ..Policy::default()
    };
    assert!(
        run(&sandboxes, &containers, &none_gone, unlimited)
            .containers
            .is_empty()
    );
    let none_kept = Policy {
        max_per_pod_container: 0,
        ..Policy::default()
    };
    assert_eq!(
        run(&sandboxes, &containers, &none_gone, none_kept).containers,
        vec!["a1", "a2", "a3"]
    );
}

#[test]
fn max_containers_shares_then_takes_the_oldest() {
    let containers = [
        c("a1", "s1", "u", "a", Exited, 10),
        c("a2", "s1", "u", "a", Exited, 20),
        c("b1", "s1", "u", "b", Exited, 5),
        c("c1", "s2", "v", "c", Exited, 30),
    ];
    let sandboxes = [sb("s1", "u", true, 1), sb("s2", "v", true, 2)];
    let policy = Policy {
        max_per_pod_container: -1,
        max_containers: 2,
        ..Policy::default()
    };
    // Share per unit is max(2/3, 1) = 1: a1 goes; then 3 > 2, the oldest (b1) goes.
    let got = run(&sandboxes, &containers, &none_gone, policy);
    assert_eq!(got.containers, vec!["b1", "a1"]);
}

#[test]
fn old_dead_sandboxes_go_once_empty_and_not_newest() {
    let sandboxes = [
        sb("s1", "u", false, 1), // empty, older than s3: goes
        sb("s2", "u", false, 2), // still holds the kept dead instance: stays
        sb("s3", "u", true, 3),  // ready and newest: stays
        sb("t1", "w", false, 1), // newest (only) sandbox of an existing pod: stays
    ];
    let containers = [
        c("a1", "s2", "u", "app", Exited, 20),
        c("a2", "s3", "u", "app", Running, 30),
    ];
    let got = run(&sandboxes, &containers, &none_gone, Policy::default());
    assert!(got.containers.is_empty());
    assert_eq!(got.sandboxes, vec!["s1"]);
}

#[test]
fn a_sandbox_emptied_in_the_same_round_goes() {
    let sandboxes = [sb("s1", "u", false, 1), sb("s2", "u", true, 2)];
    let containers = [
        c("a1", "s1", "u", "app", Exited, 10),
        c("a2", "s2", "u", "app", Exited, 20),
    ];
    let got = run(&sandboxes, &containers, &none_gone, Policy::default());
    assert_eq!(got.containers, vec!["a1"]);
    assert_eq!(got.sandboxes, vec!["s1"]);
}

#[test]
fn everything_of_a_gone_pod_goes_including_log_dirs() {
    let sandboxes = [sb("s1", "gone", true, 1), sb("s2", "u", true, 2)];
    let containers = [
        c("a1", "s1", "gone", "app", Running, 10),
        c("x1", "sx", "gone", "app", Exited, 5), // its sandbox vanished already
        c("b1", "s2", "u", "app", Running, 20),
    ];
    let gone = |uid: &str| uid == "gone";
    let dirs = vec![
        "default_web_gone".to_string(),
        "default_other_u".to_string(),
        "not-a-pod-dir".to_string(),
    ];
    for dead_containers in [false, true] {
        let got = plan(
            &sandboxes,
            &containers,
            &gone,
            &dirs,
            &Policy::default(),
            dead_containers,
            1000 * S,
        );
        assert_eq!(got.sandboxes, vec!["s1"]);
        assert_eq!(got.containers, vec!["x1"]);
        assert_eq!(got.log_dirs, vec!["default_web_gone"]);
        assert_eq!(got.gone_pods, vec!["gone"]);
    }
}

#[test]
fn housekeeping_pass_leaves_dead_containers_alone() {
    let containers = [
        c("a1", "s1", "u", "app", Exited, 10),
        c("a2", "s1", "u", "app", Exited, 20),
    ];
    let got = plan(
        &[sb("s1", "u", true, 1)],
        &containers,
        &none_gone,
        &[],
        &Policy::default(),
        false,
        1000 * S,
    );
    assert_eq!(got, Removals::default());
}

#[test]
fn log_dir_names() {
    assert_eq!(uid_of_log_dir("ns_pod_1234-ab"), Some("1234-ab"));
    assert_eq!(uid_of_log_dir("ns_pod_"), None);
    assert_eq!(uid_of_log_dir("nounderscore"), None);
}
