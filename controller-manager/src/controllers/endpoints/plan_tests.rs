use super::*;
use crate::controllers::endpoints::pods::testing::{pod, port, service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
    list.iter().flatten().map(|a| a.ip.as_str()).collect()
}

fn created(plan: EndpointsPlan) -> Endpoints {
    match plan {
        EndpointsPlan::Create(e) => e,
        other => panic!("expected Create, got {other:?}"),
    }
}

#[test]
fn ready_and_not_ready_pods_split() {
    let svc = service("web", vec![port("http", 80, IntOrString::String("http".into()))]);
    let (a, b, c) = (
        pod("a", "10.0.0.1", true),
        pod("b", "10.0.0.2", false),
        pod("c", "", true),
    );
    let ep = created(plan(&svc, &[&a, &b, &c], None));
    assert_eq!(ep.metadata.name.as_deref(), Some("web"));
    let subsets = ep.subsets.expect("subsets");
    assert_eq!(subsets.len(), 1);
    assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1"]);
    assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.2"]);
    let p = &subsets[0].ports.as_ref().expect("ports")[0];
    assert_eq!(
        (p.name.as_deref(), p.port, p.protocol.as_deref()),
        (Some("http"), 8080, Some("TCP"))
    );
    let target = subsets[0].addresses.as_ref().unwrap()[0]
        .target_ref
        .clone()
        .unwrap();
    assert_eq!(
        (target.kind.as_deref(), target.name.as_deref()),
        (Some("Pod"), Some("a"))
    );
    assert_eq!(
        subsets[0].addresses.as_ref().unwrap()[0].node_name.as_deref(),
        Some("node-1")
    );
    let labels = ep.metadata.labels.unwrap();
    assert_eq!(
        labels.get(LABEL_MANAGED_BY).map(String::as_str),
        Some(CONTROLLER_NAME)
    );
    assert!(!labels.contains_key(HEADLESS_LABEL));
}

#[test]
fn publish_not_ready_addresses_makes_all_ready() {
    let mut svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    let (a, b) = (pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", false));
    let subsets = created(plan(&svc, &[&a, &b], None)).subsets.unwrap();
    assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1", "10.0.0.2"]);
    assert!(subsets[0].not_ready_addresses.is_none());
}

#[test]
fn named_ports_resolve_per_pod_into_separate_subsets() {
    let svc = service("web", vec![port("http", 80, IntOrString::String("http".into()))]);
    let a = pod("a", "10.0.0.1", true);
    let mut b = pod("b", "10.0.0.2", true);
    b.spec.as_mut().unwrap().containers[0].ports.as_mut().unwrap()[0].container_port = 9090;
    let mut c = pod("c", "10.0.0.3", true);
    c.spec.as_mut().unwrap().containers[0].ports = None; // no such named port: left out
    let subsets = created(plan(&svc, &[&a, &b, &c], None)).subsets.unwrap();
    let mut seen: Vec<(i32, Vec<&str>)> = subsets
        .iter()
        .map(|s| (s.ports.as_ref().unwrap()[0].port, ips(&s.addresses)))
        .collect();
    seen.sort();
    assert_eq!(seen, vec![(8080, vec!["10.0.0.1"]), (9090, vec!["10.0.0.2"])]);
}

#[test]
fn multiple_ports_share_a_subset() {
    let svc = service(
        "web",
        vec![
            port("http", 80, IntOrString::Int(8080)),
            port("metrics", 9100, IntOrString::Int(9100)),
        ],
    );
    let a = pod("a", "10.0.0.1", true);
    let subsets = created(plan(&svc, &[&a], None)).subsets.unwrap();
    assert_eq!(subsets.len(), 1);
    assert_eq!(subsets[0].ports.as_ref().unwrap().len(), 2);
}

#[test]
fn selectorless_service_is_left_alone_and_other_labels_ignored() {
    let mut svc = service("web", vec![]);
    svc.spec.as_mut().unwrap().selector = None;
    assert_eq!(plan(&svc, &[], None), EndpointsPlan::Nothing);

    let svc = service("web", vec![port("http", 80, IntOrString::Int(80))]);
    let mut other = pod("x", "10.0.0.9", true);
    other.metadata.labels = Some(BTreeMap::from([("app".into(), "db".into())]));
    let ep = created(plan(&svc, &[&other], None));
    assert!(ep.subsets.is_none(), "no matching pods: empty subsets");
}

#[test]
fn headless_without_ports_and_hostname() {
    let mut svc = service("web", vec![]);
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let mut a = pod("a", "10.0.0.1", true);
    a.spec.as_mut().unwrap().hostname = Some("a".into());
    a.spec.as_mut().unwrap().subdomain = Some("web".into());
    let ep = created(plan(&svc, &[&a], None));
    let subsets = ep.subsets.unwrap();
    assert_eq!(
        subsets[0].addresses.as_ref().unwrap()[0].hostname.as_deref(),
        Some("a")
    );
    assert!(subsets[0].ports.is_none());
    assert_eq!(
        ep.metadata
            .labels
            .unwrap()
            .get(HEADLESS_LABEL)
            .map(String::as_str),
        Some("")
    );
}

#[test]
fn unchanged_endpoints_are_not_rewritten_and_changes_update() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let a = pod("a", "10.0.0.1", true);
    let mut current = created(plan(&svc, &[&a], None));
    current.metadata.resource_version = Some("5".into());
    assert_eq!(plan(&svc, &[&a], Some(&current)), EndpointsPlan::Nothing);
    let b = pod("b", "10.0.0.2", true);
    match plan(&svc, &[&a, &b], Some(&current)) {
        EndpointsPlan::Update(e) => {
            assert_eq!(ips(&e.subsets.unwrap()[0].addresses), ["10.0.0.1", "10.0.0.2"]);
            assert_eq!(e.metadata.resource_version.as_deref(), Some("5"));
        }
        other => panic!("expected Update, got {other:?}"),
    }
}

#[test]
fn over_capacity_truncates_and_annotates() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let pods: Vec<Pod> = (0..1100)
        .map(|i| {
            pod(
                &format!("p{i}"),
                &format!("10.1.{}.{}", i / 250, i % 250),
                i % 2 == 0,
            )
        })
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let ep = created(plan(&svc, &refs, None));
    let subsets = ep.subsets.unwrap();
    let ready: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let not_ready: usize = subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!((ready, not_ready), (550, 450), "ready ones are kept first");
    assert_eq!(
        ep.metadata
            .annotations
            .unwrap()
            .get(OVER_CAPACITY)
            .map(String::as_str),
        Some("truncated")
    );
}

#[test]
fn terminating_pods_are_dropped_unless_published() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let mut a = pod("a", "10.0.0.1", true);
    a.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    ));
    assert!(created(plan(&svc, &[&a], None)).subsets.is_none());
}
