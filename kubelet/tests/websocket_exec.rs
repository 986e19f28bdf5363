//! The apiserver's stream translator and pod/service proxy against a real pod: kubectl 1.33
//! execs over WebSocket v5 (the apiserver speaks SPDY to the kubelet), kubectl 1.27 over
//! SPDY; port-forward over the WebSocket tunnel; `pods/proxy`, `services/proxy` and
//! `kubectl proxy` reach a web server in the pod.

mod support;

use std::time::Duration;

use rudder_testkit::find_kubectl;
use serde_json::json;
use support::cluster::TestNode;
use support::containerd::BUSYBOX;
use support::kubectl::{Kubectl, forwarded_port, http_get};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The methods of the requests kubectl's `-v=7` log shows for `subresource` (1.33 logs
/// `"Request" verb="GET" url="..."`, 1.27 `GET https://...`).
fn methods_for(log: &str, subresource: &str) -> Vec<&'static str> {
    log.lines()
        .filter(|l| {
            ["?", " ", "\""]
                .iter()
                .any(|end| l.contains(&format!("/{subresource}{end}")))
        })
        .filter_map(|l| {
            if l.contains("verb=\"GET\"") || l.contains("] GET ") {
                Some("GET")
            } else if l.contains("verb=\"POST\"") || l.contains("] POST ") {
                Some("POST")
            } else {
                None
            }
        })
        .collect()
}

async fn exec_checks(k33: &Kubectl, k27: &Kubectl) {
    // kubectl 1.33: WebSocket v5, translated; the exit code arrives through the Status.
    let out = k33
        .run(
            &[
                "-v=7",
                "exec",
                "web",
                "--",
                "sh",
                "-c",
                "echo to-out; echo to-err >&2; exit 3",
            ],
            b"",
        )
        .await;
    assert_eq!(out.code, Some(3), "kubectl 1.33 exec exit 3: {}", out.stderr);
    assert_eq!(out.stdout, "to-out\n");
    assert!(out.stderr.contains("to-err"), "{}", out.stderr);
    assert_eq!(
        methods_for(&out.stderr, "exec"),
        ["GET"],
        "kubectl 1.33 exec went over WebSocket (GET) only, no SPDY (POST) fallback: {}",
        out.stderr
    );
    assert!(out.stderr.contains("101 Switching Protocols"), "{}", out.stderr);

    // Piped stdin ends with v5's close message, so `cat` and `wc` see end of input; a larger
    // input crosses many SPDY data frames.
    let out = k33.run(&["exec", "-i", "web", "--", "cat"], b"piped-in\n").await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "piped-in\n"),
        "{}",
        out.stderr
    );
    let big = vec![b'x'; 300_000];
    let out = k33.run(&["exec", "-i", "web", "--", "wc", "-c"], &big).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "300000");
    let out = k33
        .run(
            &[
                "exec",
                "web",
                "--",
                "sh",
                "-c",
                "head -c 500000 /dev/zero | wc -c; exit 0",
            ],
            b"",
        )
        .await;
    assert_eq!(out.stdout.trim(), "500000", "{}", out.stderr);
    let out = k33
        .run(&["exec", "web", "--", "head", "-c", "400000", "/dev/zero"], b"")
        .await;
    assert_eq!((out.code, out.stdout.len()), (Some(0), 400_000), "{}", out.stderr);

    // A command that does not exist: the kubelet's failure Status reaches the client.
    let out = k33.run(&["exec", "web", "--", "/no/such/binary"], b"").await;
    assert_ne!(out.code, Some(0));

    // kubectl 1.27 speaks SPDY, proxied to the kubelet unchanged.
    let out = k27
        .run(&["-v=7", "exec", "web", "--", "sh", "-c", "exit 3"], b"")
        .await;
    assert_eq!(out.code, Some(3), "kubectl 1.27 exec exit 3: {}", out.stderr);
    assert_eq!(
        methods_for(&out.stderr, "exec"),
        ["POST"],
        "kubectl 1.27 uses SPDY: {}",
        out.stderr
    );
    let out = k27.run(&["exec", "-i", "web", "--", "cat"], b"spdy-in\n").await;
    assert_eq!(out.stdout, "spdy-in\n", "{}", out.stderr);
}

async fn port_forward_check(k33: &Kubectl) {
    let mut child = k33
        .command(&["-v=7", "port-forward", "pod/web", ":8080"])
        .spawn()
        .expect("spawn port-forward");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("port-forward announces its port")
        .expect("read port-forward output")
        .expect("a line");
    let port = forwarded_port(&line).unwrap_or_else(|| panic!("unexpected port-forward output {line:?}"));
    for _ in 0..2 {
        let page = http_get(port, "/index.html").await;
        assert!(page.contains("hello-from-pod"), "port-forward answer {page:?}");
    }
    let _ = child.kill().await;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = tokio::time::timeout(Duration::from_secs(5), e.read_to_string(&mut err)).await;
    }
    assert_eq!(
        methods_for(&err, "portforward"),
        ["GET"],
        "kubectl 1.33 port-forward tunneled over WebSocket (GET), no SPDY (POST) fallback: {err}"
    );
}

async fn proxy_checks(node: &TestNode, k33: &Kubectl) {
    for id in ["web", "web:8080", "http:web:8080"] {
        let path = format!("/api/v1/namespaces/default/pods/{id}/proxy/index.html");
        let out = k33.run(&["get", "--raw", &path], b"").await;
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "hello-from-pod\n"),
            "pods/{id}/proxy: {}",
            out.stderr
        );
    }
    let out = k33
        .run(
            &["get", "--raw", "/api/v1/namespaces/default/pods/nope/proxy/"],
            b"",
        )
        .await;
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("NotFound") || out.stderr.contains("not found"),
        "{}",
        out.stderr
    );

    // A Service with an EndpointSlice as the endpointslice controller would write it.
    let pod = node.get("web").await;
    let ip = pod.status.and_then(|s| s.pod_ip).expect("pod IP");
    let client = node.server.client.clone();
    let apply = |v: serde_json::Value| {
        let client = client.clone();
        async move {
            let obj: kube::api::DynamicObject = serde_json::from_value(v.clone()).expect("object");
            let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().expect("types")).expect("gvk");
            let (ar, _) = kube::discovery::pinned_kind(&client, &gvk)
                .await
                .expect("discover kind");
            let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(client, "default", &ar);
            api.create(&Default::default(), &obj).await.expect("create");
        }
    };
    apply(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
    )
    .await;
    apply(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true},
                       "targetRef": {"kind": "Pod", "name": "web", "namespace": "default"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
    )
    .await;
    apply(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty"},
        "spec": {"selector": {"app": "none"}, "ports": [{"name": "http", "port": 80}]}}),
    )
    .await;
    // As upstream, a service whose port has a name is reached by that name or its number
    // only: plain `web` looks for an unnamed port and finds no endpoint.
    let out = k33
        .run(
            &["get", "--raw", "/api/v1/namespaces/default/services/web/proxy/"],
            b"",
        )
        .await;
    assert!(
        out.stderr.contains("no endpoints available for service \"web\""),
        "{}",
        out.stderr
    );
    for id in ["web:80", "web:http", "http:web:http"] {
        let path = format!("/api/v1/namespaces/default/services/{id}/proxy/index.html");
        let out = k33.run(&["get", "--raw", &path], b"").await;
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "hello-from-pod\n"),
            "services/{id}/proxy: {}",
            out.stderr
        );
    }
    let out = k33
        .run(
            &["get", "--raw", "/api/v1/namespaces/default/services/empty/proxy/"],
            b"",
        )
        .await;
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("no endpoints available for service"),
        "{}",
        out.stderr
    );

    // kubectl proxy, then plain HTTP through it.
    let mut child = k33
        .command(&["proxy", "--port=0"])
        .spawn()
        .expect("spawn kubectl proxy");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("kubectl proxy announces its port")
        .expect("read")
        .expect("a line");
    let port: u16 = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected kubectl proxy output {line:?}"));
    for path in [
        "/api/v1/namespaces/default/pods/web/proxy/index.html",
        "/api/v1/namespaces/default/services/web:http/proxy/index.html",
    ] {
        let page = http_get(port, path).await;
        assert!(
            page.starts_with("HTTP/1.") && page.contains(" 200 OK"),
            "{path}: {page}"
        );
        assert!(page.contains("hello-from-pod"), "{path}: {page}");
    }
    let _ = child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_exec_tunnel_and_pod_service_proxy() {
    let (Some(b33), Some(b27)) = (find_kubectl("1.33"), find_kubectl("1.27")) else {
        eprintln!("SKIPPED: kubectl.1.27 and kubectl.1.33 are needed beside kubectl on PATH");
        return;
    };
    let Some(node) = TestNode::start().await else {
        return;
    };
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "web", "image": BUSYBOX,
                "ports": [{"containerPort": 8080}],
                "command": ["sh", "-c",
                    "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"]}]
        }
    }))
    .await;
    node.wait_pod("web", "pod Running", Duration::from_secs(60), |p| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| cs.iter().all(|c| c.ready))
            && p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()
    })
    .await;
    let k33 = Kubectl::new(b33, &node.server.kubeconfig, "1.33");
    let k27 = Kubectl::new(b27, &node.server.kubeconfig, "1.27");
    exec_checks(&k33, &k27).await;
    port_forward_check(&k33).await;
    proxy_checks(&node, &k33).await;
    node.delete_all_and_check_clean().await;
}
