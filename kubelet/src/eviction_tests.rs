use super::*;
use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn health(mem_avail: i64, fs_avail: i64, procs: i64) -> Health {
    Health {
        not_ready: None,
        memory_available_bytes: mem_avail,
        memory_capacity_bytes: 4 << 30,
        fs_available_bytes: fs_avail,
        fs_capacity_bytes: 1000 << 20,
        pid_max: 1000,
        processes: procs,
    }
}

#[test]
fn thresholds_parse_like_upstream() {
    let flag = parse_flag("memory.available<500Mi, nodefs.available<15%").unwrap();
    let t = parse(&flag).unwrap();
    assert_eq!(t.memory_available, Threshold::Bytes(500 << 20));
    assert_eq!(t.nodefs_available, Threshold::Percent(15.0));
    assert_eq!(
        t.pid_available,
        Threshold::Percent(10.0),
        "unset keeps the default"
    );
    assert!(parse_flag("memory.available=1").is_err());
    for bad in [
        ("memory.available", "lots"),
        ("pid.available", "101%"),
        ("swap.free", "1Gi"),
    ] {
        let m = BTreeMap::from([(bad.0.to_string(), bad.1.to_string())]);
        assert!(parse(&m).is_err(), "{bad:?}");
    }
}

#[test]
fn signals_and_messages() {
    let t = Thresholds::default();
    assert_eq!(signals(&health(1 << 30, 500 << 20, 10), &t), Signals::default());
    let s = signals(&health(50 << 20, 50 << 20, 950), &t);
    assert_eq!(
        s.memory.as_ref().map(|p| p.message.as_str()),
        Some("The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. ")
    );
    assert_eq!(s.disk.as_ref().map(|p| p.resource), Some("ephemeral-storage"));
    assert_eq!(
        s.pid.as_ref().map(|p| p.message.as_str()),
        Some("The node was low on resource: pids. Threshold quantity: 10%, available: 50. ")
    );
}

fn pod(name: &str, qos: &str, priority: i32, created: i64) -> Pod {
    let res = |cpu: &str| {
        Some(std::collections::BTreeMap::from([(
            "cpu".to_string(),
            Quantity(cpu.into()),
        )]))
    };
    let resources = match qos {
        "BestEffort" => None,
        "Burstable" => Some(ResourceRequirements {
            requests: res("100m"),
            ..Default::default()
        }),
        _ => Some(ResourceRequirements {
            requests: res("100m"),
            limits: {
                let mut l = std::collections::BTreeMap::from([("cpu".to_string(), Quantity("100m".into()))]);
                l.insert("memory".into(), Quantity("64Mi".into()));
                Some(l)
            },
            ..Default::default()
        }),
    };
    let mut resources = resources;
    if qos == "Guaranteed"
        && let Some(r) = resources.as_mut()
    {
        r.requests = r.limits.clone();
    }
    let mut p = Pod {
        spec: Some(PodSpec {
            priority: Some(priority),
            containers: vec![Container {
                name: "c".into(),
                resources,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    p.metadata.name = Some(name.into());
    p.metadata.uid = Some(name.into());
    p.metadata.creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::from_second(created).unwrap()));
    p
}

#[test]
fn victim_ranking() {
    let critical = pod("critical", "BestEffort", 2_000_001_000, 1);
    let mut static_pod = pod("static", "BestEffort", 0, 1);
    static_pod.metadata.annotations = Some(
        [(static_pods::CONFIG_SOURCE.to_string(), "file".to_string())]
            .into_iter()
            .collect(),
    );
    let guaranteed = pod("guaranteed", "Guaranteed", 0, 1);
    let burstable_high = pod("burstable-high", "Burstable", 1000, 1);
    let burstable_low = pod("burstable-low", "Burstable", 0, 1);
    let be_old = pod("be-old", "BestEffort", 0, 1);
    let be_new = pod("be-new", "BestEffort", 0, 2);
    let all = [
        &critical,
        &static_pod,
        &guaranteed,
        &burstable_high,
        &burstable_low,
        &be_old,
        &be_new,
    ];
    let order: Vec<String> = {
        let mut left: Vec<&Pod> = all.to_vec();
        let mut out = Vec::new();
        while let Some(v) = victim(left.iter().copied()) {
            out.push(names::name(v));
            left.retain(|p| !std::ptr::eq(*p, v));
        }
        out
    };
    assert_eq!(
        order,
        vec![
            "be-new",
            "be-old",
            "burstable-low",
            "burstable-high",
            "guaranteed"
        ],
        "critical and static pods are never chosen"
    );
}
