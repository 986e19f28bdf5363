//! The scheduling framework's pure core: node and pod facts, plugin interfaces, statuses and
//! the unschedulable message. No I/O here.

pub mod fit_error;
pub mod interface;
pub mod intern;
pub mod node_info;
pub mod pod_info;
pub mod quantity;
pub mod resource;
pub mod selectors;
pub mod snapshot;
pub mod status;

pub use fit_error::{Diagnosis, FitError};
pub use interface::*;
pub use node_info::NodeInfo;
pub use pod_info::PodInfo;
pub use snapshot::Snapshot;
pub use status::{Code, Status};
