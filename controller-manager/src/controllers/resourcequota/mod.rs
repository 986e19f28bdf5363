//! The resource quota controller (upstream `pkg/controller/resourcequota`): `status.used`.

pub(crate) mod plan;
pub(crate) mod quantity;
pub(crate) mod usage;
