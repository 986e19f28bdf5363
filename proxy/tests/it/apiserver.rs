//! kube-proxy in-process against the in-process apiserver, programming a lab netns.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use rudder_component::Shutdown;
use rudder_proxy::backend::ProxyMode;
use rudder_proxy::config::Config;
use rudder_proxy::exec::CommandExecutor;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

use crate::lab::{Lab, service, slice};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_and_slices_become_rules_in_the_netns() {
    for mode in [ProxyMode::Iptables, ProxyMode::Nftables] {
        let server = TestApiServer::start().await;
        let mut lab = Lab::new();
        let pod_ip = lab.add_pod(20, "pod-x", 8080);

        let svcs: Api<Service> = Api::namespaced(server.client.clone(), "default");
        let created = svcs
            .create(
                &PostParams::default(),
                &service(
                    "default",
                    "web",
                    json!({"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
                ),
            )
            .await
            .expect("create service");
        let cluster_ip = created
            .spec
            .and_then(|s| s.cluster_ip)
            .expect("cluster IP allocated");
        let slices: Api<EndpointSlice> = Api::namespaced(server.client.clone(), "default");
        slices
            .create(
                &PostParams::default(),
                &slice("default", "web", "http", 8080, &[&pod_ip]),
            )
            .await
            .expect("create slice");

        let (healthz, metrics) = (free_port(), free_port());
        let config = Config {
            kubeconfig: Some(server.kubeconfig_path().to_path_buf()),
            node_name: "n1".into(),
            mode,
            cluster_cidr: Some("10.200.0.0/24".parse().unwrap()),
            masquerade_all: false,
            min_sync_period: Duration::from_millis(100),
            sync_period: Duration::from_secs(30),
            healthz_bind_address: Some(([127, 0, 0, 1], healthz).into()),
            metrics_bind_address: Some(([127, 0, 0, 1], metrics).into()),
            executor: Arc::new(CommandExecutor::in_netns(&lab.node)),
        };
        let (trigger, shutdown) = Shutdown::new();
        let proxy = tokio::spawn(rudder_proxy::run::run(config, shutdown));

        let what = mode.as_str();
        let lab_ref = &lab;
        let ip = cluster_ip.clone();
        eventually(
            &format!("{what}: service answers through the rules"),
            Duration::from_secs(20),
            || {
                let ip = ip.clone();
                async move { (lab_ref.connect(&ip, 80).as_deref() == Some("pod-x")).then_some(()) }
            },
        )
        .await;

        let (code, body) = http_get(healthz, "/healthz").await.expect("healthz answers");
        assert_eq!(code, 200, "{body}");
        assert!(
            body.starts_with("{\"lastUpdated\": ") && body.contains("\"nodeEligible\": true"),
            "{body}"
        );
        let (code, text) = http_get(metrics, "/metrics").await.expect("metrics answers");
        assert_eq!(code, 200);
        assert!(
            text.contains("kubeproxy_sync_proxy_rules_duration_seconds_count"),
            "{text}"
        );
        let last = text
            .lines()
            .find(|l| l.starts_with("kubeproxy_sync_proxy_rules_last_timestamp_seconds "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .expect("last timestamp metric");
        assert!(last > 1.0e9, "{last}");
        if mode == ProxyMode::Iptables {
            assert!(
                text.contains("kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\"}"),
                "{text}"
            );
        }

        // The slice goes away: the service's DNAT goes too and connections are refused. (The
        // `kubernetes` Service keeps its DNAT to the apiserver: only the pod's is looked for.)
        let pod_target = format!("{pod_ip}:8080");
        let rules = match mode {
            ProxyMode::Iptables => lab.iptables_save(),
            ProxyMode::Nftables => lab.nft_table().unwrap_or_default(),
        };
        assert!(
            rules.contains(&pod_target),
            "{what}: no DNAT to {pod_target} before the delete:\n{rules}"
        );
        slices
            .delete("web-abc", &DeleteParams::default())
            .await
            .expect("delete slice");
        eventually(
            &format!("{what}: endpoint rules removed"),
            Duration::from_secs(20),
            || {
                let pod_target = pod_target.clone();
                async move {
                    let gone = match mode {
                        ProxyMode::Iptables => !lab_ref
                            .iptables_save()
                            .contains(&format!("--to-destination {pod_target}")),
                        ProxyMode::Nftables => lab_ref.nft_table().is_ok_and(|t| !t.contains(&pod_target)),
                    };
                    gone.then_some(())
                }
            },
        )
        .await;
        assert_eq!(lab.connect(&cluster_ip, 80), None);

        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), proxy)
            .await
            .expect("kube-proxy stops")
            .expect("join")
            .expect("run ok");
    }
}
