//! `pods/{name}/proxy` and `services/{name}/proxy`: any request passed on to a pod's IP, or to
//! a ready endpoint of a service, as upstream's `ProxyREST` with the pod and service
//! `ResourceLocation`s (pkg/registry/core/pod/strategy.go, service/storage/storage.go).
//! The id is `name`, `name:port` or `scheme:name:port`; method, path and query pass through.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rudder_api::status::ApiError;

/// Upstream's `SplitSchemeNamePort` (the port may be a name here; services use names).
pub(crate) fn split_id(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    if name.is_empty() || !matches!(scheme, "" | "http" | "https") {
        return None;
    }
    Some((scheme, name, port))
}

/// Where a proxied request goes: host, port and whether to use TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
    pub(crate) tls: bool,
}

/// Upstream only proxies to a pod IP that is global unicast (no loopback, link-local,
/// multicast or unspecified address), so the apiserver cannot be turned on itself.
fn global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The pod's address for `scheme`/`port` (the first declared container port when none is
/// given, 80 or 443 when the pod declares none).
pub(crate) fn pod_target(pod: &Pod, scheme: &str, port: &str) -> Result<Target, ApiError> {
    let declared = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find_map(|c| c.ports.as_ref()?.first()))
        .map(|p| p.container_port);
    let ip: IpAddr = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok())
        .filter(|ip| global_unicast(*ip))
        .ok_or_else(|| ApiError::bad_request("address not allowed"))?;
    let tls = scheme == "https";
    let port = match port {
        "" => match declared {
            Some(p) => u16::try_from(p).map_err(|_| ApiError::bad_request(format!("invalid port {p}")))?,
            None if tls => 443,
            None => 80,
        },
        p => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ApiError::bad_request(format!("invalid port {p:?}")))?,
    };
    Ok(Target { ip, port, tls })
}

/// The service port's name for `port` (a number is looked up among the service's ports; a
/// name or nothing is used as is), as upstream does before looking at endpoints.
pub(crate) fn service_port_name(service: &Service, name: &str, port: &str) -> Result<String, ApiError> {
    let Ok(number) = port.parse::<i32>() else {
        return Ok(port.to_string());
    };
    service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| p.port == number))
        .map(|p| p.name.clone().unwrap_or_default())
        .ok_or_else(|| {
            ApiError::service_unavailable(format!("no service port {number} found for service {name:?}"))
        })
}

/// A ready endpoint of the service's slices serving the port named `port_name`, whose
/// address belongs to the pod it names (`pod_ips` looks the pod's IPs up). The first usable
/// one in slice order; upstream picks at random among them.
pub(crate) fn service_target(
    slices: &[EndpointSlice],
    port_name: &str,
    scheme: &str,
    pod_ips: impl Fn(&str, &str) -> Vec<String>,
) -> Option<Target> {
    for slice in slices {
        let Some(port) = slice
            .ports
            .as_ref()
            .and_then(|ps| ps.iter().find(|p| p.name.as_deref().unwrap_or("") == port_name))
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for ep in &slice.endpoints {
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            // Only addresses that really are a pod's (upstream's `isValidAddress`).
            let Some(target) = ep
                .target_ref
                .as_ref()
                .filter(|t| t.kind.as_deref() == Some("Pod"))
            else {
                continue;
            };
            let ips = pod_ips(
                target.namespace.as_deref().unwrap_or_default(),
                target.name.as_deref().unwrap_or_default(),
            );
            for address in &ep.addresses {
                if !ips.iter().any(|ip| ip == address) {
                    continue;
                }
                if let Ok(ip) = address.parse::<IpAddr>() {
                    return Some(Target {
                        ip,
                        port,
                        tls: scheme == "https",
                    });
                }
            }
        }
    }
    None
}

/// A pod's IPs (`status.podIPs`, or `status.podIP`).
pub(crate) fn pod_ips(pod: &Pod) -> Vec<String> {
    let status = pod.status.as_ref();
    let mut ips: Vec<String> = status
        .and_then(|s| s.pod_ips.as_ref())
        .map(|ips| ips.iter().map(|i| i.ip.clone()).collect())
        .unwrap_or_default();
    if let Some(ip) = status.and_then(|s| s.pod_ip.clone())
        && !ips.contains(&ip)
    {
        ips.push(ip);
    }
    ips
}

/// `/api/v1/namespaces/<ns>/<resource>/<id>/proxy[/<rest>]` → (id, rest).
pub(crate) fn split_proxy_path<'a>(path: &'a str, resource: &str) -> Option<(&'a str, &'a str)> {
    let after = path.strip_prefix("/api/v1/namespaces/")?;
    let (_, after) = after.split_once('/')?;
    let after = after.strip_prefix(resource)?.strip_prefix('/')?;
    let (id, tail) = after.split_once('/')?;
    let rest = tail.strip_prefix("proxy")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some((id, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ids_and_paths() {
        assert_eq!(split_id("web"), Some(("", "web", "")));
        assert_eq!(split_id("web:http"), Some(("", "web", "http")));
        assert_eq!(split_id("https:web:443"), Some(("https", "web", "443")));
        assert_eq!(split_id("ftp:web:21"), None);
        assert_eq!(split_id(":80"), None);
        assert_eq!(split_id("a:b:c:d"), None);
        assert_eq!(
            split_proxy_path("/api/v1/namespaces/ns/pods/web:8080/proxy/a/b", "pods"),
            Some(("web:8080", "/a/b"))
        );
        assert_eq!(
            split_proxy_path("/api/v1/namespaces/ns/services/s/proxy", "services"),
            Some(("s", ""))
        );
        assert_eq!(
            split_proxy_path("/api/v1/namespaces/ns/pods/s/proxyx", "pods"),
            None
        );
    }

    #[test]
    fn pod_targets_as_upstream() {
        let p = pod(json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b", "ports": [{"containerPort": 8080}, {"containerPort": 9090}]}]},
            "status": {"podIP": "10.1.2.3"}}));
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            pod_target(&p, "", "").unwrap(),
            Target {
                ip,
                port: 8080,
                tls: false
            }
        );
        assert_eq!(
            pod_target(&p, "https", "8443").unwrap(),
            Target {
                ip,
                port: 8443,
                tls: true
            }
        );
        assert_eq!(pod_target(&p, "", "x").unwrap_err().code(), 400);
        let bare = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"podIP": "10.1.2.3"}}),
        );
        assert_eq!(pod_target(&bare, "", "").unwrap().port, 80);
        for bad in ["127.0.0.1", "169.254.1.1", "::1", "fe80::1", "0.0.0.0"] {
            let p =
                pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}, "status": {"podIP": bad}}));
            let err = pod_target(&p, "", "80").unwrap_err();
            assert_eq!((err.code(), err.message()), (400, "address not allowed"), "{bad}");
        }
        let unscheduled = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}));
        assert_eq!(pod_target(&unscheduled, "", "").unwrap_err().code(), 400);
    }

    #[test]
    fn service_ports_and_endpoints() {
        let svc: Service = serde_json::from_value(json!({"metadata": {"name": "s"},
            "spec": {"ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9000}]}}))
        .unwrap();
        assert_eq!(service_port_name(&svc, "s", "80").unwrap(), "http");
        assert_eq!(service_port_name(&svc, "s", "metrics").unwrap(), "metrics");
        assert_eq!(service_port_name(&svc, "s", "").unwrap(), "");
        let err = service_port_name(&svc, "s", "81").unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (503, "no service port 81 found for service \"s\"")
        );

        let slices: Vec<EndpointSlice> = serde_json::from_value(json!([
            {"metadata": {"name": "a"}, "addressType": "IPv4",
             "ports": [{"name": "http", "port": 8080}],
             "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": false}, "targetRef": {"kind": "Pod", "name": "p1", "namespace": "ns"}},
                {"addresses": ["10.0.0.9"], "targetRef": {"kind": "Pod", "name": "p2", "namespace": "ns"}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "name": "p2", "namespace": "ns"}}
             ]},
        ]))
        .unwrap();
        let ips = |_: &str, name: &str| match name {
            "p1" => vec!["10.0.0.1".to_string()],
            "p2" => vec!["10.0.0.2".to_string()],
            _ => vec![],
        };
        // Not ready skipped, an address that is not the pod's skipped.
        assert_eq!(
            service_target(&slices, "http", "", ips),
            Some(Target {
                ip: "10.0.0.2".parse().unwrap(),
                port: 8080,
                tls: false
            })
        );
        assert_eq!(service_target(&slices, "metrics", "", ips), None);
        assert_eq!(
            service_target(&slices, "http", "", |_: &str, _: &str| vec![]),
            None
        );
    }
}
