//! One cluster CIDR cut into equal node subnets (upstream `pkg/controller/nodeipam/ipam/cidrset`):
//! occupy, allocate the next free one (rotating, so a just-released subnet is not reused at
//! once), release.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a cluster CIDR or node mask is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum CidrError {
    #[error("invalid CIDR {0:?}")]
    Invalid(String),
    #[error(
        "node CIDR mask size {mask} must be at least the cluster CIDR's prefix length {prefix} and at most {max}"
    )]
    BadMask { mask: u8, prefix: u8, max: u8 },
    #[error("node CIDR mask size {mask} leaves {bits} bits for subnets; at most 16 are supported")]
    TooManySubnets { mask: u8, bits: u8 },
}

/// An address block: base address (as a number) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cidr {
    pub(crate) v6: bool,
    pub(crate) base: u128,
    pub(crate) prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Result<Cidr, CidrError> {
        let invalid = || CidrError::Invalid(s.to_string());
        let (ip, prefix) = s.trim().split_once('/').ok_or_else(invalid)?;
        let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        let (v6, bits, value) = match ip {
            IpAddr::V4(a) => (false, 32u8, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, 128u8, u128::from(a)),
        };
        if prefix > bits {
            return Err(invalid());
        }
        Ok(Cidr {
            v6,
            base: value & mask(bits, prefix),
            prefix,
        })
    }

    pub(crate) fn bits(&self) -> u8 {
        if self.v6 { 128 } else { 32 }
    }

    /// Whether `other` lies entirely inside this block.
    pub(crate) fn contains(&self, other: &Cidr) -> bool {
        self.v6 == other.v6
            && other.prefix >= self.prefix
            && other.base & mask(self.bits(), self.prefix) == self.base
    }
}

fn mask(bits: u8, prefix: u8) -> u128 {
    let host = u32::from(bits - prefix);
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if host >= 128 {
        0
    } else {
        all & !((1u128 << host) - 1)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write!(f, "{}/{}", Ipv6Addr::from(self.base), self.prefix)
        } else {
            let v4 = u32::try_from(self.base).unwrap_or_default();
            write!(f, "{}/{}", Ipv4Addr::from(v4), self.prefix)
        }
    }
}

/// The node subnets of one cluster CIDR.
#[derive(Debug, Clone)]
pub(crate) struct CidrSet {
    cluster: Cidr,
    node_mask: u8,
    used: BTreeSet<u128>,
    next_candidate: u128,
}

impl CidrSet {
    pub(crate) fn new(cluster: Cidr, node_mask: u8) -> Result<CidrSet, CidrError> {
        if node_mask < cluster.prefix || node_mask > cluster.bits() {
            return Err(CidrError::BadMask {
                mask: node_mask,
                prefix: cluster.prefix,
                max: cluster.bits(),
            });
        }
        let bits = node_mask - cluster.prefix;
        if bits > 16 {
            return Err(CidrError::TooManySubnets {
                mask: node_mask,
                bits,
            });
        }
        Ok(CidrSet {
            cluster,
            node_mask,
            used: BTreeSet::new(),
            next_candidate: 0,
        })
    }

    #[cfg(test)]
    pub(crate) fn is_v6(&self) -> bool {
        self.cluster.v6
    }

    fn max_subnets(&self) -> u128 {
        1u128 << (self.node_mask - self.cluster.prefix)
    }

    fn index_of(&self, cidr: &Cidr) -> Option<u128> {
        if !self.cluster.contains(cidr) || cidr.prefix != self.node_mask {
            return None;
        }
        let shift = u32::from(self.cluster.bits() - self.node_mask);
        Some((cidr.base - self.cluster.base) >> shift)
    }

    fn subnet(&self, index: u128) -> Cidr {
        let shift = u32::from(self.cluster.bits() - self.node_mask);
        Cidr {
            v6: self.cluster.v6,
            base: self.cluster.base + (index << shift),
            prefix: self.node_mask,
        }
    }

    /// Marks a node's existing subnet as taken. False when it is not one of ours.
    pub(crate) fn occupy(&mut self, cidr: &Cidr) -> bool {
        match self.index_of(cidr) {
            Some(i) => {
                self.used.insert(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn release(&mut self, cidr: &Cidr) {
        if let Some(i) = self.index_of(cidr) {
            self.used.remove(&i);
        }
    }

    /// The next free subnet after the last one handed out; None when all are taken.
    pub(crate) fn allocate_next(&mut self) -> Option<Cidr> {
        let max = self.max_subnets();
        if self.used.len() as u128 >= max {
            return None;
        }
        for step in 0..max {
            let candidate = (self.next_candidate + step) % max;
            if !self.used.contains(&candidate) {
                self.used.insert(candidate);
                self.next_candidate = (candidate + 1) % max;
                return Some(self.subnet(candidate));
            }
        }
        None
    }

    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let cases = [
            ("10.244.0.0/16", "10.244.0.0/16"),
            ("10.244.3.7/16", "10.244.0.0/16"),
            ("fd00:10::/56", "fd00:10::/56"),
            ("0.0.0.0/0", "0.0.0.0/0"),
        ];
        for (input, want) in cases {
            assert_eq!(Cidr::parse(input).unwrap().to_string(), want);
        }
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0.0/-1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allocates_distinct_subnets_in_order_until_exhausted() {
        let mut set = CidrSet::new(Cidr::parse("10.244.0.0/22").unwrap(), 24).unwrap();
        assert!(set.occupy(&Cidr::parse("10.244.1.0/24").unwrap()));
        let got: Vec<String> = std::iter::from_fn(|| set.allocate_next())
            .map(|c| c.to_string())
            .collect();
        assert_eq!(got, ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]);
        assert_eq!(set.allocate_next(), None);
        set.release(&Cidr::parse("10.244.2.0/24").unwrap());
        assert_eq!(
            set.allocate_next().map(|c| c.to_string()).as_deref(),
            Some("10.244.2.0/24")
        );
    }

    #[test]
    fn foreign_subnets_are_not_ours() {
        let mut set = CidrSet::new(Cidr::parse("10.244.0.0/16").unwrap(), 24).unwrap();
        assert!(!set.occupy(&Cidr::parse("10.245.0.0/24").unwrap()));
        assert!(!set.occupy(&Cidr::parse("10.244.0.0/25").unwrap()));
        assert_eq!(set.used(), 0);
    }

    #[test]
    fn mask_limits() {
        let cluster = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(matches!(CidrSet::new(cluster, 7), Err(CidrError::BadMask { .. })));
        assert!(matches!(
            CidrSet::new(cluster, 25),
            Err(CidrError::TooManySubnets { .. })
        ));
        assert!(CidrSet::new(cluster, 24).is_ok());
        let v6 = CidrSet::new(Cidr::parse("fd00::/56").unwrap(), 64).unwrap();
        assert!(v6.is_v6());
    }

    #[test]
    fn ipv6_subnets() {
        let mut set = CidrSet::new(Cidr::parse("fd00:10::/56").unwrap(), 64).unwrap();
        assert_eq!(set.allocate_next().unwrap().to_string(), "fd00:10::/64");
        assert_eq!(set.allocate_next().unwrap().to_string(), "fd00:10:0:1::/64");
    }
}
