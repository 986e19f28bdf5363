//! Tests of the service strategy's pure parts: defaulting, allocation and validation.

use serde_json::{Value, json};

use super::Settings;
use super::service_validation::validate_service;
use super::services::{InUse, default_service_spec, prepare_create, prepare_update};
use super::tests_core::messages;

fn settings() -> Settings {
    Settings {
        service_range: ("10.96.0.0".parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), 24),
        node_port_range: (30000, 30099),
    }
}

fn svc(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

fn create(mut obj: Value, used: &InUse) -> Value {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        default_service_spec(spec);
    }
    prepare_create(&mut obj, &settings(), used);
    obj
}

fn validate(obj: &Value, used: &InUse, old: Option<&Value>) -> Vec<String> {
    messages(&validate_service(&settings(), used, obj, old))
}

#[test]
fn cluster_ip_service_defaults() {
    let used = InUse::default();
    let s = create(
        svc(
            "web",
            json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
        ),
        &used,
    );
    let spec = &s["spec"];
    let ip = spec["clusterIP"].as_str().unwrap_or("");
    assert!(
        ip.starts_with("10.96.0.") && ip != "10.96.0.1" && ip != "10.96.0.0" && ip != "10.96.0.255",
        "{ip}"
    );
    assert_eq!(spec["clusterIPs"], json!([ip]));
    assert_eq!(
        spec["ports"],
        json!([{"port": 80, "protocol": "TCP", "targetPort": 80}])
    );
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert!(spec.get("externalTrafficPolicy").is_none());
    assert_eq!(s["status"], json!({"loadBalancer": {}}));
    assert!(validate(&s, &used, None).is_empty());
}

#[test]
fn kubernetes_service_gets_the_first_address() {
    let used = InUse::default();
    let k = create(
        svc(
            "kubernetes",
            json!({"ports": [{"name": "https", "port": 443, "targetPort": 6443}]}),
        ),
        &used,
    );
    assert_eq!(k["spec"]["clusterIP"], "10.96.0.1");
    let mut ns_other = svc("kubernetes", json!({"ports": [{"port": 443}]}));
    ns_other["metadata"]["namespace"] = json!("other");
    assert_ne!(create(ns_other, &used)["spec"]["clusterIP"], "10.96.0.1");
}

#[test]
fn allocation_avoids_used_addresses_and_ports() {
    let mut used = InUse::default();
    for host in 2..255u32 {
        if host != 77 {
            used.ips
                .insert(u32::from(std::net::Ipv4Addr::new(10, 96, 0, 0)) + host);
        }
    }
    used.ports.extend(30000..30099);
    let s = create(
        svc(
            "np",
            json!({"type": "NodePort", "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP", "name": "tcp"}]}),
        ),
        &used,
    );
    assert_eq!(s["spec"]["clusterIP"], "10.96.0.77");
    assert_eq!(s["spec"]["ports"][0]["nodePort"], 30099);
    assert_eq!(
        s["spec"]["ports"][1]["nodePort"], 30099,
        "same port number shares its node port"
    );
    assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
}

#[test]
fn headless_services() {
    let used = InUse::default();
    let with_selector = create(
        svc("h", json!({"clusterIP": "None", "selector": {"a": "b"}})),
        &used,
    );
    assert_eq!(with_selector["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(with_selector["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(with_selector["spec"]["ipFamilies"], json!(["IPv4"]));
    assert!(
        validate(&with_selector, &used, None).is_empty(),
        "headless services need no ports"
    );
    let selectorless = create(
        svc("h", json!({"clusterIP": "None", "ports": [{"port": 1}]})),
        &used,
    );
    assert_eq!(selectorless["spec"]["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(selectorless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert!(validate(&selectorless, &used, None).is_empty());
}

#[test]
fn service_validation_messages() {
    let mut used = InUse::default();
    used.ips.insert(u32::from(std::net::Ipv4Addr::new(10, 96, 0, 9)));
    used.ports.insert(30007);
    let v = |spec: Value| {
        let s = create(svc("s", spec), &used);
        validate(&s, &used, None)
    };
    assert_eq!(v(json!({})), ["spec.ports: Required value"]);
    assert_eq!(
        v(json!({"ports": [{"port": 80}, {"port": 81}]})),
        [
            "spec.ports[0].name: Required value",
            "spec.ports[1].name: Required value"
        ]
    );
    assert_eq!(
        v(json!({"ports": [{"port": 0}]})),
        [
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ]
    );
    assert_eq!(
        v(json!({"type": "Fancy", "ports": [{"port": 1}]})),
        [
            "spec.type: Unsupported value: \"Fancy\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        ]
    );
    assert_eq!(
        v(json!({"clusterIP": "1.2.3.4", "ports": [{"port": 1}]})),
        [
            "spec.clusterIPs: Invalid value: []string{\"1.2.3.4\"}: failed to allocate IP 1.2.3.4: the provided IP (1.2.3.4) is not in the valid range. The range of valid IPs is 10.96.0.0/24"
        ]
    );
    assert_eq!(
        v(json!({"clusterIP": "10.96.0.9", "ports": [{"port": 1}]})),
        [
            "spec.clusterIPs: Invalid value: []string{\"10.96.0.9\"}: failed to allocate IP 10.96.0.9: provided IP is already allocated"
        ]
    );
    assert_eq!(
        v(json!({"type": "NodePort", "ports": [{"port": 1, "nodePort": 8080}]})),
        [
            "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-30099"
        ]
    );
    assert_eq!(
        v(json!({"type": "NodePort", "ports": [{"port": 1, "nodePort": 30007}]})),
        ["spec.ports[0].nodePort: Invalid value: 30007: provided port is already allocated"]
    );
    assert_eq!(
        v(json!({"clusterIP": "nope", "ports": [{"port": 1}]})),
        [
            "spec.clusterIPs[0]: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
        ]
    );
    assert_eq!(
        v(json!({"type": "ExternalName"})),
        ["spec.externalName: Required value"]
    );
}

#[test]
fn updates_keep_allocations_and_refuse_changes() {
    let used = InUse::default();
    let old = create(
        svc(
            "s",
            json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}),
        ),
        &used,
    );
    let ip = old["spec"]["clusterIP"].clone();
    let node_port = old["spec"]["ports"][0]["nodePort"].clone();

    // Re-applying the original manifest keeps what was allocated.
    let mut again = svc(
        "s",
        json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}),
    );
    if let Some(spec) = again.get_mut("spec").and_then(Value::as_object_mut) {
        default_service_spec(spec);
    }
    prepare_update(&mut again, &old, &settings(), &used);
    assert_eq!(again["spec"]["clusterIP"], ip);
    assert_eq!(again["spec"]["clusterIPs"], json!([ip]));
    assert_eq!(again["spec"]["ports"][0]["nodePort"], node_port);
    assert!(validate(&again, &used, Some(&old)).is_empty());

    let mut changed = again.clone();
    changed["spec"]["clusterIP"] = json!("10.96.0.200");
    prepare_update(&mut changed, &old, &settings(), &used);
    let msgs = validate(&changed, &used, Some(&old));
    assert_eq!(
        msgs[0],
        "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.200\"}: may not change once set"
    );

    // Switching to ClusterIP drops the untouched node ports.
    let mut to_cluster_ip = again.clone();
    to_cluster_ip["spec"]["type"] = json!("ClusterIP");
    prepare_update(&mut to_cluster_ip, &old, &settings(), &used);
    assert!(to_cluster_ip["spec"]["ports"][0].get("nodePort").is_none());
    assert!(to_cluster_ip["spec"].get("externalTrafficPolicy").is_none());
    assert!(validate(&to_cluster_ip, &used, Some(&old)).is_empty());
}
