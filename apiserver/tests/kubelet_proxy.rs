//! pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy against a fake kubelet:
//! an HTTPS server on loopback that requires the apiserver's kubelet client certificate,
//! records what it was asked for, and echoes bytes on upgraded connections. Upstream's
//! Status answers for the error cases. (The real kubelet and containerd, with stock kubectl,
//! are exercised in kubelet/tests/streaming.rs.)

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use rudder_component::serve::PeerIdentity;
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_component::tls::ClientCa;
use rudder_testkit::TestApiServer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The fake kubelet: answers with what it saw (path, query and the client's verified user).
async fn fake_kubelet(ca: ClientCa, mut req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<PeerIdentity>()
        .cloned()
        .unwrap_or_default();
    let Ok(Some((user, _))) = peer.verified_user(&ca) else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    let seen = format!(
        "{} {} user={user} auth={}",
        req.method(),
        req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        req.headers().contains_key(header::AUTHORIZATION)
    );
    if req.uri().path() == "/containerLogs/default/p2/b" {
        return (
            StatusCode::BAD_REQUEST,
            "container \"b\" in pod \"p2\" is waiting to start",
        )
            .into_response();
    }
    if req.headers().contains_key(header::UPGRADE) {
        let upgrade = req.headers()[header::UPGRADE].clone();
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(io) = on.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(io));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, upgrade)
            .header("x-seen", seen)
            .body(Body::empty())
            .unwrap_or_default();
    }
    seen.into_response()
}

struct Kubelet {
    port: u16,
    _trigger: ShutdownTrigger,
}

async fn start_kubelet(server: &TestApiServer) -> Kubelet {
    let pki = server.cert_dir();
    let ca_pem = std::fs::read(pki.join("ca.crt")).expect("read CA");
    let ca = ClientCa::from_pem(&ca_pem).expect("client CA");
    let authority = rudder_apiserver::pki::CertificateAuthority::generate("fake-kubelet-ca").expect("CA");
    let (cert, key) =
        rudder_apiserver::pki::sign_serving_cert(&authority, "kubelet", &["127.0.0.1".to_string()])
            .expect("cert");
    let tls = rudder_component::tls::server_config_from_pem(cert.as_bytes(), key.as_bytes(), Some(&ca))
        .expect("server config");
    let app = Router::new().fallback(move |req: Request| fake_kubelet(ca.clone(), req));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(rudder_component::serve::serve(listener, tls, app, shutdown));
    Kubelet {
        port,
        _trigger: trigger,
    }
}

/// A raw TLS connection to the apiserver as `user` in `groups`.
async fn connect(
    server: &TestApiServer,
    user: &str,
    groups: &[&str],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pki = server.cert_dir();
    let ca = rudder_apiserver::pki::CertificateAuthority::load(&pki.join("ca.crt"), &pki.join("ca.key"))
        .expect("load CA");
    let (cert, key) = rudder_apiserver::pki::sign_client_cert(&ca, user, groups).expect("client cert");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
        roots.add(c.expect("CA pem")).expect("add root");
    }
    let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let mut config = rustls::ClientConfig::builder_with_provider(rudder_component::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("TLS")
}

/// Response head (status line and headers, lower-cased names) and whatever body follows.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn status_message(&self) -> String {
        let v: Value =
            serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not a Status: {:?}", self.body));
        assert_eq!(v["kind"], "Status", "{v}");
        assert_eq!(v["code"], self.status, "{v}");
        v["message"].as_str().unwrap_or_default().to_string()
    }
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.expect("read head");
        assert!(
            n > 0,
            "connection closed in the head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, Vec::new())
}

/// One request with `Connection: close`; the whole answer.
async fn request(server: &TestApiServer, method: &str, path: &str, extra: &str) -> Answer {
    request_as(
        server,
        ("kubernetes-admin", &["system:masters"]),
        method,
        path,
        extra,
    )
    .await
}

async fn request_as(
    server: &TestApiServer,
    user: (&str, &[&str]),
    method: &str,
    path: &str,
    extra: &str,
) -> Answer {
    let mut s = connect(server, user.0, user.1).await;
    let req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let (status, headers, _) = read_head(&mut s).await;
    let mut body = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut body)).await;
    let mut body = String::from_utf8_lossy(&body).into_owned();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// An upgrade request as `user`; on 101, checks that bytes come back through the splice.
async fn upgrade(
    server: &TestApiServer,
    user: (&str, &[&str]),
    method: &str,
    path: &str,
    protocol: &str,
) -> Answer {
    let mut s = connect(server, user.0, user.1).await;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n\
         X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let (status, headers, _) = read_head(&mut s).await;
    let body;
    if status == 101 {
        s.write_all(b"ping through the splice")
            .await
            .expect("write upgraded");
        let mut buf = [0u8; 23];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
            .await
            .expect("echo in time")
            .expect("read echo");
        body = String::from_utf8_lossy(&buf).into_owned();
    } else {
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .expect("a Status answer with a length");
        let mut buf = vec![0u8; len];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
            .await
            .expect("body in time")
            .expect("read body");
        body = String::from_utf8_lossy(&buf).into_owned();
    }
    Answer {
        status,
        headers,
        body,
    }
}

async fn setup(server: &TestApiServer, kubelet_port: u16) {
    let nodes: Api<Node> = Api::all(server.client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let status = json!({"status": {
        "addresses": [{"type": "Hostname", "address": "n1.invalid"}, {"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}});
    nodes
        .patch_status("n1", &Default::default(), &kube::api::Patch::Merge(status))
        .await
        .expect("node status");
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    for pod in [
        json!({"metadata": {"name": "p1"}, "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "x"}]}}),
        json!({"metadata": {"name": "p2"}, "spec": {"nodeName": "n1",
            "initContainers": [{"name": "i", "image": "x"}],
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}}),
        json!({"metadata": {"name": "unsched"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
        json!({"metadata": {"name": "lost"}, "spec": {"nodeName": "gone", "containers": [{"name": "a", "image": "x"}]}}),
    ] {
        let pod: Pod = serde_json::from_value(pod).expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }
}

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_through_the_kubelet() {
    let server = TestApiServer::start().await;
    let kubelet = start_kubelet(&server).await;
    setup(&server, kubelet.port).await;

    let a = request(
        &server,
        "GET",
        &format!("{PODS}/p1/log?follow=true&tailLines=5&timestamps=false"),
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("text/plain"));
    assert_eq!(
        a.body,
        "GET /containerLogs/default/p1/a?follow=true&tailLines=5 user=kube-apiserver-kubelet-client auth=false"
    );
    let a = request(
        &server,
        "GET",
        &format!("{PODS}/p2/log?container=i&previous=1&sinceSeconds=10"),
        "",
    )
    .await;
    assert_eq!(
        a.body,
        "GET /containerLogs/default/p2/i?previous=true&sinceSeconds=10 user=kube-apiserver-kubelet-client auth=false"
    );
    // The kubelet's refusal comes back as a BadRequest Status with its text.
    let a = request(&server, "GET", &format!("{PODS}/p2/log?container=b"), "").await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.status_message(),
        "container \"b\" in pod \"p2\" is waiting to start"
    );

    let a = request(&server, "GET", &format!("{PODS}/p2/log"), "").await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.status_message(),
        "a container name must be specified for pod p2, choose one of: [i a b]"
    );
    let a = request(&server, "GET", &format!("{PODS}/p1/log?container=zz"), "").await;
    assert_eq!(
        (a.status, a.status_message()),
        (400, "container zz is not valid for pod p1".into())
    );
    let a = request(&server, "GET", &format!("{PODS}/nope/log"), "").await;
    assert_eq!(
        (a.status, a.status_message()),
        (404, "pods \"nope\" not found".into())
    );
    let a = request(&server, "GET", &format!("{PODS}/p1/log?tailLines=-1"), "").await;
    assert_eq!(a.status, 422);
    assert!(
        a.status_message()
            .starts_with("PodLogOptions \"p1\" is invalid: tailLines")
    );
    // Not scheduled: nothing to stream, as upstream.
    let a = request(&server, "GET", &format!("{PODS}/unsched/log"), "").await;
    assert_eq!((a.status, a.body.as_str()), (200, ""));
    let a = request(&server, "GET", &format!("{PODS}/lost/log"), "").await;
    assert_eq!(
        (a.status, a.status_message()),
        (404, "nodes \"gone\" not found".into())
    );

    // nodes/proxy reaches the kubelet with the path and query.
    let a = request(&server, "GET", "/api/v1/nodes/n1/proxy/healthz?verbose=1", "").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            200,
            "GET /healthz?verbose=1 user=kube-apiserver-kubelet-client auth=false"
        )
    );
    let a = request(
        &server,
        "GET",
        &format!("/api/v1/nodes/n1:{}/proxy/", kubelet.port),
        "",
    )
    .await;
    assert_eq!(a.body, "GET / user=kube-apiserver-kubelet-client auth=false");
    let a = request(&server, "GET", "/api/v1/nodes/nope/proxy/x", "").await;
    assert_eq!(
        (a.status, a.status_message()),
        (404, "nodes \"nope\" not found".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_attach_and_port_forward_are_spliced_upgrades() {
    let server = TestApiServer::start().await;
    let kubelet = start_kubelet(&server).await;
    setup(&server, kubelet.port).await;
    let admin = ("kubernetes-admin", &["system:masters"][..]);

    // SPDY exec (POST): kubectl's parameters become the kubelet's.
    let a = upgrade(
        &server,
        admin,
        "POST",
        &format!("{PODS}/p1/exec?command=sh&command=-c&command=exit+3&container=a&stdout=true&stderr=true"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(a.status, 101, "{}", a.body);
    assert_eq!(
        a.header("x-seen"),
        Some(
            "POST /exec/default/p1/a?command=sh&command=-c&command=exit%203&output=1&error=1 user=kube-apiserver-kubelet-client auth=false"
        )
    );
    assert_eq!(a.body, "ping through the splice");
    // WebSocket attach (GET), container defaulted.
    let a = upgrade(
        &server,
        admin,
        "GET",
        &format!("{PODS}/p1/attach?stdin=true&stdout=true&tty=true"),
        "websocket",
    )
    .await;
    assert_eq!(a.status, 101, "{}", a.body);
    assert_eq!(
        a.header("x-seen"),
        Some("GET /attach/default/p1/a?input=1&output=1&tty=1 user=kube-apiserver-kubelet-client auth=false")
    );
    assert_eq!(a.body, "ping through the splice");
    let a = upgrade(
        &server,
        admin,
        "POST",
        &format!("{PODS}/p1/portforward?ports=8080"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(a.status, 101, "{}", a.body);
    assert_eq!(
        a.header("x-seen"),
        Some("POST /portForward/default/p1?port=8080 user=kube-apiserver-kubelet-client auth=false")
    );
    assert_eq!(a.body, "ping through the splice");

    // Upstream's refusals.
    let a = upgrade(
        &server,
        admin,
        "POST",
        &format!("{PODS}/unsched/exec?command=true&stdout=true"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(
        (a.status, a.status_message()),
        (400, "pod unsched does not have a host assigned".into())
    );
    let a = upgrade(
        &server,
        admin,
        "POST",
        &format!("{PODS}/p2/exec?command=true&stdout=true"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(
        (a.status, a.status_message()),
        (
            400,
            "a container name must be specified for pod p2, choose one of: [a b] or one of the init containers: [i]"
                .into()
        )
    );
    let a = upgrade(
        &server,
        admin,
        "POST",
        &format!("{PODS}/p1/exec?command=true&container=zz"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(
        (a.status, a.status_message()),
        (400, "container zz is not valid for pod p1".into())
    );
    let a = upgrade(
        &server,
        admin,
        "POST",
        &format!("{PODS}/ghost/exec?command=true"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(
        (a.status, a.status_message()),
        (404, "pods \"ghost\" not found".into())
    );
    let a = request(
        &server,
        "POST",
        &format!("{PODS}/p1/exec?command=true&stdout=true"),
        "Content-Length: 0\r\n",
    )
    .await;
    assert_eq!(
        (a.status, a.status_message()),
        (400, "Upgrade request required".into())
    );

    // Authorization applies: reading pods does not allow exec.
    let a = upgrade(
        &server,
        ("mallory", &[][..]),
        "POST",
        &format!("{PODS}/p1/exec?command=true&stdout=true"),
        "SPDY/3.1",
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);

    // A WebSocket stream is a GET, but needs `create` as the SPDY POST does (upstream's
    // AuthorizePodWebsocketUpgradeCreatePermission).
    grant(&server, "reader", &["get"]).await;
    grant(&server, "runner", &["get", "create"]).await;
    let exec = format!("{PODS}/p1/exec?command=true&stdout=true");
    let a = upgrade(&server, ("reader", &[][..]), "GET", &exec, "websocket").await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.status_message(),
        "pods \"p1\" is forbidden: User \"reader\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""
    );
    let a = upgrade(&server, ("runner", &[][..]), "GET", &exec, "websocket").await;
    assert_eq!(a.status, 101, "{}", a.body);
}

/// A Role on pods/exec with `verbs`, bound to `user`.
async fn grant(server: &TestApiServer, user: &str, verbs: &[&str]) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let roles: Api<Role> = Api::namespaced(server.client.clone(), "default");
    let role: Role = serde_json::from_value(json!({"metadata": {"name": user},
        "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": verbs}]}))
    .expect("role");
    roles
        .create(&PostParams::default(), &role)
        .await
        .expect("create role");
    let bindings: Api<RoleBinding> = Api::namespaced(server.client.clone(), "default");
    let binding: RoleBinding = serde_json::from_value(json!({"metadata": {"name": user},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}))
    .expect("binding");
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .expect("create binding");
    // The authorizer reads RBAC from the watch cache: wait until the grant is visible (a GET
    // without an upgrade passes authorization, then is refused with 400).
    rudder_testkit::eventually(
        "the role binding takes effect",
        Duration::from_secs(10),
        || async {
            let path = format!("{PODS}/p1/exec?command=true&stdout=true");
            let a = request_as(server, (user, &[][..]), "GET", &path, "").await;
            (a.status == 400).then_some(())
        },
    )
    .await;
}
