use super::*;
use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

const NOW: i64 = 10_000;

/// A running, ready pod started long ago, requesting `request_m` millicores.
fn pod(name: &str, request_m: i64) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                resources: Some(ResourceRequirements {
                    requests: Some([("cpu".to_string(), Quantity(format!("{request_m}m")))].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            start_time: Some(Time(t(0))),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(t(10))),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn samples(values: &[(&str, i64)]) -> BTreeMap<String, Sample> {
    values
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                Sample {
                    value: *v,
                    timestamp: t(NOW),
                    window: SignedDuration::from_secs(30),
                },
            )
        })
        .collect()
}

#[test]
fn replica_table() {
    // (current, target %, pods' usage (request 1000m each; None = no sample), want replicas)
    let cases: [(i32, i32, &[Option<i64>], i32); 7] = [
        (3, 50, &[Some(500), Some(500), Some(500)], 3), // exactly on target
        (3, 50, &[Some(530), Some(520), Some(540)], 3), // within tolerance
        (3, 50, &[Some(900), Some(900), Some(900)], 6), // ceil(3 * 1.8)
        (4, 50, &[Some(100), Some(100), Some(100), Some(100)], 1), // 20% of 50%: ceil(0.8)
        // Scale up with a missing pod: it counts as 0, ratio (900+900+0)/3=600 -> 1.2 -> 4.
        (3, 50, &[Some(900), Some(900), None], 4),
        // Scale down with a missing pod: it counts as 100%: (100+100+1000)/3 = 400 -> 0.8*3 -> 3 (same).
        (3, 50, &[Some(100), Some(100), None], 3),
        // Scale down with a missing pod, strongly: (0+0+1000)/3 = 33% of a 50% target -> ceil(0.66*3) = 2.
        (3, 50, &[Some(0), Some(0), None], 2),
    ];
    for (current, target, usage, want) in cases {
        let pods: Vec<Pod> = (0..usage.len()).map(|i| pod(&format!("p{i}"), 1000)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let present: Vec<(String, i64)> = usage
            .iter()
            .enumerate()
            .filter_map(|(i, u)| u.map(|u| (format!("p{i}"), u)))
            .collect();
        let pairs: Vec<(&str, i64)> = present.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let got = resource_replicas(current, target, "cpu", &refs, &samples(&pairs), t(NOW)).unwrap();
        assert_eq!(got.replicas, want, "{current} {target} {usage:?}");
    }
}

#[test]
fn utilization_is_reported() {
    let pods = [pod("a", 200), pod("b", 200)];
    let refs: Vec<&Pod> = pods.iter().collect();
    let got = resource_replicas(2, 80, "cpu", &refs, &samples(&[("a", 100), ("b", 300)]), t(NOW)).unwrap();
    assert_eq!((got.utilization, got.raw_average), (100, 200));
    assert_eq!(got.replicas, 3, "125% of target: ceil(2 * 1.25)");
}

#[test]
fn unready_pods_count_as_zero_on_scale_up() {
    let mut warming = pod("c", 1000);
    warming.status.as_mut().unwrap().phase = Some("Pending".into());
    let pods = [pod("a", 1000), pod("b", 1000), warming];
    let refs: Vec<&Pod> = pods.iter().collect();
    // ready pods at 100% of a 50% target (ratio 2) -> with the unready one at 0: (1000+1000+0)/3 -> 1.33 -> 4
    let got = resource_replicas(3, 50, "cpu", &refs, &samples(&[("a", 1000), ("b", 1000)]), t(NOW)).unwrap();
    assert_eq!(got.replicas, 4);
}

#[test]
fn errors() {
    assert_eq!(
        resource_replicas(1, 50, "cpu", &[], &BTreeMap::new(), t(NOW)),
        Err(CalcError::NoPods)
    );
    let pods = [pod("a", 1000)];
    let refs: Vec<&Pod> = pods.iter().collect();
    assert_eq!(
        resource_replicas(1, 50, "cpu", &refs, &BTreeMap::new(), t(NOW)),
        Err(CalcError::NoMetrics)
    );
    let mut bare = pod("a", 1000);
    bare.spec.as_mut().unwrap().containers[0].resources = None;
    let refs = [&bare];
    assert!(matches!(
        resource_replicas(1, 50, "cpu", &refs, &samples(&[("a", 10)]), t(NOW)),
        Err(CalcError::MissingRequest { .. })
    ));
}

#[test]
fn average_value_targets() {
    let pods = [pod("a", 1), pod("b", 1)];
    let refs: Vec<&Pod> = pods.iter().collect();
    // average 300m against a 100m target: 3x -> 6 replicas.
    let got =
        raw_resource_replicas(2, 100, "cpu", &refs, &samples(&[("a", 300), ("b", 300)]), t(NOW)).unwrap();
    assert_eq!(got.replicas, 6);
}
