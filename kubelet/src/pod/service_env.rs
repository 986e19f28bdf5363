//! Kubernetes service environment variables for containers.

use k8s_openapi::api::core::v1::Service;

/// Docker-link style variables of services with a cluster IP, as upstream's
/// envvars.FromServices: FOO_SERVICE_HOST, FOO_SERVICE_PORT[_NAME], FOO_PORT, FOO_PORT_80_TCP...
pub fn service_env(services: &[Service]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut sorted: Vec<&Service> = services.iter().collect();
    sorted.sort_by_key(|s| s.metadata.name.clone());
    for s in sorted {
        let Some(spec) = &s.spec else { continue };
        let Some(ip) = spec
            .cluster_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        else {
            continue;
        };
        let ports = spec.ports.clone().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let name = s
            .metadata
            .name
            .clone()
            .unwrap_or_default()
            .to_uppercase()
            .replace('-', "_");
        out.push((format!("{name}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        for p in &ports {
            if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((
                    format!("{name}_SERVICE_PORT_{}", pn.to_uppercase().replace('-', "_")),
                    p.port.to_string(),
                ));
            }
        }
        let proto =
            |p: &k8s_openapi::api::core::v1::ServicePort| p.protocol.clone().unwrap_or_else(|| "TCP".into());
        out.push((
            format!("{name}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), first.port),
        ));
        for p in &ports {
            let pr = proto(p);
            let prefix = format!("{name}_PORT_{}_{}", p.port, pr.to_uppercase());
            out.push((prefix.clone(), format!("{}://{ip}:{}", pr.to_lowercase(), p.port)));
            out.push((format!("{prefix}_PROTO"), pr.to_lowercase()));
            out.push((format!("{prefix}_PORT"), p.port.to_string()));
            out.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    out
}
