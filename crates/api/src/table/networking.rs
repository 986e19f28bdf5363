//! `networking.k8s.io` and `discovery.k8s.io`.

use serde_json::Value;

use super::util::{
    NONE, age, age_col, arr_at, cells, col, format_label_selector, get, list_with_more,
    load_balancer_ingress, name, name_col, opt_int, opt_str, present, str_at,
};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(group: &str, kind: &str) -> Option<Printer> {
    Some(match (group, kind) {
        ("networking.k8s.io", "Ingress") => Printer::new(ingress_columns, ingress_row),
        ("networking.k8s.io", "IngressClass") => Printer::new(ingress_class_columns, ingress_class_row),
        ("networking.k8s.io", "NetworkPolicy") => Printer::new(network_policy_columns, network_policy_row),
        ("networking.k8s.io", "ServiceCIDR") => Printer::new(service_cidr_columns, service_cidr_row),
        ("networking.k8s.io", "IPAddress") => Printer::new(ip_address_columns, ip_address_row),
        ("discovery.k8s.io", "EndpointSlice") => Printer::new(endpoint_slice_columns, endpoint_slice_row),
        _ => return None,
    })
}

fn ingress_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        col(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule",
        ),
        col(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer",
        ),
        col("Ports", "string", "Ports of TLS configurations that open"),
        age_col(),
    ]
}

/// Upstream `formatHosts`.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", rules.len().saturating_sub(MAX));
    }
    ret
}

fn ingress_row(obj: &Value, now: i64) -> Vec<Value> {
    let ports = if arr_at(obj, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    cells![
        name(obj),
        opt_str(obj, &["spec", "ingressClassName"]).unwrap_or(NONE),
        format_hosts(arr_at(obj, &["spec", "rules"])),
        load_balancer_ingress(obj),
        ports,
        age(obj, now),
    ]
}

fn ingress_class_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Controller",
            "string",
            "Controller that is responsible for handling this class",
        ),
        col(
            "Parameters",
            "string",
            "A reference to a resource with additional parameters",
        ),
        age_col(),
    ]
}

fn ingress_class_row(obj: &Value, now: i64) -> Vec<Value> {
    let parameters = match present(obj, &["spec", "parameters"]) {
        None => NONE.to_string(),
        Some(p) => {
            let mut s = str_at(p, &["kind"]).to_string();
            if let Some(g) = opt_str(p, &["apiGroup"]) {
                s = format!("{s}.{g}");
            }
            format!("{s}/{}", str_at(p, &["name"]))
        }
    };
    cells![
        name(obj),
        str_at(obj, &["spec", "controller"]),
        parameters,
        age(obj, now)
    ]
}

fn network_policy_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Pod-Selector",
            "string",
            "Selects the pods to which this NetworkPolicy object applies.",
        ),
        age_col(),
    ]
}

fn network_policy_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        format_label_selector(get(obj, &["spec", "podSelector"])),
        age(obj, now)
    ]
}

fn service_cidr_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "CIDRs",
            "string",
            "CIDRs defines the IP blocks in CIDR notation from which to assign service cluster IPs.",
        ),
        age_col(),
    ]
}

fn service_cidr_row(obj: &Value, now: i64) -> Vec<Value> {
    let cidrs: Vec<&str> = arr_at(obj, &["spec", "cidrs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    cells![name(obj), cidrs.join(","), age(obj, now)]
}

fn ip_address_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "ParentRef",
            "string",
            "ParentRef references the resource that an IPAddress is attached to.",
        ),
    ]
}

fn ip_address_row(obj: &Value, now: i64) -> Vec<Value> {
    let parent = match present(obj, &["spec", "parentRef"]) {
        None => NONE.to_string(),
        Some(p) => {
            let (group, resource) = (str_at(p, &["group"]), str_at(p, &["resource"]));
            let gr = if group.is_empty() {
                resource.to_string()
            } else {
                format!("{resource}.{group}")
            };
            let mut s = gr.to_lowercase();
            let ns = str_at(p, &["namespace"]);
            if !ns.is_empty() {
                s = format!("{s}/{ns}");
            }
            format!("{s}/{}", str_at(p, &["name"]))
        }
    };
    // Upstream emits an age cell beyond its two column definitions; kubectl ignores cells
    // past the last column, so this is reproduced as is.
    cells![name(obj), parent, age(obj, now)]
}

fn endpoint_slice_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "AddressType",
            "string",
            "addressType specifies the type of address carried by this EndpointSlice.",
        ),
        col(
            "Ports",
            "string",
            "ports specifies the list of network ports exposed by each endpoint in this slice.",
        ),
        col(
            "Endpoints",
            "string",
            "endpoints is a list of unique endpoints in this slice.",
        ),
        age_col(),
    ]
}

fn endpoint_slice_row(obj: &Value, now: i64) -> Vec<Value> {
    const MAX: usize = 3;
    let ports = arr_at(obj, &["ports"]);
    let port_list: Vec<String> = ports
        .iter()
        .take(MAX)
        .map(|p| match (opt_int(p, &["port"]), opt_str(p, &["name"])) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let ports_text = list_with_more(&port_list, ports.len() > MAX, ports.len(), MAX);
    let addresses: Vec<&str> = arr_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or(""))
        .collect();
    let addr_list: Vec<String> = addresses.iter().take(MAX).map(|s| s.to_string()).collect();
    let endpoints_text = list_with_more(&addr_list, addresses.len() > MAX, addresses.len(), MAX);
    cells![
        name(obj),
        str_at(obj, &["addressType"]),
        ports_text,
        endpoints_text,
        age(obj, now)
    ]
}
