//! A creation that fails half-way (here: the apiserver exits at once) removes everything it had
//! made: processes, namespaces, links, routes, cgroups and the cluster dir. Needs root and the
//! packages of scripts/install-deps.sh; skipped loudly otherwise (a failure under CI=1).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use rudder_e2e::rkind::spec::{ClusterSpec, ProxyMode};
use rudder_e2e::rkind::{self, CreateOptions, RkindError, binaries, state::State};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_create_leaves_nothing_behind() {
    let spec = ClusterSpec {
        name: format!("e2e-fail-{}", std::process::id()),
        nodes: 2,
        etcd: false,
        proxy_mode: ProxyMode::Iptables,
    };
    if let Err(why) = rkind::preflight::check(&spec) {
        if std::env::var_os("CI").is_some() {
            panic!("rkind e2e cannot run in CI: {why}");
        }
        eprintln!("\n*** SKIPPED: rkind e2e test not run: {why} ***\n");
        return;
    }
    // The real binaries, except an apiserver that fails at once.
    let real = binaries::locate(&|m| eprintln!("{m}")).expect("binaries");
    let fake = tempfile::tempdir().expect("tempdir");
    for name in binaries::NAMES {
        let to = fake.path().join(name);
        if name == "kube-apiserver" {
            std::fs::write(
                &to,
                "#!/bin/sh\necho 'kube-apiserver: refusing to start (test)' >&2\nexit 3\n",
            )
            .unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::os::unix::fs::symlink(real.path(name), &to).unwrap();
        }
    }
    binaries::set_override(fake.path());
    let err = rkind::create(
        &spec,
        &CreateOptions {
            progress: true,
            wait: Duration::from_secs(30),
        },
    )
    .await
    .expect_err("the apiserver exits, so create fails");
    assert!(
        matches!(&err, RkindError::Exited { role, detail } if role == "kube-apiserver" && detail.contains("refusing to start")),
        "error names the component and its log: {err}"
    );
    // The record went with the dir: rebuild the names (they do not depend on the index).
    let plan = rkind::plan::plan(&spec.name, 0, spec.nodes).unwrap();
    let dir = rkind::state::cluster_dir(&spec.name);
    assert!(!dir.exists(), "cluster dir removed");
    let st = State {
        name: spec.name.clone(),
        netns: plan.nodes.iter().map(|n| n.netns.clone()).collect(),
        cgroup_roots: (0..spec.nodes)
            .map(|i| rkind::components::cgroup_root(&spec.name, i))
            .collect(),
        ..Default::default()
    };
    let left = support::leftovers(&st);
    assert!(left.is_empty(), "failed create left behind: {left:?}");
}
