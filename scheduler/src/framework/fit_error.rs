//! Why a pod fits no node, and the message upstream builds from it:
//! `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. preemption: ...`

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::status::Status;

/// The per-node verdicts of one failed cycle (upstream `framework.Diagnosis`).
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// Node name → the status that rejected it.
    pub node_to_status: HashMap<String, Status>,
    /// The status of nodes not in `node_to_status` (e.g. preemption's "not helpful").
    pub absent_nodes_status: Option<Status>,
    /// Plugins that rejected the pod: events these plugins care about make it retry.
    pub unschedulable_plugins: BTreeSet<&'static str>,
    pub pre_filter_msg: String,
    pub post_filter_msg: String,
}

/// A pod that fits no node.
#[derive(Debug, Clone)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub diagnosis: Diagnosis,
}

impl FitError {
    /// Upstream `FitError.Error()`: reasons counted over nodes, rendered "count reason" and
    /// sorted as strings, then the PostFilter (preemption) message.
    pub fn message(&self) -> String {
        let d = &self.diagnosis;
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if !d.pre_filter_msg.is_empty() {
            msg.push_str(&format!(" {}.", d.pre_filter_msg));
        } else {
            let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
            for status in d.node_to_status.values() {
                for r in &status.reasons {
                    *reasons.entry(r.as_str()).or_default() += 1;
                }
            }
            let absent = self.num_all_nodes.saturating_sub(d.node_to_status.len());
            if absent > 0
                && let Some(status) = &d.absent_nodes_status
            {
                for r in &status.reasons {
                    *reasons.entry(r.as_str()).or_default() += absent;
                }
            }
            let mut lines: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            // Go's sort.Strings: byte order of the whole "count reason" string.
            lines.sort();
            if !lines.is_empty() {
                msg.push_str(&format!(" {}.", lines.join(", ")));
            }
        }
        if !d.post_filter_msg.is_empty() {
            msg.push_str(&format!(" {}", d.post_filter_msg));
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::status::Code;

    fn diag(statuses: &[(&str, Vec<&str>)]) -> Diagnosis {
        Diagnosis {
            node_to_status: statuses
                .iter()
                .map(|(n, rs)| {
                    (
                        n.to_string(),
                        Status::with_reasons(Code::Unschedulable, rs.iter().map(|r| r.to_string()).collect()),
                    )
                })
                .collect(),
            ..Diagnosis::default()
        }
    }

    #[test]
    fn fit_error_messages() {
        let taint = "node(s) had untolerated taint {dedicated: gpu}";
        let cases: Vec<(&str, usize, Diagnosis, &str)> = vec![
            (
                "counts sorted as strings",
                3,
                diag(&[
                    ("a", vec!["Insufficient cpu"]),
                    ("b", vec![taint]),
                    ("c", vec![taint]),
                ]),
                "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}.",
            ),
            (
                "several reasons on one node each count",
                2,
                diag(&[
                    ("a", vec!["Insufficient cpu", "Insufficient memory"]),
                    ("b", vec!["Insufficient cpu"]),
                ]),
                "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
            ),
            (
                "string order puts 10 before 2",
                12,
                {
                    let mut v: Vec<(String, Vec<&str>)> = (0..10)
                        .map(|i| (format!("x{i}"), vec!["node(s) were unschedulable"]))
                        .collect();
                    v.push(("y0".into(), vec!["Insufficient cpu"]));
                    v.push(("y1".into(), vec!["Insufficient cpu"]));
                    let refs: Vec<(&str, Vec<&str>)> =
                        v.iter().map(|(n, r)| (n.as_str(), r.clone())).collect();
                    diag(&refs)
                },
                "0/12 nodes are available: 10 node(s) were unschedulable, 2 Insufficient cpu.",
            ),
            ("no nodes", 0, Diagnosis::default(), "0/0 nodes are available:"),
            (
                "prefilter message replaces node reasons",
                3,
                Diagnosis {
                    pre_filter_msg: "persistentvolumeclaim \"data\" not found".into(),
                    ..diag(&[("a", vec!["persistentvolumeclaim \"data\" not found"])])
                },
                "0/3 nodes are available: persistentvolumeclaim \"data\" not found.",
            ),
            (
                "postfilter message appended",
                1,
                Diagnosis {
                    post_filter_msg:
                        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
                            .into(),
                    ..diag(&[("a", vec!["node(s) didn't match Pod's node affinity/selector"])])
                },
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            ),
            (
                "absent nodes take the absent status",
                3,
                Diagnosis {
                    absent_nodes_status: Some(Status::unresolvable(
                        "Preemption is not helpful for scheduling",
                    )),
                    ..diag(&[("a", vec!["No preemption victims found for incoming pod"])])
                },
                "0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
            ),
        ];
        for (name, n, diagnosis, want) in cases {
            let e = FitError {
                num_all_nodes: n,
                diagnosis,
            };
            assert_eq!(e.message(), want, "{name}");
        }
    }
}
