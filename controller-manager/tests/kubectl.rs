//! Stock kubectl (1.27 and 1.33) against an in-process apiserver with the controllers running:
//! rollout status / history / undo, delete with each --cascade mode, delete ns.

mod common;

use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, ListParams};
use rudder_testkit::eventually;

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// Runs kubectl off the async runtime; returns stdout, panics with stderr on failure.
    async fn run(&self, args: &[&str]) -> String {
        let (bin, kubeconfig) = (self.bin.clone(), self.kubeconfig.clone());
        let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
        let shown = args.join(" ");
        let out = tokio::task::spawn_blocking(move || {
            Command::new(bin)
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(&args)
                .output()
        })
        .await
        .expect("join")
        .expect("run kubectl");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "kubectl {shown} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

async fn images(client: &kube::Client, ns: &str, selector: &str) -> Vec<String> {
    common::pods(client, ns, selector)
        .await
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
        .collect()
}

async fn suite(version: &str) {
    let cluster = common::start(&[
        "deployment",
        "replicaset",
        "garbagecollector",
        "namespace",
        "serviceaccount",
    ])
    .await;
    let client = cluster.client.clone();
    let k = Kubectl {
        bin: rudder_testkit::kubectl_binary(version),
        kubeconfig: cluster.server.kubeconfig.clone(),
    };
    let _kubelet = common::fake_kubelet(client.clone(), "default");

    k.run(&["create", "deployment", "web", "--image=nginx:1", "--replicas=3"])
        .await;
    let out = k
        .run(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");

    k.run(&["set", "image", "deployment/web", "nginx=nginx:2"]).await;
    let out = k
        .run(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    assert!(
        images(&client, "default", "app=web")
            .await
            .iter()
            .all(|i| i == "nginx:2")
    );

    let history = k.run(&["rollout", "history", "deployment/web"]).await;
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    let rev1 = k
        .run(&["rollout", "history", "deployment/web", "--revision=1"])
        .await;
    assert!(rev1.contains("nginx:1"), "{rev1}");

    let out = k.run(&["rollout", "undo", "deployment/web"]).await;
    assert!(out.contains("rolled back"), "{out}");
    k.run(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    eventually("rolled back to nginx:1", common::WAIT, || async {
        let images = images(&client, "default", "app=web").await;
        (images.len() == 3 && images.iter().all(|i| i == "nginx:1")).then_some(())
    })
    .await;
    let history = k.run(&["rollout", "history", "deployment/web"]).await;
    assert!(
        history.lines().any(|l| l.starts_with('3')),
        "undo makes revision 3: {history}"
    );

    // --cascade modes.
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    for name in ["orph", "bg", "fg"] {
        k.run(&["create", "deployment", name, "--image=busybox", "--replicas=2"])
            .await;
        k.run(&[
            "rollout",
            "status",
            &format!("deployment/{name}"),
            "--timeout=60s",
        ])
        .await;
    }
    k.run(&["delete", "deployment", "orph", "--cascade=orphan"]).await;
    let left = rss
        .list(&ListParams::default().labels("app=orph"))
        .await
        .expect("list")
        .items;
    assert_eq!(left.len(), 1, "orphaned ReplicaSet stays");
    assert!(
        left[0]
            .metadata
            .owner_references
            .as_ref()
            .is_none_or(|r| r.is_empty())
    );
    assert_eq!(common::pods(&client, "default", "app=orph").await.len(), 2);

    k.run(&["delete", "deployment", "bg", "--cascade=background"])
        .await;
    eventually("background cascade", common::WAIT, || async {
        let rs = rss
            .list(&ListParams::default().labels("app=bg"))
            .await
            .ok()?
            .items;
        (rs.is_empty() && common::pods(&client, "default", "app=bg").await.is_empty()).then_some(())
    })
    .await;
    // Foreground: kubectl waits for the Deployment to be gone, which needs its dependents gone.
    k.run(&["delete", "deployment", "fg", "--cascade=foreground"])
        .await;
    assert!(
        rss.list(&ListParams::default().labels("app=fg"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(common::pods(&client, "default", "app=fg").await.is_empty());

    // delete ns: content goes. (`--wait=false`: the namespace itself can only go once the
    // apiserver serves namespaces/{name}/finalize.)
    k.run(&["create", "namespace", "scratch"]).await;
    k.run(&["-n", "scratch", "create", "configmap", "c", "--from-literal=a=b"])
        .await;
    k.run(&["-n", "scratch", "create", "deployment", "d", "--image=busybox"])
        .await;
    k.run(&["delete", "namespace", "scratch", "--wait=false"]).await;
    eventually("namespace content deleted", common::WAIT, || async {
        let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), "scratch");
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(client.clone(), "scratch");
        let cm_gone = cms.get_opt("c").await.ok()?.is_none();
        let d_gone = deployments.get_opt("d").await.ok()?.is_none();
        (cm_gone && d_gone && common::pods(&client, "scratch", "").await.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27() {
    suite("1.27").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33() {
    suite("1.33").await;
}
