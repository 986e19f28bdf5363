//! Horizontal pod autoscaler against a real in-process apiserver, which serves no metrics API:
//! the HPA reports ScalingActive=False (FailedGetResourceMetric) and leaves its target alone,
//! but still lifts a target below minReplicas through the scale subresource.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": "100m"}}}]}}}
    }))
    .expect("deployment")
}

fn hpa(name: &str, min: i32) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
        }
    }))
    .expect("hpa")
}

fn condition(h: &HorizontalPodAutoscaler, type_: &str) -> Option<(String, String)> {
    let c = h
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone().unwrap_or_default()))
}

#[tokio::test]
async fn hpa_without_metrics_api() {
    let cluster = common::start(&["horizontalpodautoscaling"]).await;
    let client = cluster.client.clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("deployment");
    deployments
        .create(&PostParams::default(), &deployment("api", 1))
        .await
        .expect("deployment");
    hpas.create(&PostParams::default(), &hpa("web", 1))
        .await
        .expect("hpa");
    hpas.create(&PostParams::default(), &hpa("api", 3))
        .await
        .expect("hpa");

    let web = eventually("ScalingActive=False without a metrics API", common::WAIT, || {
        let hpas = hpas.clone();
        async move {
            let h = hpas.get("web").await.ok()?;
            (condition(&h, "ScalingActive") == Some(("False".into(), "FailedGetResourceMetric".into())))
                .then_some(h)
        }
    })
    .await;
    let message = web
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "ScalingActive"))
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("unable to fetch metrics from resource metrics API"),
        "{message}"
    );
    assert_eq!(
        condition(&web, "AbleToScale"),
        Some(("True".into(), "SucceededGetScale".into()))
    );
    assert_eq!(web.status.as_ref().and_then(|s| s.current_replicas), Some(2));
    let target = deployments.get("web").await.expect("deployment");
    assert_eq!(
        target.spec.and_then(|s| s.replicas),
        Some(2),
        "no metrics: no scaling"
    );

    // Below minReplicas the HPA scales without metrics.
    eventually("api scaled to minReplicas", common::WAIT, || {
        let deployments = deployments.clone();
        async move { (deployments.get("api").await.ok()?.spec?.replicas == Some(3)).then_some(()) }
    })
    .await;
    let api = eventually("api HPA status", common::WAIT, || {
        let hpas = hpas.clone();
        async move {
            let h = hpas.get("api").await.ok()?;
            (h.status.as_ref()?.desired_replicas == 3).then_some(h)
        }
    })
    .await;
    assert!(
        api.status
            .as_ref()
            .and_then(|s| s.last_scale_time.as_ref())
            .is_some()
    );
    // SucceededRescale right after the rescale; a later sync that only reads the scale reports
    // SucceededGetScale (upstream does the same), so either may be observed here.
    let able = condition(&api, "AbleToScale");
    assert!(
        matches!(&able, Some((status, reason)) if status == "True"
            && (reason == "SucceededRescale" || reason == "SucceededGetScale")),
        "AbleToScale: {able:?}"
    );
}
