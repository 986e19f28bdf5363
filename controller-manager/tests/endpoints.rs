//! Endpoints and EndpointSlice controllers against a real in-process apiserver: a Service gets
//! Endpoints and an EndpointSlice listing only ready pods as ready.

mod common;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": "c", "image": "busybox", "ports": [{"name": "http", "containerPort": 8080}]}]
        }
    }))
    .expect("pod")
}

async fn set_ip_and_readiness(client: &kube::Client, name: &str, ip: &str, ready: bool) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = if ready { "True" } else { "False" };
    let patch = json!({"status": {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now}],
    }});
    api.patch_status(name, &Default::default(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("patch pod status");
}

fn ips(list: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>) -> Vec<String> {
    let mut v: Vec<String> = list.iter().flatten().map(|a| a.ip.clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn service_gets_endpoints_and_slice_with_ready_pods() {
    let cluster = common::start(&["endpoint", "endpointslice"]).await;
    let client = cluster.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");

    for name in ["web-1", "web-2", "web-3"] {
        pods.create(&PostParams::default(), &pod(name, "web"))
            .await
            .expect("create pod");
    }
    pods.create(&PostParams::default(), &pod("db-1", "db"))
        .await
        .expect("create pod");
    set_ip_and_readiness(&client, "web-1", "10.244.0.11", true).await;
    set_ip_and_readiness(&client, "web-2", "10.244.0.12", true).await;
    set_ip_and_readiness(&client, "web-3", "10.244.0.13", false).await;
    set_ip_and_readiness(&client, "db-1", "10.244.0.21", true).await;

    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    }))
    .expect("service");
    let svc = services
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    // A Service without a selector is left alone.
    let manual: Service = serde_json::from_value(json!({
        "metadata": {"name": "manual"},
        "spec": {"ports": [{"port": 80}]}
    }))
    .expect("service");
    services
        .create(&PostParams::default(), &manual)
        .await
        .expect("create service");

    let ep = eventually(
        "endpoints with two ready and one not-ready address",
        common::WAIT,
        || {
            let endpoints = endpoints.clone();
            async move {
                let ep = endpoints.get_opt("web").await.ok()??;
                let subsets = ep.subsets.clone()?;
                (subsets.len() == 1
                    && ips(&subsets[0].addresses) == ["10.244.0.11", "10.244.0.12"]
                    && ips(&subsets[0].not_ready_addresses) == ["10.244.0.13"])
                .then_some(ep)
            }
        },
    )
    .await;
    let subset = &ep.subsets.as_ref().expect("subsets")[0];
    let port = &subset.ports.as_ref().expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), 8080, Some("TCP"))
    );
    let labels = ep.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("endpoints.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpoint-controller")
    );
    assert_eq!(
        labels.get("tier").map(String::as_str),
        Some("front"),
        "service labels are copied"
    );

    let slice = eventually(
        "an EndpointSlice with readiness per endpoint",
        common::WAIT,
        || {
            let slices = slices.clone();
            async move {
                let list = slices
                    .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                    .await
                    .ok()?;
                let slice = list.items.into_iter().next()?;
                (slice.endpoints.len() == 3).then_some(slice)
            }
        },
    )
    .await;
    assert_eq!(slice.address_type, "IPv4");
    let labels = slice.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    let owner = &slice.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", svc.metadata.uid.as_deref().unwrap_or(""))
    );
    let mut ready: Vec<(String, bool)> = slice
        .endpoints
        .iter()
        .map(|e| {
            (
                e.addresses[0].clone(),
                e.conditions.as_ref().and_then(|c| c.ready) == Some(true),
            )
        })
        .collect();
    ready.sort();
    assert_eq!(
        ready,
        vec![
            ("10.244.0.11".to_string(), true),
            ("10.244.0.12".to_string(), true),
            ("10.244.0.13".to_string(), false)
        ]
    );
    assert_eq!(slice.endpoints[0].node_name.as_deref(), Some("node-a"));
    assert_eq!(slice.ports.as_ref().expect("ports")[0].port, Some(8080));

    // The third pod turns ready; the first goes away: both objects follow.
    set_ip_and_readiness(&client, "web-3", "10.244.0.13", true).await;
    pods.delete("web-1", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete pod");
    eventually("endpoints follow pod changes", common::WAIT, || {
        let endpoints = endpoints.clone();
        async move {
            let ep = endpoints.get_opt("web").await.ok()??;
            let subsets = ep.subsets?;
            (subsets.len() == 1
                && ips(&subsets[0].addresses) == ["10.244.0.12", "10.244.0.13"]
                && subsets[0].not_ready_addresses.is_none())
            .then_some(())
        }
    })
    .await;
    eventually("slice follows pod changes", common::WAIT, || {
        let slices = slices.clone();
        async move {
            let list = slices
                .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                .await
                .ok()?;
            let all: Vec<(String, bool)> = list
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter())
                .map(|e| {
                    (
                        e.addresses[0].clone(),
                        e.conditions.as_ref().and_then(|c| c.ready) == Some(true),
                    )
                })
                .collect();
            (list.items.len() == 1 && all.len() == 2 && all.iter().all(|(_, r)| *r)).then_some(())
        }
    })
    .await;

    // Nothing was made for the selector-less Service.
    assert!(endpoints.get_opt("manual").await.expect("get").is_none());
    let manual_slices = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=manual"))
        .await
        .expect("list");
    assert!(manual_slices.items.is_empty());

    // Deleting the Service removes its Endpoints and slices.
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete service");
    eventually("endpoints and slices gone with the service", common::WAIT, || {
        let (endpoints, slices) = (endpoints.clone(), slices.clone());
        async move {
            let ep = endpoints.get_opt("web").await.ok()?;
            let list = slices
                .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                .await
                .ok()?;
            (ep.is_none() && list.items.is_empty()).then_some(())
        }
    })
    .await;
}
