//! Shared support for the kubelet's integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod cluster;
pub mod containerd;
pub mod kubectl;
