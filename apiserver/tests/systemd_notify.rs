//! `Type=notify`: the kube-apiserver binary sends systemd `READY=1` on `$NOTIFY_SOCKET`, and only
//! once it serves with its default RBAC policy in place, so units ordered after it start against
//! a working API. The socket is a datagram socket the test binds, as systemd's is.

use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Api;

/// Kills the apiserver by its PID when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_apiserver_notifies_systemd_once_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("apiserver.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kube-apiserver"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(format!("--cert-dir={}", dir.path().join("pki").display()))
        .arg(format!("--data-dir={}", dir.path().join("data").display()))
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let _child = Killed(child);

    let message = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).unwrap_or_else(|err| {
            let log = std::fs::read_to_string(dir.path().join("apiserver.log")).unwrap_or_default();
            panic!("no notification: {err}\napiserver log:\n{log}")
        });
        (String::from_utf8_lossy(&buf[..n]).into_owned(), dir)
    })
    .await
    .unwrap();
    let (message, dir) = message;
    assert_eq!(message, "READY=1\n");

    // Right at READY: the API answers and the default policy is there, without retries.
    let kubeconfig = kube::config::Kubeconfig::read_from(dir.path().join("pki/admin.kubeconfig")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let roles: Api<ClusterRole> = Api::all(client);
    let admin = roles
        .get("cluster-admin")
        .await
        .expect("cluster-admin exists at READY");
    assert_eq!(admin.metadata.name.as_deref(), Some("cluster-admin"));
}
