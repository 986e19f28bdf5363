//! The ReplicationController controller: the replica manager of `replicaset/` over
//! ReplicationControllers (upstream runs the same code over converted objects).

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ReplicationController;

use super::ControllerContext;

/// Starts the ReplicationController controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let workers = ctx.config.concurrent_rc_syncs;
    super::replicaset::start_for::<ReplicationController>(ctx, workers)
}
