//! Starting a container in the pod's sandbox, with its hooks and events.

use super::*;

impl Worker {
    /// The pod's resolver config, recording upstream's events on the way.
    fn sandbox_dns(&self, pod: &Pod) -> Result<crate::cri::api::DnsConfig, String> {
        let config = &self.ctx.config;
        let host = config
            .resolv_conf
            .as_ref()
            .map(|path| match std::fs::read_to_string(path) {
                Ok(text) => dns::parse_resolv_conf(&text),
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "read resolv.conf");
                    dns::HostDns::default()
                }
            });
        let node_ips = [self.ctx.facts.ip];
        let settings = dns::Settings {
            cluster_dns: &config.cluster_dns,
            cluster_domain: &config.cluster_domain,
            host: host.as_ref(),
            node_ips: &node_ips,
        };
        let out = dns::pod_dns(pod, &settings)?;
        for ev in &out.events {
            self.ctx.event(pod, None, true, ev.reason, &ev.message);
            if ev.on_node {
                self.ctx.node_event(true, ev.reason, &ev.message);
            }
        }
        Ok(out.config)
    }

    /// Creates the pod's sandbox (its log directory first).
    pub(super) async fn run_sandbox(&mut self, pod: &Pod) -> Result<String, crate::cri::CriError> {
        let dns = self
            .sandbox_dns(pod)
            .map_err(|message| crate::cri::CriError::Runtime {
                op: "RunPodSandbox",
                message,
            })?;
        let cfg = spec::sandbox_config(pod, &self.ctx.config, self.sandbox_attempts, Some(dns));
        std::fs::create_dir_all(&cfg.log_directory).ok();
        self.sandbox_attempts += 1;
        self.mark("dns+config");
        // Held until this pod's containers were started (the end of the next sync), so that a
        // pod that has its sandbox goes on to its containers before newer pods start theirs.
        if self.start_permit.is_none() {
            self.start_permit = self.ctx.starts.clone().acquire_owned().await.ok();
        }
        self.mark("start-slot");
        let r = self.ctx.runtime.run_pod_sandbox(cfg).await;
        self.mark("sandbox");
        r
    }

    pub(super) async fn start_container(
        &mut self,
        pod: &Pod,
        c: &Container,
        obs: &Observed,
    ) -> Result<(), (String, String)> {
        self.ensure_image(pod, c).await?;
        self.mark(format!("image[{}]", c.name));
        let Some(sandbox) = obs.ready_sandbox() else {
            return Err(("ContainerCreating".into(), String::new()));
        };
        self.load_services(pod).await;
        self.mark("services");
        let env = env::environment(pod, c, &self.sources, &self.ctx.facts, &sandbox.ip)
            .map_err(|m| ("CreateContainerConfigError".to_string(), m))?;
        let vols = self.volumes.clone().unwrap_or_default();
        let mounts = volumes::mounts(c, &vols).map_err(|m| ("CreateContainerConfigError".to_string(), m))?;
        let restart_count = obs.latest(&c.name).map_or(0, |i| i.restart_count + 1);
        let cfg = spec::container_config(
            pod,
            c,
            spec::ContainerInputs {
                restart_count,
                env,
                mounts,
                node_memory: self.ctx.facts.allocatable_memory,
            },
        );
        let sandbox_cfg = spec::sandbox_config(pod, &self.ctx.config, self.sandbox_attempts, None);
        let permit = match self.start_permit {
            Some(_) => None,
            None => self.ctx.starts.clone().acquire_owned().await.ok(),
        };
        let id = self
            .ctx
            .runtime
            .create_container(&sandbox.id, cfg, sandbox_cfg)
            .await
            .map_err(|e| ("CreateContainerError".to_string(), e.to_string()))?;
        self.mark(format!("create[{}]", c.name));
        self.ctx.event(
            pod,
            Some(&c.name),
            false,
            "Created",
            &format!("Created container: {}", c.name),
        );
        let started = self.ctx.runtime.start_container(&id).await;
        drop(permit);
        if let Err(e) = started {
            self.ctx
                .event(pod, Some(&c.name), true, "Failed", &format!("Error: {e}"));
            return Err(("RunContainerError".into(), e.to_string()));
        }
        self.mark(format!("start[{}]", c.name));
        self.ctx.event(
            pod,
            Some(&c.name),
            false,
            "Started",
            &format!("Started container {}", c.name),
        );
        info!(pod = %names::name(pod), namespace = %names::namespace(pod), container = %c.name, restart_count, "started container");
        if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            // A failing postStart kills the container, which then restarts per policy.
            if !hooks::run(h, c, self.ctx.runtime.as_ref(), &id, &sandbox.ip, 30).await {
                let _ = self.ctx.runtime.stop_container(&id, MIN_GRACE_SECONDS).await;
            }
        }
        Ok(())
    }
}
