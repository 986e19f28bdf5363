//! Pod facts shared by the endpoints and endpointslice controllers (upstream
//! `k8s.io/endpointslice/util` and `pkg/api/v1/pod`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `podutil.IsPodReady`: the Ready condition is True.
pub(crate) fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conds| conds.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Succeeded or Failed: the pod will never run again.
pub(crate) fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Every IP the pod reports (`status.podIPs`, falling back to `status.podIP`).
pub(crate) fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let ips: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !ips.is_empty() {
        return ips;
    }
    status
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .into_iter()
        .collect()
}

/// `ShouldPodBeInEndpoints`: terminal pods and pods without an IP never are; terminating pods
/// only when the caller includes them.
pub(crate) fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_pod_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// `ShouldSetHostname`: the pod names this Service as its subdomain and has a hostname.
pub(crate) fn should_set_hostname(pod: &Pod, service: &Service) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.hostname.as_deref().is_some_and(|h| !h.is_empty())
        && spec.subdomain.is_some()
        && spec.subdomain == service.metadata.name
        && pod.metadata.namespace == service.metadata.namespace
}

fn protocol_or_tcp(p: Option<&str>) -> &str {
    p.filter(|p| !p.is_empty()).unwrap_or("TCP")
}

/// `podutil.FindPort`: a numeric targetPort as is; a named one resolved against the pod's
/// container ports (and restartable init containers) of the same protocol.
pub(crate) fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match port.target_port.as_ref() {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let spec = pod.spec.as_ref()?;
            let protocol = protocol_or_tcp(port.protocol.as_deref());
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && protocol_or_tcp(p.protocol.as_deref()) == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// Whether `ip` is an IPv6 address.
pub(crate) fn is_ipv6(ip: &str) -> bool {
    matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V6(_)))
}

/// The pod IP of the given family (`podToEndpointAddressForService` picks one per Service).
pub(crate) fn pod_ip_of_family(pod: &Pod, ipv6: bool) -> Option<&str> {
    pod_ips(pod).into_iter().find(|ip| is_ipv6(ip) == ipv6)
}

/// The family the Endpoints controller serves for a Service: its first ipFamily; else its
/// ClusterIP's; for a headless Service without families, the pod's own.
pub(crate) fn service_wants_ipv6(service: &Service, pod: &Pod) -> bool {
    let spec = service.spec.as_ref();
    if let Some(first) = spec.and_then(|s| s.ip_families.as_ref()).and_then(|f| f.first()) {
        return first == "IPv6";
    }
    match spec.and_then(|s| s.cluster_ip.as_deref()) {
        Some(ip) if !ip.is_empty() && ip != "None" => is_ipv6(ip),
        _ => pod_ips(pod).first().is_some_and(|ip| is_ipv6(ip)),
    }
}

/// A Service's map selector matches the labels (an empty selector matches nothing here:
/// callers have already skipped selector-less Services).
pub(crate) fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The Service's selector, when it has one (Services without selectors are left alone).
pub(crate) fn service_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service.spec.as_ref().and_then(|s| s.selector.as_ref())
}

/// `IsServiceIPSet`: a ClusterIP other than None.
pub(crate) fn is_service_ip_set(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for pods and Services used by the endpoints and endpointslice tables.
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub(crate) fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some("http".into()),
                        container_port: 8080,
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: (!ip.is_empty()).then(|| ip.to_string()),
                pod_ips: (!ip.is_empty()).then(|| vec![PodIP { ip: ip.into() }]),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    pub(crate) fn service(name: &str, ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([("app".into(), "web".into())])),
                cluster_ip: Some("10.96.0.10".into()),
                ports: Some(ports),
                ..Default::default()
            }),
            status: None,
        }
    }

    pub(crate) fn port(name: &str, port: i32, target: IntOrString) -> ServicePort {
        ServicePort {
            name: Some(name.into()),
            port,
            protocol: Some("TCP".into()),
            target_port: Some(target),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn membership_rules() {
        let ready = pod("a", "10.0.0.1", true);
        assert!(should_pod_be_in_endpoints(&ready, false));
        let no_ip = pod("b", "", true);
        assert!(!should_pod_be_in_endpoints(&no_ip, true));
        let mut done = pod("c", "10.0.0.3", false);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!should_pod_be_in_endpoints(&done, true));
        let mut terminating = pod("d", "10.0.0.4", true);
        terminating.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert!(!should_pod_be_in_endpoints(&terminating, false));
        assert!(should_pod_be_in_endpoints(&terminating, true));
    }

    #[test]
    fn find_port_resolves_names_per_pod() {
        let p = pod("a", "10.0.0.1", true);
        let cases = [
            (port("x", 80, IntOrString::Int(9090)), Some(9090)),
            (port("x", 80, IntOrString::String("http".into())), Some(8080)),
            (port("x", 80, IntOrString::String("grpc".into())), None),
        ];
        for (sp, want) in cases {
            assert_eq!(find_port(&p, &sp), want, "{sp:?}");
        }
        let mut udp = port("x", 80, IntOrString::String("http".into()));
        udp.protocol = Some("UDP".into());
        assert_eq!(find_port(&p, &udp), None, "protocol must match");
        let mut untargeted = port("x", 81, IntOrString::Int(0));
        untargeted.target_port = None;
        assert_eq!(find_port(&p, &untargeted), Some(81));
    }

    #[test]
    fn hostname_needs_matching_subdomain() {
        let svc = service("web", vec![]);
        let mut p = pod("a", "10.0.0.1", true);
        p.spec.as_mut().unwrap().hostname = Some("a".into());
        assert!(!should_set_hostname(&p, &svc));
        p.spec.as_mut().unwrap().subdomain = Some("web".into());
        assert!(should_set_hostname(&p, &svc));
        p.spec.as_mut().unwrap().subdomain = Some("other".into());
        assert!(!should_set_hostname(&p, &svc));
    }

    #[test]
    fn family_selection() {
        let mut svc = service("web", vec![]);
        let mut p = pod("a", "10.0.0.1", true);
        p.status.as_mut().unwrap().pod_ips = Some(vec![
            k8s_openapi::api::core::v1::PodIP {
                ip: "10.0.0.1".into(),
            },
            k8s_openapi::api::core::v1::PodIP { ip: "fd00::1".into() },
        ]);
        assert!(!service_wants_ipv6(&svc, &p));
        svc.spec.as_mut().unwrap().ip_families = Some(vec!["IPv6".into()]);
        assert!(service_wants_ipv6(&svc, &p));
        assert_eq!(pod_ip_of_family(&p, true), Some("fd00::1"));
        assert_eq!(pod_ip_of_family(&p, false), Some("10.0.0.1"));
    }
}
