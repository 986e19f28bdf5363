//! The core (`""`) group, apart from pods (`pod.rs`) and events (`event.rs`).

use serde_json::Value;

use super::util::{
    CONTAINERS_DESC, IMAGES_DESC, NONE, age, age_col, arr_at, bool_at, cells, col, format_labels, get,
    int_at, layout_containers, len_at, name, name_col, opt_int, opt_str, str_at, wide,
};
use super::{ColumnDefinition, Printer, core_volumes, event, pod};

pub(super) fn lookup(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Pod" => Printer::new(pod::columns, pod::row),
        "Event" => event::CORE,
        "PodTemplate" => Printer::new(pod_template_columns, pod_template_row),
        "ReplicationController" => Printer::new(rc_columns, rc_row),
        "Service" => Printer::new(service_columns, service_row),
        "Endpoints" => Printer::new(endpoints_columns, endpoints_row),
        "Node" => Printer::new(node_columns, node_row),
        "Namespace" => Printer::new(namespace_columns, namespace_row),
        "Secret" => Printer::new(secret_columns, secret_row),
        "ServiceAccount" => Printer::new(service_account_columns, service_account_row),
        "ConfigMap" => Printer::new(config_map_columns, config_map_row),
        "PersistentVolume" => Printer::new(core_volumes::pv_columns, core_volumes::pv_row),
        "PersistentVolumeClaim" => Printer::new(core_volumes::pvc_columns, core_volumes::pvc_row),
        "ResourceQuota" => Printer::new(core_volumes::quota_columns, core_volumes::quota_row),
        "ComponentStatus" => Printer::new(component_status_columns, component_status_row),
        "Status" => Printer::new(status_columns, status_row),
        // LimitRange has no printer upstream: the default convertor applies.
        _ => return None,
    })
}

fn pod_template_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Containers", "string", CONTAINERS_DESC),
        col("Images", "string", IMAGES_DESC),
        col("Pod Labels", "string", "The labels for the pod template."),
    ]
}

fn pod_template_row(obj: &Value, _now: i64) -> Vec<Value> {
    let (names, images) = layout_containers(arr_at(obj, &["template", "spec", "containers"]));
    let labels = format_labels(get(obj, &["template", "metadata", "labels"]));
    cells![name(obj), names, images, labels]
}

fn rc_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas.",
        ),
        col(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas.",
        ),
        col(
            "Ready",
            "integer",
            "The number of ready replicas for this replication controller.",
        ),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
        wide(
            "Selector",
            "string",
            "Selector is a label query over pods that should match the Replicas count.",
        ),
    ]
}

fn rc_row(obj: &Value, now: i64) -> Vec<Value> {
    // spec.replicas defaults to 1.
    let desired = opt_int(obj, &["spec", "replicas"]).unwrap_or(1);
    let (names, images) = layout_containers(arr_at(obj, &["spec", "template", "spec", "containers"]));
    cells![
        name(obj),
        desired,
        int_at(obj, &["status", "replicas"]),
        int_at(obj, &["status", "readyReplicas"]),
        age(obj, now),
        names,
        images,
        format_labels(get(obj, &["spec", "selector"])),
    ]
}

fn service_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Type", "string", "type determines how the Service is exposed."),
        col(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service and is usually assigned randomly.",
        ),
        col(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
        ),
        col(
            "Port(s)",
            "string",
            "The list of ports that are exposed by this service.",
        ),
        age_col(),
        wide(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector.",
        ),
    ]
}

fn strings(v: &[Value]) -> Vec<&str> {
    v.iter().filter_map(Value::as_str).collect()
}

fn service_external_ip(obj: &Value, ty: &str) -> String {
    let external = strings(arr_at(obj, &["spec", "externalIPs"]));
    match ty {
        "ClusterIP" | "NodePort" if external.is_empty() => NONE.to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let lb = super::util::load_balancer_ingress(obj);
            if !external.is_empty() {
                let mut all: Vec<&str> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').collect()
                };
                all.extend(external);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(obj, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

fn service_ports(obj: &Value) -> String {
    let pieces: Vec<String> = arr_at(obj, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let proto = opt_str(p, &["protocol"]).unwrap_or("TCP");
            match int_at(p, &["nodePort"]) {
                np if np > 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    if pieces.is_empty() {
        NONE.to_string()
    } else {
        pieces.join(",")
    }
}

fn service_row(obj: &Value, now: i64) -> Vec<Value> {
    // spec.type defaults to ClusterIP.
    let ty = opt_str(obj, &["spec", "type"]).unwrap_or("ClusterIP");
    let mut cluster_ip = str_at(obj, &["spec", "clusterIP"]);
    if cluster_ip.is_empty() {
        cluster_ip = arr_at(obj, &["spec", "clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .unwrap_or("");
    }
    let cluster_ip = if cluster_ip.is_empty() { NONE } else { cluster_ip };
    cells![
        name(obj),
        ty,
        cluster_ip,
        service_external_ip(obj, ty),
        service_ports(obj),
        age(obj, now),
        format_labels(get(obj, &["spec", "selector"])),
    ]
}

fn endpoints_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Endpoints",
            "string",
            "The set of all endpoints is the union of all subsets.",
        ),
        age_col(),
    ]
}

fn join_host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Upstream `formatEndpoints` with all ports.
fn format_endpoints(obj: &Value) -> String {
    let subsets = arr_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return NONE.to_string();
    }
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::<String>::new(), false, 0usize);
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), int_at(p, &["port"])));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(MAX))
    } else {
        ret
    }
}

fn endpoints_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), format_endpoints(obj), age(obj, now)]
}

fn node_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Status", "string", "The status of the node"),
        col("Roles", "string", "The roles of the node"),
        age_col(),
        col("Version", "string", "Kubelet Version reported by the node."),
        wide(
            "Internal-IP",
            "string",
            "List of addresses reachable to the node.",
        ),
        wide(
            "External-IP",
            "string",
            "List of addresses reachable to the node.",
        ),
        wide(
            "OS-Image",
            "string",
            "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        ),
        wide(
            "Kernel-Version",
            "string",
            "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        ),
        wide(
            "Container-Runtime",
            "string",
            "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
        ),
    ]
}

fn node_address(obj: &Value, ty: &str) -> String {
    arr_at(obj, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == ty)
        .map_or_else(|| NONE.to_string(), |a| str_at(a, &["address"]).to_string())
}

fn node_roles(obj: &Value) -> String {
    let mut roles: Vec<&str> = Vec::new();
    if let Some(labels) = get(obj, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role);
                }
            } else if let Some(v) = v.as_str().filter(|v| k == "kubernetes.io/role" && !v.is_empty()) {
                roles.push(v);
            }
        }
    }
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        NONE.to_string()
    } else {
        roles.join(",")
    }
}

fn node_row(obj: &Value, now: i64) -> Vec<Value> {
    // The last Ready condition wins (upstream builds a map keyed by type).
    let ready = arr_at(obj, &["status", "conditions"])
        .iter()
        .rfind(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(obj, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let info = |field: &str| {
        let s = str_at(obj, &["status", "nodeInfo", field]);
        if s.is_empty() {
            "<unknown>".to_string()
        } else {
            s.to_string()
        }
    };
    cells![
        name(obj),
        status.join(","),
        node_roles(obj),
        age(obj, now),
        str_at(obj, &["status", "nodeInfo", "kubeletVersion"]),
        node_address(obj, "InternalIP"),
        node_address(obj, "ExternalIP"),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
}

fn namespace_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Status", "string", "The status of the namespace"),
        age_col(),
    ]
}

fn namespace_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), str_at(obj, &["status", "phase"]), age(obj, now)]
}

fn secret_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data.",
        ),
        col("Data", "string", "Data contains the secret data."),
        age_col(),
    ]
}

fn secret_row(obj: &Value, now: i64) -> Vec<Value> {
    let ty = opt_str(obj, &["type"]).unwrap_or("Opaque");
    cells![name(obj), ty, len_at(obj, &["data"]) as i64, age(obj, now)]
}

fn service_account_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Secrets",
            "string",
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
        ),
        age_col(),
    ]
}

fn service_account_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), len_at(obj, &["secrets"]) as i64, age(obj, now)]
}

fn config_map_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Data", "string", "Data contains the configuration data."),
        age_col(),
    ]
}

fn config_map_row(obj: &Value, now: i64) -> Vec<Value> {
    let n = len_at(obj, &["data"]) + len_at(obj, &["binaryData"]);
    cells![name(obj), n as i64, age(obj, now)]
}

fn component_status_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Status", "string", "Status of the component conditions"),
        col("Message", "string", "Message of the component conditions"),
        col("Error", "string", "Error of the component conditions"),
    ]
}

fn component_status_row(obj: &Value, _now: i64) -> Vec<Value> {
    let healthy = arr_at(obj, &["conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (
            if str_at(c, &["status"]) == "True" {
                "Healthy"
            } else {
                "Unhealthy"
            },
            str_at(c, &["message"]),
            str_at(c, &["error"]),
        ),
        None => ("Unknown", "", ""),
    };
    cells![name(obj), status, message, error]
}

fn status_columns() -> Vec<ColumnDefinition> {
    vec![
        col(
            "Status",
            "string",
            "Status of the operation. One of: \"Success\" or \"Failure\".",
        ),
        col(
            "Reason",
            "string",
            "A machine-readable description of why this operation is in the \"Failure\" status.",
        ),
        col(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
        ),
    ]
}

fn status_row(obj: &Value, _now: i64) -> Vec<Value> {
    cells![
        str_at(obj, &["status"]),
        str_at(obj, &["reason"]),
        str_at(obj, &["message"])
    ]
}
