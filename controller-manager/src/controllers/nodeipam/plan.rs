//! The range allocator's decisions (upstream `ipam/range_allocator.go`): which podCIDRs a node
//! gets, kept as an in-memory occupancy map rebuilt from the nodes at start.

use k8s_openapi::api::core::v1::Node;

use super::cidrset::{Cidr, CidrError, CidrSet};

/// What to do for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeAction {
    /// It already has its podCIDRs (or is being deleted).
    Nothing,
    /// Patch `spec.podCIDR` / `spec.podCIDRs` to these, one per cluster CIDR.
    Assign(Vec<String>),
    /// A cluster CIDR has no free subnet left (event `CIDRNotAvailable`).
    Exhausted,
}

/// The allocator: one [`CidrSet`] per cluster CIDR (two for dual-stack).
#[derive(Debug, Clone)]
pub(crate) struct RangeAllocator {
    sets: Vec<CidrSet>,
}

/// The podCIDRs a node has now.
pub(crate) fn node_pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    let list: Vec<String> = spec
        .and_then(|s| s.pod_cidrs.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect();
    if !list.is_empty() {
        return list;
    }
    spec.and_then(|s| s.pod_cidr.clone())
        .filter(|c| !c.is_empty())
        .into_iter()
        .collect()
}

impl RangeAllocator {
    /// `cluster_cidrs` is `--cluster-cidr` (comma separated for dual-stack); the IPv4 node mask
    /// is `--node-cidr-mask-size`, IPv6 nodes get /64 (upstream's IPv6 default).
    pub(crate) fn new(cluster_cidrs: &str, node_mask_v4: u8) -> Result<RangeAllocator, CidrError> {
        let sets = cluster_cidrs
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let cidr = Cidr::parse(s)?;
                CidrSet::new(cidr, if cidr.v6 { 64 } else { node_mask_v4 })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if sets.is_empty() {
            return Err(CidrError::Invalid(cluster_cidrs.to_string()));
        }
        Ok(RangeAllocator { sets })
    }

    /// Marks what `node` already holds as taken (start-up and every node seen).
    pub(crate) fn occupy(&mut self, node: &Node) {
        for c in node_pod_cidrs(node) {
            if let Ok(cidr) = Cidr::parse(&c) {
                for set in &mut self.sets {
                    if set.occupy(&cidr) {
                        break;
                    }
                }
            }
        }
    }

    /// Frees what a deleted node held.
    pub(crate) fn release(&mut self, node: &Node) {
        for c in node_pod_cidrs(node) {
            if let Ok(cidr) = Cidr::parse(&c) {
                for set in &mut self.sets {
                    set.release(&cidr);
                }
            }
        }
    }

    /// Upstream `AllocateOrOccupyCIDR`: a node with podCIDRs keeps them (and they are marked
    /// taken); one without gets the next free subnet of every cluster CIDR.
    pub(crate) fn plan(&mut self, node: &Node) -> NodeAction {
        if node.metadata.deletion_timestamp.is_some() {
            return NodeAction::Nothing;
        }
        if !node_pod_cidrs(node).is_empty() {
            self.occupy(node);
            return NodeAction::Nothing;
        }
        let mut got = Vec::with_capacity(self.sets.len());
        for set in &mut self.sets {
            match set.allocate_next() {
                Some(c) => got.push(c),
                None => {
                    // Give back what this attempt took from the other families.
                    for (c, s) in got.iter().zip(self.sets.iter_mut()) {
                        s.release(c);
                    }
                    return NodeAction::Exhausted;
                }
            }
        }
        NodeAction::Assign(got.iter().map(ToString::to_string).collect())
    }

    /// Gives back an assignment whose patch failed.
    pub(crate) fn release_cidrs(&mut self, cidrs: &[String]) {
        for c in cidrs {
            if let Ok(cidr) = Cidr::parse(c) {
                for set in &mut self.sets {
                    set.release(&cidr);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, cidrs: &[&str]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: cidrs.first().map(|c| c.to_string()),
                pod_cidrs: (!cidrs.is_empty()).then(|| cidrs.iter().map(|c| c.to_string()).collect()),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn nodes_get_distinct_cidrs_and_existing_ones_are_respected() {
        let mut alloc = RangeAllocator::new("10.244.0.0/16", 24).unwrap();
        alloc.occupy(&node("old", &["10.244.0.0/24"]));
        let cases = [
            (node("old", &["10.244.0.0/24"]), NodeAction::Nothing),
            (node("a", &[]), NodeAction::Assign(vec!["10.244.1.0/24".into()])),
            (node("b", &[]), NodeAction::Assign(vec!["10.244.2.0/24".into()])),
        ];
        for (n, want) in cases {
            assert_eq!(alloc.plan(&n), want, "{:?}", n.metadata.name);
        }
    }

    #[test]
    fn exhaustion_and_release() {
        let mut alloc = RangeAllocator::new("10.0.0.0/23", 24).unwrap();
        assert_eq!(
            alloc.plan(&node("a", &[])),
            NodeAction::Assign(vec!["10.0.0.0/24".into()])
        );
        assert_eq!(
            alloc.plan(&node("b", &[])),
            NodeAction::Assign(vec!["10.0.1.0/24".into()])
        );
        assert_eq!(alloc.plan(&node("c", &[])), NodeAction::Exhausted);
        alloc.release(&node("a", &["10.0.0.0/24"]));
        assert_eq!(
            alloc.plan(&node("c", &[])),
            NodeAction::Assign(vec!["10.0.0.0/24".into()])
        );
    }

    #[test]
    fn dual_stack_gets_one_of_each_and_rolls_back_on_exhaustion() {
        let mut alloc = RangeAllocator::new("10.0.0.0/24,fd00::/64", 24).unwrap();
        assert_eq!(
            alloc.plan(&node("a", &[])),
            NodeAction::Assign(vec!["10.0.0.0/24".into(), "fd00::/64".into()])
        );
        assert_eq!(alloc.plan(&node("b", &[])), NodeAction::Exhausted);
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(RangeAllocator::new("", 24).is_err());
        assert!(RangeAllocator::new("10.0.0.0/16", 8).is_err());
        assert!(RangeAllocator::new("nonsense", 24).is_err());
    }
}
