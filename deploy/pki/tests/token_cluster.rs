//! `rudder-pki token` against a real apiserver: `kubectl apply -f bootstrap-token.yaml` is
//! accepted, and `bootstrap-kubelet.conf` authenticates as `system:bootstrap:<id>` in the
//! token's groups and may post a CertificateSigningRequest (kubeadm's bindings).

use std::path::Path;
use std::process::Command;

use rudder_testkit::{TestApiServer, eventually};

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let (bin, kubeconfig) = (rudder_testkit::kubectl_binary("1.33"), kubeconfig.to_path_buf());
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
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("kubectl task")
}

#[tokio::test]
async fn token_manifest_and_bootstrap_kubeconfig_work_with_the_apiserver() {
    let server = TestApiServer::start_with(|c| c.auth.enable_bootstrap_token_auth = true).await;
    // What `rudder-pki init` leaves that `token` reads: the CA and kube-proxy.conf's endpoint.
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path();
    let ca = std::fs::read_to_string(server.cert_dir().join("ca.crt")).expect("CA");
    std::fs::create_dir_all(out.join("pki")).expect("mkdir");
    std::fs::write(out.join("pki/ca.crt"), &ca).expect("ca.crt");
    let proxy = rudder_pki::kubeconfig::render(
        "kubernetes",
        &format!("https://{}", server.addr),
        &ca,
        "system:kube-proxy",
        "unused",
        "unused",
    );
    std::fs::write(out.join("kube-proxy.conf"), proxy).expect("kube-proxy.conf");

    let token = rudder_pki::token::create(
        out,
        Some(time::Duration::hours(1)),
        rudder_pki::token::DEFAULT_GROUP,
        time::OffsetDateTime::now_utc(),
    )
    .expect("token");
    let manifest = out.join(rudder_pki::token::MANIFEST);
    let (ok, _, err) = kubectl(
        &server.kubeconfig,
        &["apply", "-f", manifest.to_str().expect("utf8")],
    )
    .await;
    assert!(ok, "kubectl apply: {err}");

    let bootstrap = out.join(rudder_pki::token::KUBECONFIG);
    let id = token.split('.').next().expect("id").to_string();
    let who = eventually(
        "the token to authenticate",
        std::time::Duration::from_secs(10),
        || {
            let bootstrap = bootstrap.clone();
            async move {
                let (ok, stdout, _) = kubectl(&bootstrap, &["auth", "whoami", "-o", "json"]).await;
                ok.then_some(stdout)
            }
        },
    )
    .await;
    let who: serde_json::Value = serde_json::from_str(&who).expect("whoami JSON");
    assert_eq!(
        who["status"]["userInfo"]["username"],
        format!("system:bootstrap:{id}")
    );
    let groups = who["status"]["userInfo"]["groups"].to_string();
    assert!(groups.contains(rudder_pki::token::DEFAULT_GROUP), "{groups}");
    // kubeadm:kubelet-bootstrap lets the token's group create CSRs, and nothing like nodes.
    let (ok, stdout, _) = kubectl(
        &bootstrap,
        &["auth", "can-i", "create", "certificatesigningrequests"],
    )
    .await;
    assert!(ok && stdout.trim() == "yes", "{stdout}");
    let (_, stdout, _) = kubectl(&bootstrap, &["auth", "can-i", "create", "nodes"]).await;
    assert_eq!(stdout.trim(), "no");
    let (ok, stdout, _) = kubectl(
        &bootstrap,
        &[
            "auth",
            "can-i",
            "create",
            "certificatesigningrequests",
            "--subresource=nodeclient",
        ],
    )
    .await;
    assert!(ok && stdout.trim() == "yes", "auto-approval binding: {stdout}");
}
