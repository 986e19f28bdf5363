//! The scheduling loop: pop a pod, decide over a fresh snapshot, assume it, and bind in the
//! background (upstream `scheduleOne` + the async binding cycle). Failures go back to the
//! queue with the `PodScheduled=False` condition and a FailedScheduling event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rudder_client::events::EventType;
use rudder_component::shutdown::Shutdown;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::Inner;
use super::api::{Unschedulable, pod_name};
use crate::algorithm::{Algorithm, ScheduleError};
use crate::framework::{CycleState, Snapshot};
use crate::queue::QueuedPod;

/// How long the loop sleeps at most without events (to run queue housekeeping).
const IDLE_TICK: Duration = Duration::from_secs(1);

impl Inner {
    /// Runs until `shutdown`; the caller holds leadership for the whole time.
    pub(crate) async fn scheduling_loop(self: Arc<Self>, shutdown: Shutdown) {
        let mut alg = Algorithm::default();
        let mut snapshot = Snapshot::default();
        loop {
            // A binding cycle in flight holds a slot from here to its end: when binding lags
            // behind, decisions wait and pending pods stay in the queue (compact) rather than
            // piling up as binding tasks.
            let slot = tokio::select! {
                _ = shutdown.wait() => return,
                slot = self.binding_cycles.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => return,
                },
            };
            let next = {
                let mut s = self.shared.lock();
                let now = Instant::now();
                s.queue.flush(now);
                self.metrics.set_pending(s.queue.pending());
                match s.queue.pop(now) {
                    Some(p) => Ok(p),
                    None => Err(s
                        .queue
                        .next_backoff_expiry()
                        .map_or(IDLE_TICK, |e| e.saturating_duration_since(now).min(IDLE_TICK))),
                }
            };
            match next {
                Ok((pod, cycle)) => {
                    self.schedule_one(&mut alg, &mut snapshot, pod, cycle, slot);
                    // Let informer handlers and binders run between cycles.
                    tokio::task::yield_now().await;
                }
                Err(wait) => {
                    drop(slot);
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
                    }
                }
            }
            if shutdown.is_triggered() {
                return;
            }
        }
    }

    fn schedule_one(
        self: &Arc<Self>,
        alg: &mut Algorithm,
        snapshot: &mut Snapshot,
        qp: QueuedPod,
        cycle: u64,
        slot: OwnedSemaphorePermit,
    ) {
        let pod = qp.info.clone();
        let profile_name = if pod.scheduler_name.is_empty() {
            crate::config::file::DEFAULT_SCHEDULER_NAME.to_string()
        } else {
            pod.scheduler_name.to_string()
        };
        let Some(profile) = self.profiles.get(&profile_name).cloned() else {
            self.shared.lock().queue.done(&pod.key);
            return;
        };
        let span = tracing::debug_span!("schedule", pod = %pod_name(&pod), profile = %profile_name);
        let _g = span.enter();
        let start = Instant::now();
        let nominated = {
            let mut s = self.shared.lock();
            // Already placed while it waited: nothing to do.
            if s.cache.pod(&pod.key).is_some() {
                s.queue.done(&pod.key);
                return;
            }
            s.cache.update_snapshot(snapshot);
            s.queue.nominated().clone()
        };
        let mut state = CycleState::default();
        let result = alg.schedule(&profile, &mut state, &pod, snapshot, &nominated);
        self.metrics
            .algorithm_duration
            .observe(start.elapsed().as_secs_f64());
        match result {
            Ok(r) => {
                tracing::debug!(node = %r.node, evaluated = r.evaluated_nodes, feasible = r.feasible_nodes, "assumed");
                {
                    let mut s = self.shared.lock();
                    s.cache.assume(pod.clone(), &r.node);
                    s.queue.clear_nomination(&pod.key);
                }
                self.spawn_bind(qp, r.node, profile_name, start, slot);
            }
            Err(ScheduleError::Fit(mut fit)) => {
                let mut nominated_node = None;
                if let Some(post) = profile.run_post_filter(&state, &pod, snapshot, &fit.diagnosis) {
                    if post.status.is_success() {
                        if let Some(node) = post.nominated_node.clone() {
                            self.metrics.preemption_attempts.inc();
                            self.metrics.preemption_victims.observe(post.victims.len() as f64);
                            self.spawn_preemption(pod.clone(), node.clone(), post.victims);
                            nominated_node = Some(node);
                        }
                    } else {
                        fit.diagnosis.post_filter_msg = post.status.message();
                        // Clear a stale nomination: preemption found nothing this time.
                        nominated_node = Some(String::new());
                    }
                }
                let plugins = fit
                    .diagnosis
                    .unschedulable_plugins
                    .iter()
                    .copied()
                    .filter(|p| !p.is_empty())
                    .collect();
                let why = Unschedulable {
                    reason: "Unschedulable",
                    message: fit.message(),
                    nominated_node,
                };
                self.fail(qp, cycle, plugins, why, &profile_name, start, false);
            }
            Err(e @ ScheduleError::NoNodes) => {
                let why = Unschedulable {
                    reason: "Unschedulable",
                    message: e.message(),
                    nominated_node: None,
                };
                self.fail(qp, cycle, Vec::new(), why, &profile_name, start, false);
            }
            Err(e @ ScheduleError::Internal(_)) => {
                let why = Unschedulable {
                    reason: "SchedulerError",
                    message: e.message(),
                    nominated_node: None,
                };
                self.fail(qp, cycle, Vec::new(), why, &profile_name, start, true);
            }
        }
    }

    /// Requeues a pod that did not get a node and reports why on the pod.
    #[allow(clippy::too_many_arguments)]
    fn fail(
        self: &Arc<Self>,
        mut qp: QueuedPod,
        cycle: u64,
        plugins: Vec<&'static str>,
        why: Unschedulable,
        profile: &str,
        start: Instant,
        error: bool,
    ) {
        let result = if error { "error" } else { "unschedulable" };
        self.metrics
            .schedule_attempts
            .with_label_values(&[result, profile])
            .inc();
        self.metrics
            .attempt_duration
            .with_label_values(&[result, profile])
            .observe(start.elapsed().as_secs_f64());
        tracing::debug!(message = %why.message, "unschedulable");
        let pod = qp.info.clone();
        qp.unschedulable_plugins = plugins;
        if let Some(node) = why.nominated_node.as_deref().filter(|n| !n.is_empty()) {
            self.shared.lock().queue.nominate(qp.info.clone(), node);
        }
        {
            let mut s = self.shared.lock();
            if error {
                s.queue.add_backoff(qp, Instant::now());
            } else {
                s.queue.add_unschedulable(qp, cycle, Instant::now());
            }
        }
        let api = self.api.clone();
        tokio::spawn(
            async move {
                api.event(
                    &pod,
                    EventType::Warning,
                    "FailedScheduling",
                    "Scheduling",
                    &why.message,
                );
                if let Err(error) = api.mark_unschedulable(&pod, &why).await {
                    tracing::warn!(%error, "recording unschedulable status");
                }
            }
            .in_current_span(),
        );
    }

    /// The binding cycle, off the scheduling loop: bind, then report; on failure forget the
    /// assumption and retry after backoff.
    fn spawn_bind(
        self: &Arc<Self>,
        qp: QueuedPod,
        node: String,
        profile: String,
        start: Instant,
        slot: OwnedSemaphorePermit,
    ) {
        let inner = self.clone();
        tokio::spawn(
            async move {
                let _slot = slot;
                let _permit = inner.bind_slots.acquire().await;
                let pod = qp.info.clone();
                match inner.api.bind(&pod, &node).await {
                    Ok(()) => {
                        inner
                            .metrics
                            .schedule_attempts
                            .with_label_values(&["scheduled", &profile])
                            .inc();
                        inner
                            .metrics
                            .attempt_duration
                            .with_label_values(&["scheduled", &profile])
                            .observe(start.elapsed().as_secs_f64());
                        let msg = format!("Successfully assigned {} to {node}", pod_name(&pod));
                        inner
                            .api
                            .event(&pod, EventType::Normal, "Scheduled", "Binding", &msg);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "binding failed");
                        inner
                            .metrics
                            .schedule_attempts
                            .with_label_values(&["error", &profile])
                            .inc();
                        {
                            let mut s = inner.shared.lock();
                            s.cache.forget(&qp.info.key);
                            s.queue.add_backoff(qp, Instant::now());
                        }
                        let msg = format!("Binding rejected: {error}");
                        inner
                            .api
                            .event(&pod, EventType::Warning, "FailedScheduling", "Binding", &msg);
                        inner.wake.notify_one();
                    }
                }
            }
            .in_current_span(),
        );
    }

    /// Preemption's API side: nominate the node on the preemptor's status, delete the victims,
    /// and clear nominations of lower-priority pods that counted on that node.
    fn spawn_preemption(
        self: &Arc<Self>,
        preemptor: Arc<crate::framework::PodInfo>,
        node: String,
        victims: Vec<Arc<crate::framework::PodInfo>>,
    ) {
        let displaced: Vec<_> = {
            let s = self.shared.lock();
            s.queue
                .nominated()
                .for_node(&node)
                .iter()
                .filter(|p| p.priority < preemptor.priority)
                .cloned()
                .collect()
        };
        {
            let mut s = self.shared.lock();
            for p in &displaced {
                s.queue.clear_nomination(&p.key);
            }
        }
        let api = self.api.clone();
        tokio::spawn(
            async move {
                for v in &victims {
                    if let Err(error) = api.preempt(v, &preemptor, &node).await {
                        tracing::warn!(%error, "deleting preemption victim");
                    }
                }
                for p in displaced {
                    if let Err(error) = api.set_nominated_node(&p, None).await {
                        tracing::warn!(%error, "clearing nominated node");
                    }
                }
            }
            .in_current_span(),
        );
    }
}
