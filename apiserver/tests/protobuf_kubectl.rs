//! Stock kubectl 1.33 against protobuf answers: its typed clients (the `create` generators)
//! send protobuf bodies and accept protobuf first, so they now get protobuf objects and
//! protobuf error Statuses; `get -w` (Table JSON) still streams.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rudder_testkit::TestApiServer;

fn command(bin: &Path, kubeconfig: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", std::env::temp_dir());
    cmd
}

async fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = command(bin, kubeconfig, args);
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().expect("run kubectl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("kubectl task")
}

/// The next line kubectl printed, waiting at most 20 s.
async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn kubectl_create_errors_and_watch_work_with_protobuf_answers() {
    let bin = rudder_testkit::kubectl_binary("1.33");
    let server = TestApiServer::start().await;
    let kc = server.kubeconfig.clone();

    let (rc, out, err) = kubectl(&bin, &kc, &["create", "configmap", "pb", "--from-literal=a=1"]).await;
    assert_eq!(rc, 0, "create: {err}");
    assert_eq!(out.trim(), "configmap/pb created");
    // The AlreadyExists Status comes back in protobuf and kubectl prints it as usual.
    let (rc, _, err) = kubectl(&bin, &kc, &["create", "configmap", "pb", "--from-literal=a=1"]).await;
    assert_eq!(rc, 1);
    assert_eq!(
        err.trim(),
        r#"error: failed to create configmap: configmaps "pb" already exists"#
    );
    let (rc, out, err) = kubectl(&bin, &kc, &["get", "configmap", "pb", "-o", "jsonpath={.data.a}"]).await;
    assert_eq!((rc, out.as_str()), (0, "1"), "{err}");

    // `get -w`: the listing, then a change made while it watches.
    let mut watch = command(&bin, &kc, &["get", "configmaps", "-w", "--no-headers"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl get -w");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("pb ")) {
        seen.push(next(&mut rx).await.unwrap_or_else(|| panic!("listing: {seen:?}")));
    }
    let (rc, _, err) = kubectl(&bin, &kc, &["create", "configmap", "pb2", "--from-literal=b=2"]).await;
    assert_eq!(rc, 0, "create pb2: {err}");
    while !seen.iter().any(|l: &String| l.starts_with("pb2 ")) {
        seen.push(
            next(&mut rx)
                .await
                .unwrap_or_else(|| panic!("watch event: {seen:?}")),
        );
    }
    watch.kill().expect("stop kubectl get -w");
    let _ = watch.wait();
}
