//! Container environment: envFrom, env with configMap/secret refs, fieldRef, resourceFieldRef,
//! and $(VAR) expansion, in upstream's order. Pure over pre-fetched configMaps and secrets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret, Service,
};

use crate::node::NodeFacts;
use crate::quantity;

/// The configMaps and secrets a pod refers to, fetched (None: does not exist).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub config_maps: HashMap<String, Option<ConfigMap>>,
    pub secrets: HashMap<String, Option<Secret>>,
    /// Services whose environment variables the pod gets (its namespace's when
    /// enableServiceLinks, and default/kubernetes).
    pub services: Vec<Service>,
    /// persistentVolumeClaim name → the host path of its bound hostPath/local volume, or why not.
    pub claims: HashMap<String, Result<std::path::PathBuf, String>>,
}

impl Sources {
    pub fn config_map_data(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let cm = self.config_maps.get(name)?.as_ref()?;
        let mut out: BTreeMap<String, Vec<u8>> = cm
            .data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        for (k, v) in cm.binary_data.clone().unwrap_or_default() {
            out.insert(k, v.0);
        }
        Some(out)
    }
    pub fn secret_data(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let s = self.secrets.get(name)?.as_ref()?;
        let mut out: BTreeMap<String, Vec<u8>> = s
            .data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        for (k, v) in s.string_data.clone().unwrap_or_default() {
            out.insert(k, v.into_bytes());
        }
        Some(out)
    }
}

/// Names of the configMaps and secrets the pod's env and volumes refer to.
pub fn referenced(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cms = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let Some(spec) = &pod.spec else {
        return (cms, secrets);
    };
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        for e in c.env.iter().flatten() {
            if let Some(v) = &e.value_from {
                if let Some(r) = &v.config_map_key_ref {
                    cms.insert(r.name.clone());
                }
                if let Some(r) = &v.secret_key_ref {
                    secrets.insert(r.name.clone());
                }
            }
        }
        for f in c.env_from.iter().flatten() {
            if let Some(r) = &f.config_map_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &f.secret_ref {
                secrets.insert(r.name.clone());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            cms.insert(cm.name.clone());
        }
        if let Some(s) = &v.secret {
            secrets.extend(s.secret_name.clone());
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                cms.insert(cm.name.clone());
            }
            if let Some(s) = &src.secret {
                secrets.insert(s.name.clone());
            }
        }
    }
    (cms, secrets)
}

/// Resolves `metadata.name`, `status.podIP`, `metadata.labels['x']`, ...
pub fn field_ref(
    pod: &Pod,
    sel: &ObjectFieldSelector,
    host_ip: &str,
    pod_ip: &str,
) -> Result<String, String> {
    let m = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let path = sel.field_path.as_str();
    let map_key = |prefix: &str| -> Option<String> {
        path.strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")
            .map(str::to_string)
    };
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.node_name.unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => host_ip.into(),
        "status.podIP" | "status.podIPs" => pod_ip.into(),
        "metadata.labels" | "metadata.annotations" => {
            let map = if path == "metadata.labels" {
                m.labels.clone()
            } else {
                m.annotations.clone()
            };
            map.unwrap_or_default()
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => {
            if let Some(k) = map_key("metadata.labels") {
                m.labels
                    .clone()
                    .unwrap_or_default()
                    .get(&k)
                    .cloned()
                    .unwrap_or_default()
            } else if let Some(k) = map_key("metadata.annotations") {
                m.annotations
                    .clone()
                    .unwrap_or_default()
                    .get(&k)
                    .cloned()
                    .unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldPath {path:?}"));
            }
        }
    })
}

/// limits.cpu, requests.memory, ... of a container, divided by the divisor and rounded up;
/// an unset limit is the node's allocatable.
pub fn resource_field_ref(
    c: &Container,
    sel: &ResourceFieldSelector,
    node: &NodeFacts,
) -> Result<String, String> {
    let (kind, res) = sel
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource {:?}", sel.resource))?;
    let r = c.resources.clone().unwrap_or_default();
    let get = |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
        m.as_ref()
            .and_then(|m| m.get(res))
            .and_then(|q| quantity::parse(&q.0))
    };
    let value = match kind {
        "limits" => get(&r.limits),
        "requests" => get(&r.requests).or_else(|| get(&r.limits)),
        _ => return Err(format!("unsupported resource {:?}", sel.resource)),
    };
    let value = value.unwrap_or(match (kind, res) {
        ("limits", "cpu") => node.allocatable_cpu_milli as f64 / 1000.0,
        ("limits", "memory") => node.allocatable_memory as f64,
        _ => 0.0,
    });
    let divisor = sel
        .divisor
        .as_ref()
        .and_then(|d| quantity::parse(&d.0))
        .filter(|d| *d > 0.0)
        .unwrap_or(1.0);
    Ok(((value / divisor).ceil() as i64)
        .max(if res == "cpu" && value > 0.0 { 1 } else { 0 })
        .to_string())
}

/// `$(VAR)` → its value when defined, `$$` → `$`, anything else kept (upstream's expansion).
pub fn expand(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

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

/// The container's environment, in order. Err is a CreateContainerConfigError message.
pub fn environment(
    pod: &Pod,
    c: &Container,
    src: &Sources,
    node: &NodeFacts,
    pod_ip: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut order: Vec<String> = Vec::new();
    let mut vars: HashMap<String, String> = HashMap::new();
    let set = |k: String, v: String, order: &mut Vec<String>, vars: &mut HashMap<String, String>| {
        if !vars.contains_key(&k) {
            order.push(k.clone());
        }
        vars.insert(k, v);
    };
    for f in c.env_from.iter().flatten() {
        let prefix = f.prefix.clone().unwrap_or_default();
        let (data, optional, what, name) = if let Some(r) = &f.config_map_ref {
            (
                src.config_map_data(&r.name),
                r.optional.unwrap_or(false),
                "configmap",
                r.name.clone(),
            )
        } else if let Some(r) = &f.secret_ref {
            (
                src.secret_data(&r.name),
                r.optional.unwrap_or(false),
                "secret",
                r.name.clone(),
            )
        } else {
            continue;
        };
        match data {
            Some(d) => {
                for (k, v) in d {
                    set(
                        format!("{prefix}{k}"),
                        String::from_utf8_lossy(&v).into_owned(),
                        &mut order,
                        &mut vars,
                    );
                }
            }
            None if optional => {}
            None => return Err(format!("{what} \"{name}\" not found")),
        }
    }
    let services: HashMap<String, String> = service_env(&src.services).into_iter().collect();
    for e in c.env.iter().flatten() {
        let value = match &e.value_from {
            None => {
                let mut scope = services.clone();
                scope.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                expand(e.value.as_deref().unwrap_or(""), &scope)
            }
            Some(from) => {
                if let Some(r) = &from.config_map_key_ref {
                    match src.config_map_data(&r.name).map(|d| d.get(&r.key).cloned()) {
                        Some(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
                        _ if r.optional.unwrap_or(false) => continue,
                        Some(None) => {
                            return Err(format!(
                                "couldn't find key {} in ConfigMap {}/{}",
                                r.key,
                                pod.metadata.namespace.as_deref().unwrap_or(""),
                                r.name
                            ));
                        }
                        None => return Err(format!("configmap \"{}\" not found", r.name)),
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    match src.secret_data(&r.name).map(|d| d.get(&r.key).cloned()) {
                        Some(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
                        _ if r.optional.unwrap_or(false) => continue,
                        Some(None) => {
                            return Err(format!(
                                "couldn't find key {} in Secret {}/{}",
                                r.key,
                                pod.metadata.namespace.as_deref().unwrap_or(""),
                                r.name
                            ));
                        }
                        None => return Err(format!("secret \"{}\" not found", r.name)),
                    }
                } else if let Some(f) = &from.field_ref {
                    field_ref(pod, f, &node.ip.to_string(), pod_ip)?
                } else if let Some(r) = &from.resource_field_ref {
                    resource_field_ref(c, r, node)?
                } else {
                    continue;
                }
            }
        };
        set(e.name.clone(), value, &mut order, &mut vars);
    }
    let mut service_vars = service_env(&src.services);
    service_vars.retain(|(k, _)| !vars.contains_key(k));
    for (k, v) in service_vars {
        set(k, v, &mut order, &mut vars);
    }
    Ok(order
        .into_iter()
        .map(|k| {
            let v = vars.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource, ResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn node() -> NodeFacts {
        NodeFacts {
            name: "n".into(),
            ip: "10.0.0.1".parse().unwrap(),
            allocatable_cpu_milli: 2000,
            allocatable_memory: 1 << 30,
        }
    }

    #[test]
    fn expansion() {
        let vars = HashMap::from([("A".to_string(), "x".to_string())]);
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }

    #[test]
    fn env_in_upstream_order() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let c = Container {
            name: "c".into(),
            env_from: Some(vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "cm".into(),
                    optional: None,
                }),
                prefix: Some("CM_".into()),
                secret_ref: None,
            }]),
            env: Some(vec![
                EnvVar {
                    name: "LIT".into(),
                    value: Some("v-$(CM_k)".into()),
                    value_from: None,
                },
                EnvVar {
                    name: "KEY".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        config_map_key_ref: Some(ConfigMapKeySelector {
                            name: "cm".into(),
                            key: "k".into(),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                },
                EnvVar {
                    name: "NAME".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "metadata.name".into(),
                            api_version: None,
                        }),
                        ..Default::default()
                    }),
                },
                EnvVar {
                    name: "APP".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "metadata.labels['app']".into(),
                            api_version: None,
                        }),
                        ..Default::default()
                    }),
                },
                EnvVar {
                    name: "IP".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "status.podIP".into(),
                            api_version: None,
                        }),
                        ..Default::default()
                    }),
                },
                EnvVar {
                    name: "MEM".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        resource_field_ref: Some(ResourceFieldSelector {
                            resource: "limits.memory".into(),
                            divisor: Some(Quantity("1Mi".into())),
                            container_name: None,
                        }),
                        ..Default::default()
                    }),
                },
                EnvVar {
                    name: "CPU".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        resource_field_ref: Some(ResourceFieldSelector {
                            resource: "requests.cpu".into(),
                            divisor: Some(Quantity("1m".into())),
                            container_name: None,
                        }),
                        ..Default::default()
                    }),
                },
            ]),
            resources: Some(ResourceRequirements {
                requests: Some([("cpu".to_string(), Quantity("250m".into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cm = ConfigMap {
            data: Some([("k".to_string(), "val".to_string())].into()),
            ..Default::default()
        };
        let svc: Service = serde_json::from_value(serde_json::json!({"metadata": {"name": "my-svc"},
            "spec": {"clusterIP": "10.96.0.7", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}))
        .unwrap();
        let src = Sources {
            config_maps: HashMap::from([("cm".to_string(), Some(cm))]),
            secrets: HashMap::new(),
            services: vec![svc],
            claims: HashMap::new(),
        };
        let env = environment(&pod, &c, &src, &node(), "10.1.1.1").unwrap();
        let got: HashMap<_, _> = env.iter().cloned().collect();
        assert_eq!(env[0].0, "CM_k");
        assert_eq!(got["LIT"], "v-val");
        assert_eq!(got["KEY"], "val");
        assert_eq!(got["NAME"], "p");
        assert_eq!(got["APP"], "web");
        assert_eq!(got["IP"], "10.1.1.1");
        assert_eq!(got["MEM"], "1024", "limit defaults to node allocatable");
        assert_eq!(got["CPU"], "250");
        assert_eq!(got["MY_SVC_SERVICE_HOST"], "10.96.0.7");
        assert_eq!(got["MY_SVC_SERVICE_PORT_HTTP"], "80");
        assert_eq!(got["MY_SVC_PORT"], "tcp://10.96.0.7:80");
        assert_eq!(got["MY_SVC_PORT_80_TCP_ADDR"], "10.96.0.7");

        let missing = Sources::default();
        let err = environment(&pod, &c, &missing, &node(), "").unwrap_err();
        assert_eq!(err, "configmap \"cm\" not found");
    }
}
