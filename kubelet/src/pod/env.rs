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
    /// Service account tokens of serviceAccountToken projections, by `token::key`.
    pub tokens: HashMap<String, super::token::Token>,
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
pub use super::service_env::service_env;

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
#[path = "env_tests.rs"]
mod tests;
