//! Conformance-style Service behaviour on a real rkind cluster (2 nodes): session affinity
//! ClientIP against a Service without affinity, headless Service DNS and StatefulSet stable
//! network identity, endpoints following readiness probes, and a rolling update with zero
//! failed requests. `make e2e` runs them (each is `#[ignore]`d so CI stays bounded). Needs root
//! and the packages of scripts/install-deps.sh; skipped loudly otherwise (a failure under CI=1).

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams};
use rudder_e2e::rkind::spec::ProxyMode;
use serde_json::{Value, json};
use support::{BUSYBOX, TestCluster, eventually};

const T: Duration = Duration::from_secs(60);

/// A container that serves its own hostname (the pod's name) as the page on :8080.
fn hostname_server() -> Value {
    json!({
        "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
        "command": ["sh", "-c", "mkdir -p /tmp/w && hostname > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
    })
}

/// Shell function `get HOST PORT`: the page's last line (empty on failure).
const GET: &str =
    "get() { printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \"$1\" \"$2\" 2>/dev/null | tail -n 1; }\n";

async fn cluster_ip(c: &TestCluster, ns: &str, name: &str) -> String {
    let svc: Api<Service> = Api::namespaced(c.client.clone(), ns);
    svc.get(name)
        .await
        .expect("get service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster IP")
}

fn service(ns: &str, name: &str, app: &str, extra: Value) -> Value {
    let mut spec = json!({"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn pod_ip(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

/// Three backends answering their names behind `spread` (no affinity) and `sticky`
/// (sessionAffinity ClientIP). From one client pod: `spread` reaches every backend, and 20
/// requests to `sticky` all reach the same one.
async fn check_session_affinity(c: &TestCluster, ns: &str) {
    c.apply(
        ns,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "aff", "namespace": ns},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "aff"}},
                "template": {"metadata": {"labels": {"app": "aff"}}, "spec": {"containers": [hostname_server()]}},
            },
        }),
    )
    .await;
    c.apply(ns, service(ns, "spread", "aff", json!({}))).await;
    c.apply(
        ns,
        service(
            ns,
            "sticky",
            "aff",
            json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}}),
        ),
    )
    .await;
    let ready = c.wait_ready_pods(ns, "app=aff", 3, T).await;
    let mut names: Vec<String> = ready.iter().filter_map(|p| p.metadata.name.clone()).collect();
    names.sort();
    let (spread, sticky) = (
        cluster_ip(c, ns, "spread").await,
        cluster_ip(c, ns, "sticky").await,
    );
    // `spread` first, until every backend answered (so kube-proxy has all three), then `sticky`.
    let script = format!(
        "{GET}for i in $(seq 1 150); do h=$(get {spread} 80); [ -n \"$h\" ] && echo \"$h\" >> /tmp/seen && echo \"spread $h\"; \
         [ \"$(sort -u /tmp/seen 2>/dev/null | grep -c .)\" -ge 3 ] && break; done\n\
         for i in $(seq 1 20); do echo \"sticky $(get {sticky} 80)\"; done"
    );
    let node = c.nodes()[0].clone();
    let (ok, log) = c.run_script_logs(ns, "aff-client", &node, &script, T).await;
    assert!(ok, "affinity client: {log}");
    let answers = |prefix: &str| -> Vec<String> {
        log.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let mut spread_seen = answers("spread ");
    spread_seen.sort();
    spread_seen.dedup();
    assert_eq!(
        spread_seen, names,
        "without affinity requests spread over every backend: {log}"
    );
    let sticky_seen = answers("sticky ");
    assert_eq!(sticky_seen.len(), 20, "{log}");
    assert!(
        names.contains(&sticky_seen[0]) && sticky_seen.iter().all(|h| *h == sticky_seen[0]),
        "with ClientIP affinity every request reaches one backend: {sticky_seen:?}"
    );
}

/// A headless Service over a 2-replica StatefulSet: the Service name resolves to every ready
/// pod's IP, each pod has `<pod>.<svc>.<ns>.svc.cluster.local` and answers as its own name
/// there; a deleted pod comes back under the same name and hostname, and its record follows.
async fn check_headless_and_stable_identity(c: &TestCluster, ns: &str) {
    c.apply(
        ns,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "hl", "namespace": ns},
            "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 8080, "name": "http"}]},
        }),
    )
    .await;
    c.apply(
        ns,
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {
                "serviceName": "hl", "replicas": 2, "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [hostname_server()]}},
            },
        }),
    )
    .await;
    let ready = c.wait_ready_pods(ns, "app=db", 2, T).await;
    let ip_of = |name: &str| {
        ready
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .map(pod_ip)
            .unwrap_or_else(|| panic!("{name} among the ready pods"))
    };
    let (ip0, ip1) = (ip_of("db-0"), ip_of("db-1"));
    for p in &ready {
        let spec = p.spec.as_ref().expect("spec");
        assert_eq!(
            spec.hostname.as_deref(),
            p.metadata.name.as_deref(),
            "hostname is the pod name"
        );
        assert_eq!(
            spec.subdomain.as_deref(),
            Some("hl"),
            "subdomain is the governing Service"
        );
    }
    let svc = format!("hl.{ns}.svc.cluster.local");
    let pod0 = format!("db-0.{svc}");
    // Retried while the DNS server catches up with the endpoints; exits 0 only when the
    // headless name has both IPs, db-0's name has its IP and db-0 answers as itself there.
    let lookup = |pod_ip: &str, others: &[&str]| {
        let svc_ok: String = others
            .iter()
            .map(|ip| format!(" && echo \"$a\" | grep -qw {ip}"))
            .collect();
        format!(
            "{GET}for i in $(seq 1 30); do a=$(nslookup {svc} 2>&1); b=$(nslookup {pod0} 2>&1); h=$(get {pod0} 8080); \
             if true{svc_ok} && echo \"$b\" | grep -qw {pod_ip} && [ \"$h\" = db-0 ]; then echo ok; exit 0; fi; sleep 1; done; \
             echo \"$a\"; echo \"$b\"; echo \"page: $h\"; exit 1"
        )
    };
    let node = c.nodes()[1].clone();
    let (ok, log) = c
        .run_script_logs(ns, "dns-1", &node, &lookup(&ip0, &[&ip0, &ip1]), T)
        .await;
    assert!(
        ok,
        "{svc} has {ip0} and {ip1}, {pod0} is {ip0} and answers db-0: {log}"
    );

    // Stable identity: db-0 deleted comes back as db-0 (a new pod), and its name follows it.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    let old_uid = pods.get("db-0").await.expect("get db-0").metadata.uid;
    pods.delete("db-0", &DeleteParams::default().grace_period(1))
        .await
        .expect("delete db-0");
    let new0 = eventually("db-0 recreated and Ready", T, || async {
        let ready = c.ready_pods(ns, "app=db").await;
        match ready
            .into_iter()
            .find(|p| p.metadata.name.as_deref() == Some("db-0") && p.metadata.uid != old_uid)
        {
            Some(p) => Ok(p),
            None => Err("no new db-0 yet".to_string()),
        }
    })
    .await;
    assert_eq!(
        new0.spec.as_ref().and_then(|s| s.hostname.as_deref()),
        Some("db-0")
    );
    let new_ip = pod_ip(&new0);
    let (ok, log) = c
        .run_script_logs(ns, "dns-2", &node, &lookup(&new_ip, &[&new_ip, &ip1]), T)
        .await;
    assert!(ok, "after recreation {pod0} is {new_ip} and answers db-0: {log}");
}

/// (ready, serving-pod name) of each endpoint of Service `svc`'s slices.
async fn endpoint_readiness(c: &TestCluster, ns: &str, svc: &str) -> Vec<(String, bool)> {
    let slices: Api<EndpointSlice> = Api::namespaced(c.client.clone(), ns);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
        .await
        .expect("list slices");
    let mut out: Vec<(String, bool)> = list
        .items
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let name = e
                .target_ref
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_default();
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false);
            (name, ready)
        })
        .collect();
    out.sort();
    out
}

/// Runs `script` in a client pod until it succeeds: the client polls itself, the test only
/// reads its verdict.
async fn client(c: &TestCluster, ns: &str, name: &str, script: &str) {
    let node = c.nodes()[0].clone();
    let (ok, log) = c.run_script_logs(ns, name, &node, script, T).await;
    assert!(ok, "{name}: {log}");
}

/// Two pods behind one Service, one passing its readiness probe and one failing it: only the
/// ready one is an endpoint and answers; the probe's result flipping (a file made or removed
/// through `kubectl exec`) moves the endpoints and the traffic with it.
async fn check_endpoint_readiness(c: &TestCluster, ns: &str) {
    for (name, ready) in [("rd-a", true), ("rd-b", false)] {
        let mark = if ready { "touch /tmp/ready && " } else { "" };
        c.create_pod(
            ns,
            json!({
                "metadata": {"name": name, "namespace": ns, "labels": {"app": "rd"}},
                "spec": {"containers": [{
                    "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                    "command": ["sh", "-c", format!("{mark}mkdir -p /tmp/w && hostname > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w")],
                    "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
                }]},
            }),
        )
        .await;
    }
    c.apply(ns, service(ns, "rd", "rd", json!({}))).await;
    let ip = cluster_ip(c, ns, "rd").await;
    let want = |a: bool, b: bool| vec![("rd-a".to_string(), a), ("rd-b".to_string(), b)];
    let endpoints = |a: bool, b: bool| {
        let want = want(a, b);
        async move {
            eventually(&format!("endpoints of rd: {want:?}"), T, || async {
                let got = endpoint_readiness(c, ns, "rd").await;
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
                }
            })
            .await
        }
    };
    endpoints(true, false).await;
    // Only rd-a answers: 20 answers in a row from it.
    let only = |name: &str| {
        format!(
            "{GET}n=0; for i in $(seq 1 200); do h=$(get {ip} 80); echo \"$h\"; if [ \"$h\" = {name} ]; then n=$((n+1)); else n=0; fi; \
             [ $n -ge 20 ] && exit 0; done; exit 1"
        )
    };
    client(c, ns, "rd-client-1", &only("rd-a")).await;
    // And it was only ever rd-a: no answer named rd-b came back.
    let log = c.logs(ns, "rd-client-1").await;
    assert!(
        !log.lines().any(|l| l.trim() == "rd-b"),
        "a pod failing readiness was served: {log}"
    );

    let exec = |pod: &str, cmd: &[&str]| {
        let mut args = vec!["-n", ns, "exec", pod, "--"];
        args.extend_from_slice(cmd);
        let out = tokio::task::block_in_place(|| c.kubectl(&args));
        assert!(out.status.success(), "kubectl exec {pod}: {out:?}");
    };
    exec("rd-b", &["touch", "/tmp/ready"]);
    endpoints(true, true).await;
    let both = format!(
        "{GET}for i in $(seq 1 200); do h=$(get {ip} 80); echo \"$h\" >> /tmp/seen; \
         grep -qx rd-a /tmp/seen && grep -qx rd-b /tmp/seen && exit 0; done; cat /tmp/seen; exit 1"
    );
    client(c, ns, "rd-client-2", &both).await;
    exec("rd-a", &["rm", "/tmp/ready"]);
    endpoints(false, true).await;
    client(c, ns, "rd-client-3", &only("rd-b")).await;
}

/// A Deployment rolled (template change) behind a Service while a client pod requests it in a
/// loop: maxUnavailable 0 with a readiness probe brings new pods in before old ones go, and a
/// preStop sleep keeps an old pod serving until the endpoints have dropped it. Not one
/// request may fail.
async fn check_rolling_update_without_failures(c: &TestCluster, ns: &str) {
    let deployment = |version: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "roll", "namespace": ns},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "selector": {"matchLabels": {"app": "roll"}},
                "template": {
                    "metadata": {"labels": {"app": "roll"}},
                    "spec": {
                        "terminationGracePeriodSeconds": 15,
                        "containers": [{
                            "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                            "command": ["sh", "-c", "mkdir -p /tmp/w && echo $VERSION > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"],
                            "env": [{"name": "VERSION", "value": version}],
                            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                        }],
                    },
                },
            },
        })
    };
    c.apply(ns, deployment("v1")).await;
    c.apply(ns, service(ns, "roll", "roll", json!({}))).await;
    c.wait_ready_pods(ns, "app=roll", 2, T).await;
    let ip = cluster_ip(c, ns, "roll").await;
    // Counts failures once the Service first answered; done after 50 answers in a row from v2.
    let script = format!(
        "{GET}ok=0; fail=0; run=0; started=0\n\
         for i in $(seq 1 5000); do b=$(get {ip} 80)\n\
           case \"$b\" in v1|v2) ok=$((ok+1)); [ $started = 0 ] && echo started; started=1;;\n\
             *) [ $started = 1 ] && {{ fail=$((fail+1)); echo \"failed request $i: '$b'\"; }};; esac\n\
           if [ \"$b\" = v2 ]; then run=$((run+1)); else run=0; fi\n\
           [ $run -ge 50 ] && break\n\
         done\n\
         echo \"ok=$ok fail=$fail\"; [ $fail = 0 ] && [ $run -ge 50 ]"
    );
    let node = c.nodes()[1].clone();
    c.create_pod(
        ns,
        json!({
            "metadata": {"name": "roll-client", "namespace": ns},
            "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{
                "name": "c", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script],
            }]},
        }),
    )
    .await;
    eventually("the client reached the Service", T, || async {
        let log = c.logs(ns, "roll-client").await;
        if log.contains("started") { Ok(()) } else { Err(log) }
    })
    .await;
    c.apply(ns, deployment("v2")).await;
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), ns);
    eventually("rollout complete", T, || async {
        let d = deployments.get("roll").await.expect("get deployment");
        let s = d.status.clone().unwrap_or_default();
        let done = s.observed_generation >= d.metadata.generation
            && s.updated_replicas == Some(2)
            && s.replicas == Some(2)
            && s.available_replicas == Some(2);
        if done { Ok(()) } else { Err(format!("{s:?}")) }
    })
    .await;
    let (ok, status) = c.wait_pod_done(ns, "roll-client", T).await;
    let log = c.logs(ns, "roll-client").await;
    assert!(ok, "requests failed during the rolling update: {log}\n{status}");
    assert!(log.contains("fail=0"), "{log}");
}

/// Every check on one 2-node cluster, at once (each in its own namespace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slower variant: make e2e runs it"]
async fn affinity_headless_readiness_and_rolling_update() {
    let Some(c) = TestCluster::create(2, ProxyMode::Iptables, false).await else {
        return;
    };
    let aff = c.namespace("affinity").await;
    let hl = c.namespace("headless").await;
    let rd = c.namespace("readiness").await;
    let roll = c.namespace("rolling").await;
    tokio::join!(
        check_session_affinity(&c, &aff),
        check_headless_and_stable_identity(&c, &hl),
        check_endpoint_readiness(&c, &rd),
        check_rolling_update_without_failures(&c, &roll),
    );
    c.delete().await;
}
