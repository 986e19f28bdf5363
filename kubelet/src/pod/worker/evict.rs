//! Eviction of the worker's pod under node pressure: every container is killed, and the pod
//! is reported Failed with reason Evicted and upstream's message and DisruptionTarget
//! condition. The object stays (as upstream) until something deletes it.

use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::eviction::Pressure;

impl Worker {
    pub(super) async fn evict(&mut self, pod: &Pod, pressure: &Pressure) {
        warn!(pod = %names::name(pod), namespace = %names::namespace(pod), resource = pressure.resource, "evicting pod");
        self.ctx.event(pod, None, true, "Evicted", &pressure.message);
        self.evicted = true;
        // Hard eviction: no grace beyond the runtime's minimum.
        self.terminate(pod, 0).await;
        let now = Time(crate::node::now());
        let mut st = self
            .last_status
            .clone()
            .or_else(|| pod.status.clone())
            .unwrap_or_default();
        st.phase = Some("Failed".into());
        st.reason = Some("Evicted".into());
        st.message = Some(pressure.message.clone());
        let mut conditions = st.conditions.take().unwrap_or_default();
        conditions.retain(|c| c.type_ != "DisruptionTarget");
        for c in conditions
            .iter_mut()
            .filter(|c| c.type_ == "Ready" || c.type_ == "ContainersReady")
        {
            if c.status != "False" {
                c.status = "False".into();
                c.reason = Some("PodFailed".into());
                c.last_transition_time = Some(now.clone());
            }
        }
        conditions.push(PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("TerminationByKubelet".into()),
            message: Some(pressure.message.clone()),
            last_transition_time: Some(now.clone()),
            ..Default::default()
        });
        st.conditions = Some(conditions);
        for cs in st.container_statuses.iter_mut().flatten() {
            cs.ready = false;
            cs.started = Some(false);
            if cs.state.as_ref().is_none_or(|s| s.terminated.is_none()) {
                cs.state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 137,
                        reason: Some("Error".into()),
                        finished_at: Some(now.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
        }
        self.write_status(pod, st).await;
    }
}
