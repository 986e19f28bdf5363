//! The add-on manifest decodes into the API types and is self-consistent: the Service selects
//! the Deployment's pods at 10.96.0.10 on 53/UDP+TCP, the probes hit the server's endpoints, and
//! the ClusterRole grants what the server watches.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};

const MANIFEST: &str = include_str!("../deploy/dns.yaml");

fn documents() -> Vec<serde_json::Value> {
    MANIFEST
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<serde_json::Value>(doc).expect("YAML document"))
        .collect()
}

fn one<T: serde::de::DeserializeOwned>(kind: &str) -> T {
    let docs: Vec<_> = documents().into_iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(docs.len(), 1, "one {kind}");
    serde_json::from_value(docs[0].clone()).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[test]
fn manifest_is_consistent() {
    let sa: ServiceAccount = one("ServiceAccount");
    let role: ClusterRole = one("ClusterRole");
    let binding: ClusterRoleBinding = one("ClusterRoleBinding");
    let deployment: Deployment = one("Deployment");
    let service: Service = one("Service");

    // RBAC: list+watch of everything the informers read, bound to the pods' account.
    for (group, resource) in [
        ("", "services"),
        ("", "namespaces"),
        ("discovery.k8s.io", "endpointslices"),
    ] {
        assert!(
            role.rules.iter().flatten().any(|r| {
                r.api_groups.iter().flatten().any(|g| g == group)
                    && r.resources.iter().flatten().any(|x| x == resource)
                    && ["list", "watch"].iter().all(|v| r.verbs.iter().any(|x| x == v))
            }),
            "ClusterRole grants list/watch {resource}"
        );
    }
    assert_eq!(binding.role_ref.name, role.metadata.name.clone().unwrap());
    let subject = &binding.subjects.as_ref().unwrap()[0];
    assert_eq!(Some(&subject.name), sa.metadata.name.as_ref());
    assert_eq!(subject.namespace, sa.metadata.namespace);

    // Pods: the right account, own network, the node's resolver, probes on the server's ports.
    let pod = deployment.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name, sa.metadata.name);
    assert_eq!(pod.host_network, Some(false));
    assert_eq!(pod.dns_policy.as_deref(), Some("Default"));
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some("rudder/dns:dev"));
    let args = container.args.clone().unwrap();
    assert!(args.contains(&"--listen=0.0.0.0:53".to_string()));
    // The args are ones the binary accepts.
    use clap::Parser;
    rudder_dns::Options::try_parse_from(std::iter::once("rudder-dns".to_string()).chain(args))
        .expect("args parse");
    let live = container
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(
        (live.path.as_deref(), &live.port),
        (
            Some("/health"),
            &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080)
        )
    );
    let ready = container
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(
        (ready.path.as_deref(), &ready.port),
        (
            Some("/ready"),
            &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8181)
        )
    );

    // The kube-dns Service.
    assert_eq!(service.metadata.name.as_deref(), Some("kube-dns"));
    assert_eq!(service.metadata.namespace.as_deref(), Some("kube-system"));
    let labels = service.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("k8s-app").map(String::as_str), Some("kube-dns"));
    let spec = service.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.10"));
    let pod_labels = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    for (k, v) in spec.selector.unwrap() {
        assert_eq!(pod_labels.get(&k), Some(&v), "selector {k}={v} matches the pods");
    }
    let ports: Vec<(i32, String)> = spec
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.port, p.protocol.unwrap_or_default()))
        .collect();
    assert!(ports.contains(&(53, "UDP".into())) && ports.contains(&(53, "TCP".into())));
}
