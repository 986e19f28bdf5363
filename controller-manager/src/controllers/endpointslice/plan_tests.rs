use super::*;
use crate::controllers::endpoints::pods::testing::{pod, port, service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn no_zone(_: &str) -> Option<String> {
    None
}

fn conditions(e: &Endpoint) -> (bool, bool, bool) {
    let c = e.conditions.clone().unwrap_or_default();
    (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
}

fn named(mut s: EndpointSlice, name: &str) -> EndpointSlice {
    s.metadata.name = Some(name.into());
    s.metadata.generate_name = None;
    s
}

#[test]
fn first_sync_creates_one_slice_with_conditions_and_labels() {
    let svc = service("web", vec![port("http", 80, IntOrString::String("http".into()))]);
    let a = pod("a", "10.0.0.1", true);
    let b = pod("b", "10.0.0.2", false);
    let mut c = pod("c", "10.0.0.3", true);
    c.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    let zone = |node: &str| (node == "node-1").then(|| "zone-a".to_string());
    let p = plan(&svc, &[&a, &b, &c], &[], &zone, MAX_ENDPOINTS_PER_SLICE);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (1, 0, 0));
    let slice = &p.create[0];
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels.get(LABEL_SERVICE_NAME).map(String::as_str), Some("web"));
    assert_eq!(
        labels.get(LABEL_MANAGED_BY).map(String::as_str),
        Some(CONTROLLER_NAME)
    );
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Service", "uid-web", Some(true))
    );
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), Some(8080)));
    let got: Vec<(&str, (bool, bool, bool))> = slice
        .endpoints
        .iter()
        .map(|e| (e.addresses[0].as_str(), conditions(e)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("10.0.0.1", (true, true, false)),
            ("10.0.0.2", (false, false, false)),
            ("10.0.0.3", (false, true, true)),
        ]
    );
    assert_eq!(slice.endpoints[0].zone.as_deref(), Some("zone-a"));
    assert_eq!(slice.endpoints[0].node_name.as_deref(), Some("node-1"));
}

#[test]
fn slices_hold_at_most_max_endpoints() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let pods: Vec<Pod> = (0..250)
        .map(|i| {
            pod(
                &format!("p{i:03}"),
                &format!("10.0.{}.{}", i / 200, i % 200),
                true,
            )
        })
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let p = plan(&svc, &refs, &[], &no_zone, 100);
    let sizes: Vec<usize> = p.create.iter().map(|s| s.endpoints.len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[test]
fn steady_state_is_a_no_op_and_changes_touch_existing_slice() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let a = pod("a", "10.0.0.1", true);
    let first = plan(&svc, &[&a], &[], &no_zone, 100);
    let existing = named(first.create[0].clone(), "web-abcde");
    assert!(plan(&svc, &[&a], &[&existing], &no_zone, 100).is_empty());

    // a becomes not ready, b appears: one update of the same slice, nothing created.
    let a2 = pod("a", "10.0.0.1", false);
    let b = pod("b", "10.0.0.2", true);
    let p = plan(&svc, &[&a2, &b], &[&existing], &no_zone, 100);
    assert!(p.create.is_empty() && p.delete.is_empty());
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-abcde"));
    let ready: Vec<bool> = p.update[0].endpoints.iter().map(|e| conditions(e).0).collect();
    assert_eq!(ready, vec![false, true]);
}

#[test]
fn no_endpoints_keeps_one_placeholder() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let p = plan(&svc, &[], &[], &no_zone, 100);
    assert_eq!(p.create.len(), 1);
    assert!(p.create[0].endpoints.is_empty());
    assert_eq!(p.create[0].ports.as_deref(), Some(&[][..]));
    let placeholder = named(p.create[0].clone(), "web-x");
    assert!(plan(&svc, &[], &[&placeholder], &no_zone, 100).is_empty());

    // When pods appear the placeholder (different ports) goes and a real slice comes.
    let a = pod("a", "10.0.0.1", true);
    let p = plan(&svc, &[&a], &[&placeholder], &no_zone, 100);
    assert_eq!(p.delete, vec!["web-x".to_string()]);
    assert_eq!(p.create.len(), 1);
}

#[test]
fn emptied_slices_are_deleted_and_selectorless_services_lose_ours() {
    let svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    let pods: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("p{i}"), &format!("10.0.0.{i}"), true))
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let first = plan(&svc, &refs, &[], &no_zone, 2);
    let s1 = named(first.create[0].clone(), "s1");
    let s2 = named(first.create[1].clone(), "s2");
    // p2 (alone in s2) goes away.
    let p = plan(&svc, &refs[..2], &[&s1, &s2], &no_zone, 2);
    assert_eq!(p.delete, vec!["s2".to_string()]);
    assert!(p.update.is_empty() && p.create.is_empty());

    let mut bare = svc.clone();
    bare.spec.as_mut().unwrap().selector = None;
    let p = plan(&bare, &refs, &[&s1, &s2], &no_zone, 2);
    assert_eq!(p.delete, vec!["s1".to_string(), "s2".to_string()]);
}

#[test]
fn different_resolved_ports_get_different_slices() {
    let svc = service("web", vec![port("http", 80, IntOrString::String("http".into()))]);
    let a = pod("a", "10.0.0.1", true);
    let mut b = pod("b", "10.0.0.2", true);
    b.spec.as_mut().unwrap().containers[0].ports.as_mut().unwrap()[0].container_port = 9000;
    let p = plan(&svc, &[&a, &b], &[], &no_zone, 100);
    let mut ports: Vec<i32> = p
        .create
        .iter()
        .map(|s| s.ports.as_ref().unwrap()[0].port.unwrap())
        .collect();
    ports.sort();
    assert_eq!(ports, vec![8080, 9000]);
}

#[test]
fn publish_not_ready_marks_everything_ready_and_headless_is_labelled() {
    let mut svc = service("web", vec![port("http", 80, IntOrString::Int(8080))]);
    svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let b = pod("b", "10.0.0.2", false);
    let p = plan(&svc, &[&b], &[], &no_zone, 100);
    assert_eq!(conditions(&p.create[0].endpoints[0]), (true, false, false));
    let labels = p.create[0].metadata.labels.as_ref().unwrap();
    assert_eq!(labels.get(HEADLESS_LABEL).map(String::as_str), Some(""));
}
