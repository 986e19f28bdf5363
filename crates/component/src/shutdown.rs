//! Graceful shutdown: a cloneable signal that servers and loops wait on.
//!
//! `Shutdown::new()` gives a [`ShutdownTrigger`] (fires the signal) and a [`Shutdown`] (waits for
//! it). Binaries use [`Shutdown::on_signal`], which fires on the first SIGINT or SIGTERM and, like
//! upstream's `SetupSignalHandler`, exits the process with status 1 on the second one.
//!
//! Dropping every trigger without firing does **not** shut anything down: waiters then wait forever.
//! This keeps `let (_, shutdown) = Shutdown::new()` from stopping a test server at once.

use std::sync::Arc;

use tokio::sync::watch;

/// Fires the shutdown signal. Cheap to clone; every clone fires the same signal.
#[derive(Clone, Debug)]
pub struct ShutdownTrigger {
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownTrigger {
    /// Fire the signal. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the signal has been fired.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }
}

/// Waits for the shutdown signal. Cheap to clone; hand one to every task that must stop.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new signal, not yet fired, and the trigger that fires it.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx: Arc::new(tx) }, Shutdown { rx })
    }

    /// A signal fired by the first SIGINT or SIGTERM. A second one exits the process with status 1
    /// (upstream `k8s.io/apiserver/pkg/server/signal.go` does the same).
    ///
    /// Must be called inside a tokio runtime. Fails only if the signal handlers cannot be installed.
    pub fn on_signal() -> std::io::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};

        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            tokio::select! {
                _ = sigint.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
                _ = sigterm.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
            }
            trigger.trigger();
            tokio::select! {
                _ = sigint.recv() => {}
                _ = sigterm.recv() => {}
            }
            tracing::warn!("second signal received, exiting at once");
            std::process::exit(1);
        });
        Ok(shutdown)
    }

    /// Resolve once the signal has been fired (at once if it already has). Cancel-safe, so it can
    /// sit in a `tokio::select!` loop. Never resolves if every trigger was dropped without firing.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|fired| *fired).await.is_err() {
            // Every trigger is gone and none fired: nothing can shut us down any more.
            std::future::pending::<()>().await;
        }
    }

    /// Whether the signal has been fired.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn wait_resolves_after_trigger_for_every_clone() {
        let (trigger, shutdown) = Shutdown::new();
        let other = shutdown.clone();
        assert!(!shutdown.is_triggered());
        assert!(!trigger.is_triggered());

        let waiter = tokio::spawn(async move { other.wait().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());

        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("waiter resolves")
            .expect("waiter task");
        assert!(shutdown.is_triggered());
        assert!(trigger.is_triggered());
        // Waiting after the fact resolves at once, repeatedly.
        shutdown.wait().await;
        shutdown.wait().await;
    }

    #[tokio::test]
    async fn trigger_is_idempotent_and_clones_share_the_signal() {
        let (trigger, shutdown) = Shutdown::new();
        let second = trigger.clone();
        drop(trigger);
        second.trigger();
        second.trigger();
        shutdown.wait().await;
        assert!(shutdown.clone().is_triggered());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_trigger_does_not_fire() {
        let (trigger, shutdown) = Shutdown::new();
        drop(trigger);
        assert!(!shutdown.is_triggered());
        let waited = tokio::time::timeout(Duration::from_secs(3600), shutdown.wait()).await;
        assert!(waited.is_err(), "wait must not resolve without a trigger");
    }

    #[tokio::test]
    async fn wait_is_usable_in_select() {
        let (trigger, shutdown) = Shutdown::new();
        let mut ticks = 0u32;
        let mut interval = tokio::time::interval(Duration::from_millis(1));
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = interval.tick() => {
                    ticks += 1;
                    if ticks == 3 {
                        trigger.trigger();
                    }
                }
            }
        }
        assert_eq!(ticks, 3);
    }

    #[tokio::test]
    async fn on_signal_fires_on_sigterm() {
        let shutdown = Shutdown::on_signal().expect("install signal handlers");
        assert!(!shutdown.is_triggered());
        // One SIGTERM to ourselves: the handler is installed, so it fires the signal instead of
        // killing the test process. (A second one would exit; no other test sends signals.)
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(10), shutdown.wait())
            .await
            .expect("SIGTERM fires the shutdown signal");
    }
}
