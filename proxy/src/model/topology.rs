//! Upstream's `CategorizeEndpoints` (without topology hints): which endpoints the Cluster and
//! the Local traffic policy use. Ready endpoints by default; serving+terminating ones only when
//! no ready one exists, decided separately for Cluster and Local.

use super::{Endpoint, ServicePort};

/// Returns (cluster, local, all reachable, has any endpoints anywhere).
pub fn categorize(
    endpoints: &[Endpoint],
    svc: &ServicePort,
) -> (Vec<Endpoint>, Vec<Endpoint>, Vec<Endpoint>, bool) {
    let mut cluster = Vec::new();
    let mut has_any = false;
    if endpoints.is_empty() {
        return (Vec::new(), Vec::new(), Vec::new(), false);
    }
    if svc.uses_cluster_endpoints() {
        cluster = filter(endpoints, |e| e.ready);
        if cluster.is_empty() {
            cluster = filter(endpoints, |e| e.serving && e.terminating);
        }
        has_any = !cluster.is_empty();
    }
    if !svc.uses_local_endpoints() {
        let all = cluster.clone();
        return (cluster, Vec::new(), all, has_any);
    }

    let (mut local_ready, mut local_terminating) = (false, false);
    for e in endpoints {
        if e.ready {
            has_any = true;
            local_ready |= e.local;
        } else if e.serving && e.terminating {
            has_any = true;
            local_terminating |= e.local;
        }
    }
    let local = if local_ready {
        filter(endpoints, |e| e.local && e.ready)
    } else if local_terminating {
        filter(endpoints, |e| e.local && e.serving && e.terminating)
    } else {
        Vec::new()
    };

    if !svc.uses_cluster_endpoints() {
        let all = local.clone();
        return (cluster, local, all, has_any);
    }
    // Local may hold terminating endpoints that Cluster lacks: merge, without duplicates.
    let mut all = cluster.clone();
    for e in &local {
        if !all.iter().any(|a| a.ip == e.ip && a.port == e.port) {
            all.push(e.clone());
        }
    }
    all.sort();
    (cluster, local, all, has_any)
}

fn filter(endpoints: &[Endpoint], keep: impl Fn(&Endpoint) -> bool) -> Vec<Endpoint> {
    endpoints.iter().filter(|e| keep(e)).cloned().collect()
}
