//! Builders for the node lifecycle tables.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// `secs` seconds after the epoch.
pub(crate) fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

/// A node whose Ready condition has `status` and a heartbeat at `heartbeat` seconds.
pub(crate) fn node(name: &str, status: &str, heartbeat: i64) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                last_heartbeat_time: Some(Time(t(heartbeat))),
                last_transition_time: Some(Time(t(0))),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// A node Lease renewed at `renew` seconds.
pub(crate) fn lease(renew: i64) -> Lease {
    Lease {
        metadata: ObjectMeta::default(),
        spec: Some(LeaseSpec {
            renew_time: Some(MicroTime(t(renew))),
            ..Default::default()
        }),
    }
}
