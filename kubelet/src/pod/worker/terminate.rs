//! Termination: preStop hooks, stops within the grace period, removal of everything.

use super::*;

impl Worker {
    /// Stops everything of the pod: preStop hooks and SIGTERM within `grace` seconds (then
    /// SIGKILL by the runtime), sandbox removal, pod and log directories, cgroups.
    pub(super) async fn terminate(&mut self, pod: &Pod, grace: i64) {
        let rt = self.ctx.runtime.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(grace.max(0) as u64);
        for id in self.probers.keys().cloned().collect::<Vec<_>>() {
            self.forget_probes(&id);
        }
        let obs = match self.observe(pod).await {
            Ok(o) => o,
            Err(e) => {
                warn!(pod = %names::name(pod), error = %e, "observe for termination");
                Observed::default()
            }
        };
        let ip = obs.sandbox().map(|s| s.ip.clone()).unwrap_or_default();
        let containers: Vec<Container> = pod
            .spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(s.containers.iter()))
            .cloned()
            .collect();
        let mut stops = Vec::new();
        for (name, instances) in &obs.containers {
            for i in instances
                .iter()
                .filter(|i| i.state == State::Running || i.state == State::Created)
            {
                let c = containers.iter().find(|c| &c.name == name).cloned();
                let rt = rt.clone();
                let id = i.id.clone();
                let ip = ip.clone();
                stops.push(async move {
                    if let Some(c) = &c
                        && let Some(h) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref())
                    {
                        let _ =
                            tokio::time::timeout_at(deadline, hooks::run(h, c, rt.as_ref(), &id, &ip, grace))
                                .await;
                    }
                    let left = deadline
                        .saturating_duration_since(tokio::time::Instant::now())
                        .as_secs() as i64;
                    if let Err(e) = rt.stop_container(&id, left.max(MIN_GRACE_SECONDS)).await
                        && !e.is_not_found()
                    {
                        warn!(container = %id, error = %e, "stop container");
                    }
                });
            }
        }
        futures::future::join_all(stops).await;
        let ids: Vec<String> = obs.sandboxes.iter().map(|s| s.id.clone()).collect();
        if let Err(e) = runtime::remove_sandboxes(&rt, &ids).await {
            warn!(pod = %names::name(pod), error = %e, "remove sandbox");
        }
        cleanup_dirs(&self.ctx, pod);
        info!(pod = %names::name(pod), namespace = %names::namespace(pod), "pod terminated");
    }

    pub(super) async fn delete_object(&self, pod: &Pod) {
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &names::namespace(pod));
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&names::name(pod), &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => warn!(pod = %names::name(pod), error = %e, "delete pod"),
        }
    }
}

/// Removes the pod's directory (volumes), its log directory and its cgroups.
pub fn cleanup_dirs(ctx: &PodContext, pod: &Pod) {
    let uid = names::uid(pod);
    volumes::teardown(&names::pod_dir(&ctx.config.root_dir, &uid));
    let _ = std::fs::remove_dir_all(names::log_dir(
        &ctx.config.pod_logs_dir,
        &names::namespace(pod),
        &names::name(pod),
        &uid,
    ));
    names::remove_pod_cgroups(&names::cgroup_parent(
        ctx.config.cgroup_driver,
        &ctx.config.cgroup_root,
        names::qos_class(pod),
        &uid,
    ));
}
