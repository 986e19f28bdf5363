//! Waiting for several informers' initial lists, shared by this helper's controllers.
//!
//! `Informer::wait_synced` wraps kube-runtime's `Store::wait_until_ready`, whose one-shot
//! channel wakes only the most recent waiter: when two controllers wait on the same informer,
//! the first never wakes. Polling `has_synced` sidesteps that.

use std::time::Duration;

use rudder_component::shutdown::Shutdown;

/// Resolves true once every check passes, false if `shutdown` fires first.
pub(crate) async fn wait_synced(checks: &[&(dyn Fn() -> bool + Send + Sync)], shutdown: &Shutdown) -> bool {
    loop {
        if checks.iter().all(|synced| synced()) {
            return true;
        }
        tokio::select! {
            _ = shutdown.wait() => return false,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}
