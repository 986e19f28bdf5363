//! Service validation: upstream `ValidateService`, `ValidateServiceUpdate` (cluster IPs and IP
//! families may not change once set) and the allocator's refusals of requested addresses and
//! ports that are outside the configured ranges or already taken.

use std::collections::HashSet;
use std::net::IpAddr;

use rudder_api::validation::{
    BadValue, FieldError, FieldPath, go_quote, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    validate_labels,
};
use serde_json::Value;

use super::Settings;
use super::services::{InUse, externally_accessible, is_headless, service_type};
use super::util::{arr, at, int, port_name_errors, port_num_errors, s, unset};

const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

pub(super) fn validate_service(
    settings: &Settings,
    used: &InUse,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let spec = at(obj, "spec");
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(validate_cluster_ips_update(at(old, "spec"), spec));
    }
    errs.extend(validate_spec(spec));
    errs.extend(super::service_alloc::validate_allocations(
        settings,
        used,
        obj,
        old.map(|o| at(o, "spec")),
    ));
    errs
}

pub(super) fn string_list(v: &Value) -> BadValue {
    let items: Vec<&str> = v.as_array().map_or(Vec::new(), |a| {
        a.iter().map(|x| x.as_str().unwrap_or("")).collect()
    });
    if v.is_array() {
        BadValue::string_list(&items)
    } else {
        BadValue::Raw("[]string(nil)".to_string())
    }
}

/// Upstream `validateUpgradeDowngradeClusterIPs` and `validateUpgradeDowngradeIPFamilies`.
fn validate_cluster_ips_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if service_type(old) == "ExternalName" || service_type(new) == "ExternalName" {
        return errs;
    }
    let (old_h, new_h) = (is_headless(old), is_headless(new));
    let ips = FieldPath::new("spec").child("clusterIPs");
    let (o, n) = (arr(old, "clusterIPs"), arr(new, "clusterIPs"));
    let shown = string_list(at(new, "clusterIPs"));
    if !(old_h && new_h) {
        if o.len() == n.len() {
            for (i, ip) in o.iter().enumerate() {
                if *ip != n[i] {
                    errs.push(FieldError::invalid(
                        &ips.index(i),
                        shown.clone(),
                        "may not change once set",
                    ));
                }
            }
        } else if o.len() > n.len() {
            if n.is_empty() {
                errs.push(FieldError::invalid(
                    &ips.index(0),
                    shown.clone(),
                    "primary clusterIP can not be unset",
                ));
            } else if n[0] != o[0] {
                errs.push(FieldError::invalid(
                    &ips.index(0),
                    shown.clone(),
                    "may not change once set",
                ));
            }
        } else if !o.is_empty() && n[0] != o[0] {
            errs.push(FieldError::invalid(
                &ips.index(0),
                shown.clone(),
                "may not change once set",
            ));
        }
    }
    if old_h == new_h && !new_h {
        let fams = FieldPath::new("spec").child("ipFamilies");
        let (o, n) = (arr(old, "ipFamilies"), arr(new, "ipFamilies"));
        let changed = if o.len() == n.len() {
            o != n
        } else {
            !o.is_empty() && !n.is_empty() && o[0] != n[0]
        };
        if changed {
            errs.push(FieldError::invalid(
                &fams.index(0),
                string_list(at(new, "ipFamilies")),
                "may not change once set",
            ));
        }
    }
    errs
}

fn validate_spec(spec: &Value) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    let ty = service_type(spec);
    let headless = is_headless(spec);
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required(&path.child("ports"), ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            &path.child("clusterIPs").index(0),
            "None",
            format!("may not be set to 'None' for {ty} services"),
        )),
        "ExternalName" => {
            for key in ["clusterIPs", "ipFamilies"] {
                if !arr(spec, key).is_empty() {
                    errs.push(FieldError::forbidden(
                        &path.child(key),
                        "may not be set for ExternalName services",
                    ));
                }
            }
            if !unset(spec.get("ipFamilyPolicy")) {
                errs.push(FieldError::forbidden(
                    &path.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = s(spec, "externalName").trim_end_matches('.');
            let p = path.child("externalName");
            if cname.is_empty() {
                errs.push(FieldError::required(&p, ""));
            } else {
                errs.extend(
                    is_dns1123_subdomain(cname)
                        .into_iter()
                        .map(|m| FieldError::invalid(&p, cname, m)),
                );
            }
        }
        _ => {}
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_port(
            port,
            ports.len() > 1,
            &mut names,
            &path.child("ports").index(i),
        ));
    }
    if let Some(selector) = at(spec, "selector").as_object() {
        errs.extend(validate_labels(selector, &path.child("selector")));
    }
    match s(spec, "sessionAffinity") {
        "" => errs.push(FieldError::required(&path.child("sessionAffinity"), "")),
        "None" if !unset(spec.get("sessionAffinityConfig")) => errs.push(FieldError::forbidden(
            &path.child("sessionAffinityConfig"),
            "must not be set when session affinity is None",
        )),
        "None" | "ClientIP" => {}
        other => errs.push(FieldError::not_supported(
            &path.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    errs.extend(validate_cluster_ip_fields(spec));
    for (i, ip) in arr(spec, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        if ip.parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                &path.child("externalIPs").index(i),
                ip,
                IP_MSG,
            ));
        }
    }
    match ty {
        "" => errs.push(FieldError::required(&path.child("type"), "")),
        "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort" => {}
        other => errs.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    let mut node_ports = HashSet::new();
    let mut port_keys = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.child("ports").index(i);
        let np = int(port, "nodePort").unwrap_or(0);
        if np != 0 {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    &p.child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
            if !node_ports.insert((s(port, "protocol"), np)) {
                errs.push(FieldError::duplicate(&p.child("nodePort"), np));
            }
        }
        let (proto, num) = (s(port, "protocol"), int(port, "port").unwrap_or(0));
        if !port_keys.insert((proto, num)) {
            let key = format!(
                "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{num}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                go_quote(proto)
            );
            errs.push(FieldError::duplicate(&p, BadValue::Raw(key)));
        }
    }
    if !unset(spec.get("allocateLoadBalancerNodePorts")) && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            &path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    let etp = s(spec, "externalTrafficPolicy");
    let etp_path = path.child("externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                &etp_path,
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(&etp_path, ""));
    } else if !matches!(etp, "Cluster" | "Local") {
        errs.push(FieldError::not_supported(&etp_path, etp, &["Cluster", "Local"]));
    }
    let hc = int(spec, "healthCheckNodePort").unwrap_or(0);
    if hc != 0 && !(ty == "LoadBalancer" && etp == "Local") {
        errs.push(FieldError::invalid(
            &path.child("healthCheckNodePort"),
            hc,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    let itp_path = path.child("internalTrafficPolicy");
    match spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        None if matches!(ty, "ClusterIP" | "NodePort" | "LoadBalancer") => {
            errs.push(FieldError::required(&itp_path, ""));
        }
        Some(itp) if !matches!(itp, "Cluster" | "Local") => {
            errs.push(FieldError::not_supported(&itp_path, itp, &["Cluster", "Local"]));
        }
        _ => {}
    }
    errs
}

/// Upstream `validateServicePort`.
fn validate_port<'a>(
    port: &'a Value,
    require_name: bool,
    names: &mut HashSet<&'a str>,
    p: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = s(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(
            is_dns1123_label(name)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("name"), name, m)),
        );
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
    }
    let num = int(port, "port").unwrap_or(0);
    errs.extend(
        port_num_errors(num)
            .into_iter()
            .map(|m| FieldError::invalid(&p.child("port"), num, m)),
    );
    match s(port, "protocol") {
        "" => errs.push(FieldError::required(&p.child("protocol"), "")),
        "SCTP" | "TCP" | "UDP" => {}
        other => errs.push(FieldError::not_supported(
            &p.child("protocol"),
            other,
            &["SCTP", "TCP", "UDP"],
        )),
    }
    let tp = p.child("targetPort");
    match at(port, "targetPort") {
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(0);
            errs.extend(
                port_num_errors(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(&tp, n, m)),
            );
        }
        Value::String(name) => {
            errs.extend(
                port_name_errors(name)
                    .into_iter()
                    .map(|m| FieldError::invalid(&tp, name.as_str(), m)),
            );
        }
        _ => {}
    }
    if let Some(proto) = port.get("appProtocol").and_then(Value::as_str) {
        let ap = p.child("appProtocol");
        errs.extend(
            is_qualified_name(proto)
                .into_iter()
                .map(|m| FieldError::invalid(&ap, proto, m)),
        );
    }
    errs
}

/// Upstream `ValidateServiceClusterIPsRelatedFields` on a single-stack IPv4 cluster.
fn validate_cluster_ip_fields(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if service_type(spec) == "ExternalName" {
        return errs;
    }
    let path = FieldPath::new("spec");
    let ips_path = path.child("clusterIPs");
    let ips = arr(spec, "clusterIPs");
    let shown = string_list(at(spec, "clusterIPs"));
    let single = s(spec, "clusterIP");
    if !single.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != single {
            errs.push(FieldError::invalid(
                &ips_path,
                shown.clone(),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            &ips_path,
            shown.clone(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let fams_path = path.child("ipFamilies");
    let mut seen = HashSet::new();
    for (i, f) in arr(spec, "ipFamilies").iter().enumerate() {
        let f = f.as_str().unwrap_or("");
        if !matches!(f, "IPv4" | "IPv6") {
            errs.push(FieldError::not_supported(
                &fams_path.index(i),
                f,
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&fams_path.index(i), f));
        }
    }
    let policy = s(spec, "ipFamilyPolicy");
    if !unset(spec.get("ipFamilyPolicy"))
        && !matches!(policy, "SingleStack" | "PreferDualStack" | "RequireDualStack")
    {
        errs.push(FieldError::not_supported(
            &path.child("ipFamilyPolicy"),
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut bad_ip = false;
    for (i, ip) in ips.iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                bad_ip = true;
                errs.push(FieldError::invalid(
                    &ips_path,
                    shown.clone(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        if ip.parse::<IpAddr>().is_err() {
            bad_ip = true;
            errs.push(FieldError::invalid(&ips_path.index(i), ip, IP_MSG));
        }
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_path,
            shown.clone(),
            "may only hold up to 2 values",
        ));
    }
    if bad_ip || is_headless(spec) {
        return errs;
    }
    let families = arr(spec, "ipFamilies");
    for (i, ip) in ips.iter().enumerate().take(families.len()) {
        let v6 = ip.as_str().unwrap_or("").contains(':');
        let fam = families[i].as_str().unwrap_or("");
        if (fam == "IPv4" && v6) || (fam == "IPv6" && !v6) {
            let want = if fam == "IPv4" { "IPv4" } else { "IPv6" };
            let msg = format!("expected an {want} value as indicated by `ipFamilies[{i}]`");
            errs.push(FieldError::invalid(
                &ips_path.index(i),
                ip.as_str().unwrap_or(""),
                msg,
            ));
        }
    }
    if policy == "RequireDualStack" {
        errs.push(FieldError::invalid(
            &path.child("ipFamilyPolicy"),
            policy,
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, f) in families.iter().enumerate() {
        if f == "IPv6" {
            errs.push(FieldError::invalid(
                &fams_path.index(i),
                "IPv6",
                "not configured on this cluster",
            ));
        }
    }
    errs
}
