//! Stock kubectl (1.27 and 1.33, the versions found beside `kubectl`) through a real rkind
//! cluster: `logs`, `exec` (output and exit code), `port-forward` (a page fetched through the
//! local port) and `cp` both ways (tar over exec, busybox's tar in the pod). The streams go
//! kubectl → apiserver → the node's kubelet → containerd. `make e2e` runs it (`#[ignore]`d so
//! CI stays bounded). Needs root; skipped loudly otherwise (a failure under CI=1).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rudder_e2e::rkind::spec::ProxyMode;
use serde_json::json;
use support::{BUSYBOX, TestCluster};

const T: Duration = Duration::from_secs(60);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `kubectl port-forward` to the pod's :8080 on a free local port; fetches `/` through it.
fn port_forward_fetch(c: &TestCluster, bin: &Path, ns: &str, pod: &str) -> String {
    let mut child = c
        .kubectl_command(
            bin,
            &[
                "-n",
                ns,
                "port-forward",
                "--address=127.0.0.1",
                &format!("pod/{pod}"),
                ":8080",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl port-forward");
    // "Forwarding from 127.0.0.1:NNNNN -> 8080" once the listener is up.
    let mut first = String::new();
    // The reader lives until kubectl is stopped: kubectl writes a line per connection, and a
    // closed pipe would end it mid-connection.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let read = stdout.read_line(&mut first);
    let result = (|| {
        read.map_err(|e| format!("read port-forward output: {e}"))?;
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| format!("no local port in {first:?}"))?;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut body = String::new();
        s.read_to_string(&mut body).map_err(|e| e.to_string())?;
        Ok::<_, String>(body)
    })();
    // Our own child, stopped through its handle.
    let _ = child.kill();
    let out = child.wait_with_output().ok();
    drop(stdout);
    result.unwrap_or_else(|e| {
        panic!(
            "port-forward: {e}; stderr: {}",
            out.map(|o| text(&o.stderr)).unwrap_or_default()
        )
    })
}

fn check_version(c: &TestCluster, version: &str, bin: &Path, ns: &str) {
    let ok = |args: &[&str]| {
        let out = c.kubectl_bin(bin, args);
        assert!(
            out.status.success(),
            "kubectl {version} {args:?}: {}\n{}",
            out.status,
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    // logs: what the container printed before serving.
    let logs = ok(&["-n", ns, "logs", "tools"]);
    assert!(
        logs.contains("log-line-1") && logs.contains("log-line-2"),
        "kubectl {version} logs: {logs:?}"
    );
    let tail = ok(&["-n", ns, "logs", "tools", "--tail=1"]);
    assert_eq!(tail.trim(), "log-line-2", "kubectl {version} logs --tail=1");

    // exec: stdout, and the command's exit code as kubectl's own.
    let out = ok(&["-n", ns, "exec", "tools", "--", "cat", "/www/index.html"]);
    assert!(
        out.contains("hello from rudder"),
        "kubectl {version} exec: {out:?}"
    );
    let failed = c.kubectl_bin(
        bin,
        &[
            "-n",
            ns,
            "exec",
            "tools",
            "--",
            "sh",
            "-c",
            "echo to-stderr >&2; exit 3",
        ],
    );
    assert_eq!(
        failed.status.code(),
        Some(3),
        "kubectl {version} exec exit code: {failed:?}"
    );
    assert!(text(&failed.stderr).contains("to-stderr"), "{failed:?}");

    // port-forward.
    let page = port_forward_fetch(c, bin, ns, "tools");
    assert!(
        page.contains("hello from rudder"),
        "kubectl {version} port-forward: {page:?}"
    );

    // cp to the pod and back.
    let dir = tempfile::tempdir().expect("temp dir");
    let local = dir.path().join("up.txt");
    let payload = format!("copied by kubectl {version}\n{}\n", "x".repeat(10_000));
    std::fs::write(&local, &payload).expect("write");
    let remote = format!("{ns}/tools:/tmp/up-{version}.txt");
    ok(&["cp", &local.display().to_string(), &remote]);
    let inside = ok(&[
        "-n",
        ns,
        "exec",
        "tools",
        "--",
        "cat",
        &format!("/tmp/up-{version}.txt"),
    ]);
    assert_eq!(inside, payload, "kubectl {version} cp into the pod");
    let back = dir.path().join("down.txt");
    ok(&["cp", &remote, &back.display().to_string()]);
    assert_eq!(
        std::fs::read_to_string(&back).expect("read"),
        payload,
        "kubectl {version} cp from the pod"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slower variant: make e2e runs it"]
async fn logs_exec_port_forward_cp_through_the_cluster() {
    let versions = rudder_e2e::kubectl_versions(&["1.27", "1.33"]);
    if versions.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no kubectl.1.27/1.33 beside kubectl"
        );
        eprintln!("\n*** SKIPPED: no kubectl.1.27 or kubectl.1.33 beside kubectl ***\n");
        return;
    }
    let Some(c) = TestCluster::create(1, ProxyMode::Iptables, false).await else {
        return;
    };
    let ns = c.namespace("tools").await;
    c.create_pod(
        &ns,
        json!({
            "metadata": {"name": "tools", "namespace": ns},
            "spec": {"containers": [{
                "name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sh", "-c", "echo log-line-1; echo log-line-2; exec httpd -f -p 8080 -h /www"],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            }]},
        }),
    )
    .await;
    c.wait_ready_pods(&ns, "", 1, T).await;
    for (version, bin) in &versions {
        tokio::task::block_in_place(|| check_version(&c, version, bin, &ns));
    }
    let found: Vec<&str> = versions.iter().map(|(v, _)| v.as_str()).collect();
    eprintln!("kubectl versions run: {found:?}");
    c.delete().await;
}
