//! The background writer: takes recorded events off the queue, decides create vs. repeat with
//! the [`EventCache`], and writes through the API. Failures are logged and dropped (events are
//! best-effort, as upstream), after a few retries for transport errors.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::EventApi;
use super::build::{self, Recorded};
use super::cache::{EventCache, EventKey};
use super::correlate::{Aggregator, COMBINED_PREFIX, SpamFilter};

/// Write attempts per event for errors worth retrying (upstream tries 12 times, 10s apart; a
/// shorter budget keeps one unreachable apiserver from backing the queue up for minutes).
const MAX_TRIES: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_secs(1);

pub(crate) struct Sink {
    client: kube::Client,
    api: EventApi,
    component: String,
    /// events.k8s.io/v1 `reportingInstance`: `<component>-<hostname>`, as upstream.
    instance: String,
    cache: EventCache,
    /// core/v1 only, as upstream's legacy recorder.
    aggregator: Aggregator,
    spam: SpamFilter,
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
            client,
            api,
            component: component.to_string(),
            instance: format!("{component}-{}", crate::host::hostname()),
            cache: EventCache::default(),
            aggregator: Aggregator::default(),
            spam: SpamFilter::default(),
        }
    }

    /// Write every event received until every recorder is dropped.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Recorded>) {
        while let Some(recorded) = rx.recv().await {
            self.write(recorded).await;
        }
    }

    async fn write(&mut self, mut r: Recorded) {
        let now = Instant::now();
        let object = format!(
            "{}/{}/{}/{}/{}",
            r.regarding.api_version.as_deref().unwrap_or(""),
            r.regarding.kind.as_deref().unwrap_or(""),
            r.regarding.namespace.as_deref().unwrap_or(""),
            r.regarding.name.as_deref().unwrap_or(""),
            r.regarding.uid.as_deref().unwrap_or(""),
        );
        let mut combined = false;
        if self.api == EventApi::CoreV1 {
            let group = (object.clone(), r.type_, r.reason.clone());
            if self.aggregator.combine(group, &r.message, now) {
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
        let repeat = self.cache.repeat(&key, now);
        // Upstream filters after counting, so a later write carries the full count.
        if self.api == EventApi::CoreV1 && !self.spam.allow(&object, now) {
            tracing::debug!(object = %object, reason = %r.reason, "event dropped by the spam filter");
            return;
        }
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
                Outcome::NotFound => self.cache.forget(&key),
                Outcome::Retry(error) | Outcome::Rejected(error) => {
                    tracing::warn!(event = %written.name, %error, "cannot update event; dropped");
                    self.cache.forget(&key);
                    return;
                }
            }
        }
        let namespace = build::event_namespace(&r.regarding);
        let name = build::event_name(r.regarding.name.as_deref().unwrap_or(""), r.at);
        match self.with_retries(|s| s.create(&r)).await {
            Outcome::Done => self.cache.created(key, namespace, name, Instant::now()),
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
