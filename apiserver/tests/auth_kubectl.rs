//! `kubectl auth whoami`, `kubectl auth can-i` (with `--list`) and `kubectl create token` with
//! stock kubectl 1.27 (JSON bodies, whoami on v1beta1) and 1.33 (protobuf bodies, whoami on v1),
//! as a non-admin user with a client certificate signed by the test CA.

mod auth_support;

use std::path::Path;
use std::process::Command;

use auth_support::{WAIT, bind, namespace};
use rudder_testkit::{TestApiServer, eventually};

/// Runs kubectl off the runtime: (exit code, stdout, stderr).
async fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let (bin, kubeconfig) = (bin.to_path_buf(), kubeconfig.to_path_buf());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(bin)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(&args)
            .env("HOME", std::env::temp_dir())
            .output()
            .expect("run kubectl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("kubectl task")
}

async fn suite(version: &str) {
    let bin = rudder_testkit::kubectl_binary(version);
    let server = TestApiServer::start().await;
    namespace(&server, "team-a").await;
    bind(&server, "team-a", "erin-edit", "edit", "erin").await;
    let erin = server.user_kubeconfig("erin", &["qa"]);

    let (rc, out, err) = kubectl(&bin, &erin, &["auth", "whoami"]).await;
    assert_eq!(rc, 0, "whoami: {err}");
    assert!(out.contains("erin"), "{out}");
    assert!(
        out.contains("qa") && out.contains("system:authenticated"),
        "{out}"
    );

    eventually("erin may create pods in team-a", WAIT, || async {
        let (rc, out, _) = kubectl(&bin, &erin, &["auth", "can-i", "create", "pods", "-n", "team-a"]).await;
        (rc == 0 && out.trim() == "yes").then_some(())
    })
    .await;
    let (rc, out, _) = kubectl(&bin, &erin, &["auth", "can-i", "list", "pods", "-n", "default"]).await;
    assert_eq!((rc, out.trim()), (1, "no"));
    let (rc, out, _) = kubectl(&bin, &erin, &["auth", "can-i", "get", "/healthz"]).await;
    assert_eq!(
        (rc, out.trim()),
        (0, "yes"),
        "non-resource URL via system:discovery"
    );

    let (rc, out, err) = kubectl(&bin, &erin, &["auth", "can-i", "--list", "-n", "team-a"]).await;
    assert_eq!(rc, 0, "can-i --list: {err}");
    let header = out.lines().next().unwrap_or_default();
    assert!(header.contains("Resources") && header.contains("Verbs"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("pods ") && l.contains("create")),
        "pods row with create: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")),
        "{out}"
    );

    // The admin mints a token for a service account; it authenticates as that account.
    let admin = server.kubeconfig_path();
    let (rc, _, err) = kubectl(
        &bin,
        admin,
        &["create", "serviceaccount", "deployer", "-n", "team-a"],
    )
    .await;
    assert_eq!(rc, 0, "create sa: {err}");
    let (rc, token, err) = kubectl(&bin, admin, &["create", "token", "deployer", "-n", "team-a"]).await;
    assert_eq!(rc, 0, "create token: {err}");
    let token = token.trim().to_string();
    assert_eq!(token.split('.').count(), 3);
    // A kubeconfig with only the token (a client certificate would win over it).
    let ca = std::fs::read_to_string(server.cert_dir().join("ca.crt")).expect("CA");
    let token_config = server.cert_dir().join(format!("deployer-{version}.kubeconfig"));
    rudder_apiserver::pki::write_token_kubeconfig(
        &token_config,
        "rudder",
        &format!("https://{}", server.addr),
        &ca,
        "deployer",
        &token,
    )
    .expect("token kubeconfig");
    let (rc, out, err) = eventually("the token authenticates", WAIT, || {
        let (bin, config) = (bin.clone(), token_config.clone());
        async move {
            let result = kubectl(&bin, &config, &["auth", "whoami"]).await;
            (result.0 == 0).then_some(result)
        }
    })
    .await;
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("system:serviceaccount:team-a:deployer"), "{out}");
}

#[tokio::test]
async fn kubectl_1_27() {
    suite("1.27").await;
}

#[tokio::test]
async fn kubectl_1_33() {
    suite("1.33").await;
}
