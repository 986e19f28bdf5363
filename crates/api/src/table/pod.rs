//! Pods: upstream `printPod`, including init/sidecar container handling and restarts.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ColumnDefinition;
use super::time::{Time, since_time};
use super::util::{
    NONE, age, age_col, arr_at, bool_at, cells, col, get, int_at, is_deleting, name, name_col, opt_bool,
    present, str_at, wide,
};

pub(super) fn columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        col(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        col(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        age_col(),
        wide(
            "IP",
            "string",
            "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
        ),
        wide(
            "Node",
            "string",
            "NodeName indicates in which node this pod is scheduled.",
        ),
        wide(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
        ),
        wide(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness.",
        ),
    ]
}

fn condition_status<'a>(pod: &'a Value, ty: &str) -> Option<&'a str> {
    arr_at(pod, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == ty)
        .map(|c| str_at(c, &["status"]))
}

fn has_ready_condition(pod: &Value) -> bool {
    arr_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True")
}

/// `state.terminated` / `state.waiting` / `state.running` when set (a non-nil pointer).
fn state<'a>(cs: &'a Value, which: &str) -> Option<&'a Value> {
    present(cs, &["state", which])
}

fn last_terminated_at(cs: &Value) -> Option<Time> {
    present(cs, &["lastState", "terminated"]).map(|t| Time::from_json(get(t, &["finishedAt"])))
}

fn terminated_reason(t: &Value, prefix: &str) -> String {
    let reason = str_at(t, &["reason"]);
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = int_at(t, &["signal"]);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int_at(t, &["exitCode"]))
    }
}

pub(super) fn row(pod: &Value, now: i64) -> Vec<Value> {
    let containers = arr_at(pod, &["spec", "containers"]);
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    let mut total = containers.len();
    let mut ready = 0usize;
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut last_restart = Time::ZERO;
    let mut last_sidecar_restart = Time::ZERO;

    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = phase.to_string();
    let status_reason = str_at(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    for c in arr_at(pod, &["status", "conditions"]) {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    let mut restartable: HashMap<&str, bool> = HashMap::new();
    for c in init_specs {
        let is_sidecar = str_at(c, &["restartPolicy"]) == "Always";
        restartable.insert(str_at(c, &["name"]), is_sidecar);
        if is_sidecar {
            total += 1;
        }
    }

    let mut initializing = false;
    for (i, cs) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(cs, &["restartCount"]);
        restarts = restarts.saturating_add(count);
        let finished = last_terminated_at(cs);
        if let Some(t) = finished.filter(|t| last_restart < *t) {
            last_restart = t;
        }
        let is_sidecar = restartable.get(str_at(cs, &["name"])).copied().unwrap_or(false);
        if is_sidecar {
            sidecar_restarts = sidecar_restarts.saturating_add(count);
            if let Some(t) = finished.filter(|t| last_sidecar_restart < *t) {
                last_sidecar_restart = t;
            }
        }
        let terminated = state(cs, "terminated");
        let waiting = state(cs, "waiting");
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_sidecar && opt_bool(cs, &["started"]) == Some(true) {
            if bool_at(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        let waiting_reason = waiting.map_or("", |w| str_at(w, &["reason"]));
        reason = if let Some(t) = terminated {
            terminated_reason(t, "Init:")
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_status(pod, "Initialized") == Some("True") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts = restarts.saturating_add(int_at(cs, &["restartCount"]));
            if let Some(t) = last_terminated_at(cs).filter(|t| last_restart < *t) {
                last_restart = t;
            }
            let waiting_reason = state(cs, "waiting").map_or("", |w| str_at(w, &["reason"]));
            let terminated = state(cs, "terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = terminated_reason(t, "");
            } else if bool_at(cs, &["ready"]) && state(cs, "running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if has_ready_condition(pod) {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    if is_deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if is_deleting(pod) && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".to_string();
    }

    let restarts_text = if restarts != 0 && !last_restart.is_zero() {
        format!("{restarts} ({} ago)", since_time(last_restart, now))
    } else {
        restarts.to_string()
    };

    let mut pod_ip = str_at(pod, &["status", "podIP"]);
    if pod_ip.is_empty() {
        pod_ip = arr_at(pod, &["status", "podIPs"])
            .first()
            .map_or("", |p| str_at(p, &["ip"]));
    }
    let or_none = |s: &str| {
        if s.is_empty() {
            NONE.to_string()
        } else {
            s.to_string()
        }
    };
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        NONE.to_string()
    } else {
        let met = gates
            .iter()
            .filter(|g| condition_status(pod, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{met}/{}", gates.len())
    };

    cells![
        name(pod),
        format!("{ready}/{total}"),
        reason,
        restarts_text,
        age(pod, now),
        or_none(pod_ip),
        or_none(str_at(pod, &["spec", "nodeName"])),
        or_none(str_at(pod, &["status", "nominatedNodeName"])),
        readiness_gates,
    ]
}

/// The `Completed` row condition upstream sets on finished pods.
pub(super) fn conditions(pod: &Value) -> Vec<Value> {
    match str_at(pod, &["status", "phase"]) {
        "Succeeded" => vec![
            json!({"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}),
        ],
        "Failed" => vec![
            json!({"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}),
        ],
        _ => Vec::new(),
    }
}
