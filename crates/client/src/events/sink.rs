//! The background writer: takes recorded events off the queue, decides create vs. repeat with
//! the [`EventCache`], and writes through the API. Failures are logged and dropped (events are
//! best-effort, as upstream), after a few retries for transport errors.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::EventApi;
use super::build::{self, Recorded};
use super::cache::{EventCache, EventKey, Written};
use super::correlate::{Aggregator, COMBINED_PREFIX, SpamFilter};

/// Write attempts per event for errors worth retrying (upstream tries 12 times, 10s apart; a
/// shorter budget keeps one unreachable apiserver from backing the queue up for minutes).
const MAX_TRIES: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Events written at once (upstream writes one at a time, but its API calls are quick; ours
/// go through one HTTP/2 connection, where a handful in flight keeps the queue draining at API
/// speed under a burst such as 30,000 `Scheduled` events).
const IN_FLIGHT: usize = 16;
/// Past this many per-key write locks, idle ones are dropped.
const PRUNE_KEYS_ABOVE: usize = 1024;

/// Takes events off the queue in order, decides (correlation, spam filter, create vs. repeat)
/// one at a time, and hands each write to a task of its own, at most [`IN_FLIGHT`] at once.
/// Writes for one key run one after another, so a repeat patches the Event its predecessor
/// created.
pub(crate) struct Sink {
    writer: Arc<Writer>,
    /// core/v1 only, as upstream's legacy recorder.
    aggregator: Aggregator,
    spam: SpamFilter,
    slots: Arc<Semaphore>,
    /// One lock per event key whose write is (or was lately) in flight.
    key_locks: HashMap<EventKey, Arc<tokio::sync::Mutex<()>>>,
}

/// What a write task needs: the API and the cache the tasks share.
struct Writer {
    client: kube::Client,
    api: EventApi,
    component: String,
    /// events.k8s.io/v1 `reportingInstance`: `<component>-<hostname>`, as upstream.
    instance: String,
    cache: Mutex<EventCache>,
}

enum Outcome {
    Done,
    NotFound,
    Retry(kube::Error),
    Rejected(kube::Error),
}

impl Sink {
    pub(crate) fn new(client: kube::Client, api: EventApi, component: &str) -> Self {
        Self {
            writer: Arc::new(Writer {
                client,
                api,
                component: component.to_string(),
                instance: format!("{component}-{}", crate::host::hostname()),
                cache: Mutex::new(EventCache::default()),
            }),
            aggregator: Aggregator::default(),
            spam: SpamFilter::default(),
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            key_locks: HashMap::new(),
        }
    }

    /// Write every event received until every recorder is dropped, then wait for the writes
    /// in flight.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Recorded>) {
        let mut tasks = JoinSet::new();
        while let Some(recorded) = rx.recv().await {
            // Reap finished writes so the set stays small.
            while tasks.try_join_next().is_some() {}
            if let Some(write) = self.dispatch(recorded).await {
                tasks.spawn(write);
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Decide what to write for `r` and return the write, once a slot is free; `None` if the
    /// event is dropped (spam filter).
    async fn dispatch(&mut self, mut r: Recorded) -> Option<impl Future<Output = ()> + use<>> {
        let api = self.writer.api;
        let object = format!(
            "{}/{}/{}/{}/{}",
            r.regarding.api_version.as_deref().unwrap_or(""),
            r.regarding.kind.as_deref().unwrap_or(""),
            r.regarding.namespace.as_deref().unwrap_or(""),
            r.regarding.name.as_deref().unwrap_or(""),
            r.regarding.uid.as_deref().unwrap_or(""),
        );
        let mut combined = false;
        if api == EventApi::CoreV1 {
            let group = (object.clone(), r.type_, r.reason.clone());
            if self.aggregator.combine(group, &r.message, Instant::now()) {
                combined = true;
                r.message = format!("{COMBINED_PREFIX}{}", r.message);
            }
        }
        let key = EventKey {
            api_version: r.regarding.api_version.clone().unwrap_or_default(),
            kind: r.regarding.kind.clone().unwrap_or_default(),
            namespace: r.regarding.namespace.clone().unwrap_or_default(),
            name: r.regarding.name.clone().unwrap_or_default(),
            uid: r.regarding.uid.clone().unwrap_or_default(),
            type_: r.type_,
            reason: r.reason.clone(),
            action: r.action.clone(),
            // Combined events are one Event whatever their message.
            message: if combined {
                COMBINED_PREFIX.to_string()
            } else {
                r.message.clone()
            },
        };
        // Wait for an earlier write of the same key (rare: a quick repeat), so the cache
        // below knows the Event it created.
        let key_guard = self.key_lock(&key).lock_owned().await;
        let now = Instant::now();
        let repeat = self.writer.cache.lock().repeat(&key, now);
        // Upstream filters after counting, so a later write carries the full count.
        if api == EventApi::CoreV1 && !self.spam.allow(&object, now) {
            tracing::debug!(object = %object, reason = %r.reason, "event dropped by the spam filter");
            return None;
        }
        // A closed semaphore cannot happen (never closed); treat it as "write anyway".
        let slot = self.slots.clone().acquire_owned().await.ok();
        let writer = self.writer.clone();
        Some(async move {
            writer.write(r, key, repeat).await;
            drop((key_guard, slot));
        })
    }

    fn key_lock(&mut self, key: &EventKey) -> Arc<tokio::sync::Mutex<()>> {
        if self.key_locks.len() > PRUNE_KEYS_ABOVE {
            // A lock only this map holds guards no write.
            self.key_locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        self.key_locks.entry(key.clone()).or_default().clone()
    }
}

impl Writer {
    async fn write(&self, r: Recorded, key: EventKey, repeat: Option<Written>) {
        if let Some(written) = repeat {
            let patch = match self.api {
                EventApi::CoreV1 => build::core_repeat_patch(&r, written.count),
                EventApi::EventsV1 => build::events_v1_repeat_patch(&r, written.count),
            };
            match self
                .with_retries(|s| s.patch(&written.namespace, &written.name, &patch))
                .await
            {
                Outcome::Done => return,
                // Gone (expired on the server): write it afresh below.
                Outcome::NotFound => self.cache.lock().forget(&key),
                Outcome::Retry(error) | Outcome::Rejected(error) => {
                    tracing::warn!(event = %written.name, %error, "cannot update event; dropped");
                    self.cache.lock().forget(&key);
                    return;
                }
            }
        }
        let namespace = build::event_namespace(&r.regarding);
        let name = build::event_name(r.regarding.name.as_deref().unwrap_or(""), r.at);
        match self.with_retries(|s| s.create(&r)).await {
            Outcome::Done => self.cache.lock().created(key, namespace, name, Instant::now()),
            Outcome::NotFound | Outcome::Retry(_) | Outcome::Rejected(_) => {}
        }
    }

    async fn with_retries<'a, F, Fut>(&'a self, attempt: F) -> Outcome
    where
        F: Fn(&'a Self) -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        let mut tries = 1;
        loop {
            match attempt(self).await {
                Outcome::Retry(error) if tries < MAX_TRIES => {
                    tracing::debug!(%error, "cannot write event; retrying");
                    tries += 1;
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Outcome::Retry(error) => {
                    tracing::warn!(%error, "cannot write event; dropped");
                    return Outcome::Retry(error);
                }
                Outcome::Rejected(error) => {
                    // Upstream: the server refused it; retrying would not help.
                    tracing::warn!(%error, "server rejected event; dropped");
                    return Outcome::Rejected(error);
                }
                other => return other,
            }
        }
    }

    async fn create(&self, r: &Recorded) -> Outcome {
        let namespace = build::event_namespace(&r.regarding);
        let result = match self.api {
            EventApi::CoreV1 => {
                let event = build::core_event(r, &self.component);
                Api::<CoreEvent>::namespaced(self.client.clone(), &namespace)
                    .create(&PostParams::default(), &event)
                    .await
                    .map(drop)
            }
            EventApi::EventsV1 => {
                let event = build::events_v1_event(r, &self.component, &self.instance);
                Api::<EventsV1Event>::namespaced(self.client.clone(), &namespace)
                    .create(&PostParams::default(), &event)
                    .await
                    .map(drop)
            }
        };
        classify(result)
    }

    async fn patch(&self, namespace: &str, name: &str, patch: &serde_json::Value) -> Outcome {
        let params = PatchParams::default();
        let patch = Patch::Merge(patch);
        let result = match self.api {
            EventApi::CoreV1 => Api::<CoreEvent>::namespaced(self.client.clone(), namespace)
                .patch(name, &params, &patch)
                .await
                .map(drop),
            EventApi::EventsV1 => Api::<EventsV1Event>::namespaced(self.client.clone(), namespace)
                .patch(name, &params, &patch)
                .await
                .map(drop),
        };
        classify(result)
    }
}

/// Upstream `recordEvent`: API status errors are final (AlreadyExists quietly so), anything
/// else (transport) may be retried.
fn classify(result: Result<(), kube::Error>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(kube::Error::Api(status)) if status.code == 404 => Outcome::NotFound,
        Err(kube::Error::Api(status)) if status.code == 409 => Outcome::Done,
        Err(error @ kube::Error::Api(_)) => Outcome::Rejected(error),
        Err(error) => Outcome::Retry(error),
    }
}
