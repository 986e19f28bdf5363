//! `kubectl logs`, `exec`, `attach` and `port-forward` end to end: stock kubectl 1.27 (SPDY),
//! 1.30 and 1.33 (WebSocket first, then SPDY) → the in-process apiserver → the kubelet's HTTPS
//! server → containerd's streaming server, with a real pod on a containerd the test starts.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use rudder_testkit::find_kubectl;
use serde_json::json;
use support::cluster::{NODE, TestNode};
use support::containerd::BUSYBOX;
use support::kubectl::{Kubectl, forwarded_port, http_get};
use tokio::io::{AsyncBufReadExt, BufReader};

async fn port_forward_check(k: &Kubectl) {
    let mut child = k
        .command(&["port-forward", "pod/web", ":8080"])
        .spawn()
        .expect("spawn port-forward");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    // "Forwarding from 127.0.0.1:41234 -> 8080"
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("port-forward announces its port")
        .expect("read port-forward output")
        .expect("a line");
    let port = forwarded_port(&line)
        .unwrap_or_else(|| panic!("kubectl {}: unexpected port-forward output {line:?}", k.version));
    // Two connections over the one forwarding session.
    for _ in 0..2 {
        let page = http_get(port, "/index.html").await;
        assert!(
            page.contains("hello-from-pod"),
            "kubectl {}: port-forward answer {page:?}",
            k.version
        );
    }
    let _ = child.kill().await;
}

async fn kubectl_suite(node: &TestNode, k: &Kubectl) {
    let v = k.version;
    // logs: the only-container default, a named container, tail, and an unknown container.
    let out = k.run(&["logs", "web", "-c", "web"], "").await;
    assert_eq!(out.code, Some(0), "kubectl {v} logs: {}", out.stderr);
    assert!(
        out.stdout.contains("web-started"),
        "kubectl {v} logs: {:?}",
        out.stdout
    );
    let out = k.run(&["logs", "web", "-c", "ticker", "--tail=1"], "").await;
    assert_eq!(out.code, Some(0), "kubectl {v} logs --tail: {}", out.stderr);
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "kubectl {v} logs --tail=1: {:?}",
        out.stdout
    );
    assert!(out.stdout.starts_with("tick "), "{:?}", out.stdout);
    let out = k.run(&["logs", "web", "-c", "nope"], "").await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("container nope is not valid for pod web"),
        "kubectl {v}: {}",
        out.stderr
    );
    // logs -f streams new lines as they are written.
    let followed = k
        .read_until(&["logs", "-f", "web", "-c", "ticker", "--tail=0"], |s| {
            s.lines().filter(|l| l.starts_with("tick ")).count() >= 3
        })
        .await;
    assert!(followed.lines().all(|l| l.starts_with("tick ")), "{followed:?}");

    // exec: exit codes, stdout and stderr apart, stdin.
    let out = k
        .run(&["exec", "web", "-c", "web", "--", "sh", "-c", "exit 3"], "")
        .await;
    assert_eq!(out.code, Some(3), "kubectl {v} exec exit 3: {}", out.stderr);
    let out = k
        .run(
            &[
                "exec",
                "web",
                "-c",
                "web",
                "--",
                "sh",
                "-c",
                "echo to-out; echo to-err >&2",
            ],
            "",
        )
        .await;
    assert_eq!(out.code, Some(0), "kubectl {v} exec: {}", out.stderr);
    assert_eq!(out.stdout, "to-out\n", "kubectl {v} exec stdout");
    assert!(
        out.stderr.contains("to-err"),
        "kubectl {v} exec stderr: {:?}",
        out.stderr
    );
    let out = k
        .run(&["exec", "-i", "web", "-c", "web", "--", "cat"], "piped-in\n")
        .await;
    assert_eq!(out.code, Some(0), "kubectl {v} exec -i: {}", out.stderr);
    assert_eq!(out.stdout, "piped-in\n", "kubectl {v} exec -i");
    let out = k.run(&["exec", "web", "-c", "nope", "--", "true"], "").await;
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("container nope is not valid for pod web"),
        "kubectl {v}: {}",
        out.stderr
    );
    let out = k.run(&["exec", "pending", "--", "true"], "").await;
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("pod pending does not have a host assigned"),
        "kubectl {v}: {}",
        out.stderr
    );

    // exec -it: a terminal in the container (kubectl needs one on its side too: `script`
    // gives it a pseudo-terminal).
    if let Some(out) = k
        .run_in_terminal("exec -it web -c web -- sh -c 'tty; exit 4'")
        .await
    {
        assert_eq!(out.code, Some(4), "kubectl {v} exec -it: {}", out.stdout);
        assert!(
            out.stdout.contains("/dev/pts/"),
            "kubectl {v} exec -it: {:?}",
            out.stdout
        );
    }

    // cp: tar over exec, both ways.
    let dir = tempfile::tempdir().expect("temp dir");
    let copied = dir.path().join("index.html");
    let out = k
        .run(
            &[
                "cp",
                "-c",
                "web",
                "web:/www/index.html",
                &copied.display().to_string(),
            ],
            "",
        )
        .await;
    assert_eq!(out.code, Some(0), "kubectl {v} cp from the pod: {}", out.stderr);
    let text = std::fs::read_to_string(&copied).expect("copied file");
    assert_eq!(text, "hello-from-pod\n", "kubectl {v} cp");
    std::fs::write(&copied, format!("uploaded by {v}\n")).expect("write upload");
    let target = format!("web:/www/up-{v}.html");
    let out = k
        .run(&["cp", "-c", "web", &copied.display().to_string(), &target], "")
        .await;
    assert_eq!(out.code, Some(0), "kubectl {v} cp to the pod: {}", out.stderr);
    let out = k
        .run(
            &[
                "exec",
                "web",
                "-c",
                "web",
                "--",
                "cat",
                &format!("/www/up-{v}.html"),
            ],
            "",
        )
        .await;
    assert_eq!(
        out.stdout,
        format!("uploaded by {v}\n"),
        "kubectl {v} cp to the pod"
    );

    // attach: the running container's output arrives.
    let attached = k
        .read_until(&["attach", "web", "-c", "ticker"], |s| s.contains("tick "))
        .await;
    assert!(attached.contains("tick "), "{attached:?}");

    port_forward_check(k).await;

    // nodes/proxy to the kubelet.
    let path = format!("/api/v1/nodes/{NODE}/proxy/healthz");
    let out = k.run(&["get", "--raw", &path], "").await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "ok"),
        "kubectl {v}: {}",
        out.stderr
    );
    let _ = node;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_exec_attach_port_forward_on_1_27_1_30_and_1_33() {
    let versions: Vec<(&'static str, PathBuf)> = ["1.27", "1.30", "1.33"]
        .into_iter()
        .filter_map(|v| find_kubectl(v).map(|b| (v, b)))
        .collect();
    if !versions.iter().any(|(v, _)| *v == "1.27") || !versions.iter().any(|(v, _)| *v == "1.33") {
        eprintln!("SKIPPED: kubectl.1.27 and kubectl.1.33 are needed beside kubectl on PATH");
        return;
    }
    let Some(node) = TestNode::start().await else {
        return;
    };
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "web", "image": BUSYBOX, "command": ["sh", "-c",
                    "mkdir -p /www && echo hello-from-pod > /www/index.html && echo web-started && exec httpd -f -p 8080 -h /www"]},
                {"name": "ticker", "image": BUSYBOX, "command": ["sh", "-c",
                    "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]}
            ]
        }
    }))
    .await;
    // Never scheduled: no node name and no scheduler in this test.
    let pending: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pending", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": BUSYBOX}]}
    }))
    .expect("pod");
    node.pods()
        .create(&Default::default(), &pending)
        .await
        .expect("create pending pod");
    node.wait_pod("web", "pod Running", Duration::from_secs(60), |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            && p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| cs.len() == 2 && cs.iter().all(|c| c.ready))
    })
    .await;
    for (version, bin) in versions {
        let k = Kubectl::new(bin, &node.server.kubeconfig, version);
        kubectl_suite(&node, &k).await;
    }
    node.delete_all_and_check_clean().await;
}
