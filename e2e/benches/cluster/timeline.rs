//! Where the time of "apply → 10 pods Running" goes: watches the Deployment's ReplicaSets and
//! pods from before the apply and notes, at millisecond precision (API timestamps are whole
//! seconds), when each pod was first seen created, bound to a node, given an IP, with its
//! container running, Running and Ready. The kubelets' own "pod reported Running" lines add
//! their per-pod step times.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;

/// Milestones in the order a pod passes them.
const STEPS: [&str; 6] = ["created", "bound", "ip", "container-running", "Running", "Ready"];

#[derive(Debug, Default)]
struct Seen {
    replicaset: Option<Duration>,
    /// pod → step → first seen.
    pods: BTreeMap<String, BTreeMap<&'static str, Duration>>,
}

#[derive(Debug)]
pub(crate) struct Timeline {
    start: Instant,
    seen: Arc<Mutex<Seen>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn steps_of(p: &Pod) -> Vec<&'static str> {
    let mut out = vec!["created"];
    if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
        out.push("bound");
    }
    let Some(st) = p.status.as_ref() else {
        return out;
    };
    if st.pod_ip.is_some() {
        out.push("ip");
    }
    if st
        .container_statuses
        .iter()
        .flatten()
        .any(|c| c.state.as_ref().and_then(|s| s.running.as_ref()).is_some())
    {
        out.push("container-running");
    }
    if st.phase.as_deref() == Some("Running") {
        out.push("Running");
    }
    if st
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
    {
        out.push("Ready");
    }
    out
}

impl Timeline {
    /// Starts watching `ns` for pods labelled `selector` and ReplicaSets. `start` is set again
    /// by `mark_start` right before the apply.
    pub(crate) async fn watch(client: &kube::Client, ns: &str, selector: &str) -> Timeline {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let start = Instant::now();
        let start_cell = Arc::new(Mutex::new(start));
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
        let cfg = watcher::Config::default().labels(selector);
        let (s1, c1) = (seen.clone(), start_cell.clone());
        let pod_task = tokio::spawn(async move {
            let mut stream = watcher(pods, cfg).boxed();
            while let Some(ev) = stream.next().await {
                let (Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p))) = ev else {
                    continue;
                };
                let at = c1.lock().map(|s| s.elapsed()).unwrap_or_default();
                let name = p.metadata.name.clone().unwrap_or_default();
                if let Ok(mut seen) = s1.lock() {
                    let entry = seen.pods.entry(name).or_default();
                    for step in steps_of(&p) {
                        entry.entry(step).or_insert(at);
                    }
                }
            }
        });
        let (s2, c2) = (seen.clone(), start_cell.clone());
        let rs_task = tokio::spawn(async move {
            let mut stream = watcher(rss, watcher::Config::default()).boxed();
            while let Some(ev) = stream.next().await {
                if let Ok(watcher::Event::Apply(_)) = ev {
                    let at = c2.lock().map(|s| s.elapsed()).unwrap_or_default();
                    if let Ok(mut seen) = s2.lock() {
                        seen.replicaset.get_or_insert(at);
                    }
                }
            }
        });
        // Give the watches time to be established before the clock starts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = Instant::now();
        if let Ok(mut s) = start_cell.lock() {
            *s = start;
        }
        Timeline {
            start,
            seen,
            tasks: vec![pod_task, rs_task],
        }
    }

    pub(crate) fn started(&self) -> Instant {
        self.start
    }

    /// The milestones (first and last pod to reach each) and the kubelets' step times.
    pub(crate) fn report(&self, kubelet_logs: &[&Path], prefix: &str) -> String {
        for t in &self.tasks {
            t.abort();
        }
        let Ok(seen) = self.seen.lock() else {
            return "timeline unavailable".into();
        };
        let ms = |d: Duration| format!("{:>6} ms", d.as_millis());
        let mut out = String::from("timeline from the apply (first pod .. last pod):\n");
        if let Some(rs) = seen.replicaset {
            out.push_str(&format!("  ReplicaSet seen               {}\n", ms(rs)));
        }
        for step in STEPS {
            let times: Vec<Duration> = seen.pods.values().filter_map(|m| m.get(step).copied()).collect();
            if let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) {
                out.push_str(&format!(
                    "  pod {step:<18} {} .. {}  ({} pods)\n",
                    ms(*first),
                    ms(*last),
                    times.len()
                ));
            }
        }
        out.push_str(&kubelet_steps(kubelet_logs, prefix));
        out
    }
}

/// The kubelets' "pod reported Running" lines for pods named `prefix*`: each step's time since
/// the pod worker began, as min/max over the pods.
fn kubelet_steps(logs: &[&Path], prefix: &str) -> String {
    let mut steps: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains("pod reported Running")) {
            let plain = strip_ansi(line);
            if !plain.contains(&format!("pod={prefix}")) {
                continue;
            }
            for field in plain.split_whitespace() {
                let (key, value) = match field.split_once('=') {
                    Some((k, v)) => (k.trim_start_matches("steps="), v),
                    None => continue,
                };
                if let Some(n) = value.strip_suffix("ms").and_then(|v| v.parse::<u64>().ok()) {
                    let key = key.to_string();
                    if !order.contains(&key) {
                        order.push(key.clone());
                    }
                    steps.entry(key).or_default().push(n);
                }
            }
        }
    }
    if steps.is_empty() {
        return String::new();
    }
    let mut out = String::from("kubelet pod-worker steps (ms since the worker began, min .. max):\n");
    for key in order {
        let v = &steps[&key];
        let (min, max) = (
            v.iter().min().copied().unwrap_or(0),
            v.iter().max().copied().unwrap_or(0),
        );
        out.push_str(&format!("  {key:<28} {min:>6} .. {max:>6}  ({} pods)\n", v.len()));
    }
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
