//! Running a controller's workers over its queue, and feeding the queue from informers.

use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use rudder_client::informer::{Change, Subscription};
use rudder_client::workqueue::WorkQueue;
use rudder_component::shutdown::Shutdown;

/// What a successful sync asks for next.
pub type Requeue = Option<Duration>;

/// Runs `workers` loops of `get → sync → done` until `shutdown`, then shuts the queue down and
/// waits for the workers to drain. A failed sync is retried with the queue's per-item backoff;
/// a successful one resets it, and `Some(delay)` re-queues the key after `delay`.
pub async fn run_workers<T, F, Fut, E>(
    name: &str,
    queue: WorkQueue<T>,
    workers: usize,
    shutdown: Shutdown,
    sync: F,
) where
    T: Clone + Eq + Hash + Send + Sync + Display + 'static,
    F: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Requeue, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let sync = sync.clone();
        let name = name.to_string();
        handles.push(tokio::spawn(async move {
            while let Some(key) = queue.get().await {
                match sync(key.clone()).await {
                    Ok(requeue) => {
                        queue.forget(&key);
                        if let Some(delay) = requeue {
                            queue.add_after(key.clone(), delay);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(controller = %name, key = %key, error = %e, "sync failed; retrying");
                        queue.add_rate_limited(key.clone());
                    }
                }
                queue.done(&key);
            }
        }));
    }
    shutdown.wait().await;
    queue.shut_down();
    for h in handles {
        let _ = h.await;
    }
}

/// Spawns a task that hands every change from `sub` to `on_change` until the informer stops or
/// `shutdown` fires.
pub fn forward<K, F>(mut sub: Subscription<K>, shutdown: Shutdown, mut on_change: F)
where
    K: Send + Sync + 'static,
    F: FnMut(Change<K>) + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                change = sub.recv() => match change {
                    Some(change) => on_change(change),
                    None => return,
                },
            }
        }
    });
}

/// Waits until `synced()` holds (poll every 20 ms), or returns false on shutdown.
///
/// Use this instead of awaiting `Informer::wait_synced()` from several controllers at once:
/// that resolves through kube-runtime's `DelayedInit`, a single `oneshot::Receiver` that
/// remembers only the last waker, so with concurrent waiters only one of them is woken and the
/// others hang (seen here: the namespace and serviceaccount controllers both waiting on the
/// Namespace informer). `has_synced()` polls without waiting and is safe.
pub async fn wait_for_sync(shutdown: &Shutdown, synced: impl Fn() -> bool) -> bool {
    loop {
        if synced() {
            return true;
        }
        tokio::select! {
            _ = shutdown.wait() => return false,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}
