//! Reading one pod's state from the runtime, and the runtime-side steps of pod teardown.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cri::{CriError, RuntimeService, api, labels};

use super::observed::{Instance, Observed, Sandbox, State};

fn state(s: i32) -> State {
    match api::ContainerState::try_from(s) {
        Ok(api::ContainerState::ContainerCreated) => State::Created,
        Ok(api::ContainerState::ContainerRunning) => State::Running,
        Ok(api::ContainerState::ContainerExited) => State::Exited,
        _ => State::Unknown,
    }
}

/// Sandboxes and containers of the pod with this uid.
pub async fn observe(rt: &dyn RuntimeService, uid: &str) -> Result<Observed, CriError> {
    let sel = HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]);
    let mut obs = Observed::default();
    for sb in rt.list_pod_sandbox(sel).await? {
        let ready = sb.state == api::PodSandboxState::SandboxReady as i32;
        let (ip, additional_ips) = if ready {
            match rt.pod_sandbox_status(&sb.id).await {
                Ok(st) => {
                    let net = st.network.unwrap_or_default();
                    (net.ip, net.additional_ips.into_iter().map(|i| i.ip).collect())
                }
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        } else {
            (String::new(), vec![])
        };
        obs.sandboxes.push(Sandbox {
            id: sb.id.clone(),
            ready,
            ip,
            additional_ips,
            created_at: sb.created_at,
            attempt: sb.metadata.as_ref().map_or(0, |m| m.attempt),
        });
        for c in rt.list_containers(Some(&sb.id)).await? {
            let name = c
                .labels
                .get(labels::CONTAINER_NAME)
                .cloned()
                .or_else(|| c.metadata.as_ref().map(|m| m.name.clone()))
                .unwrap_or_default();
            let hash = c
                .annotations
                .get(labels::CONTAINER_HASH)
                .cloned()
                .unwrap_or_default();
            let restart_count = c
                .annotations
                .get(labels::RESTART_COUNT)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let st = match rt.container_status(&c.id).await {
                Ok(st) => st,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            obs.containers.entry(name).or_default().push(Instance {
                id: c.id.clone(),
                state: state(st.state),
                exit_code: st.exit_code,
                reason: st.reason,
                message: st.message,
                created_at: st.created_at,
                started_at: st.started_at,
                finished_at: st.finished_at,
                restart_count,
                image: st.image.map(|i| i.image).unwrap_or_default(),
                image_ref: st.image_ref,
                hash,
            });
        }
    }
    obs.sort();
    Ok(obs)
}

/// Stops and removes sandboxes (their containers go with them).
pub async fn remove_sandboxes(rt: &Arc<dyn RuntimeService>, ids: &[String]) -> Result<(), CriError> {
    for id in ids {
        match rt.stop_pod_sandbox(id).await {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
        match rt.remove_pod_sandbox(id).await {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
