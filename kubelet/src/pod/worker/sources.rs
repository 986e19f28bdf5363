//! What a pod's containers and volumes read from the API: configMaps, secrets, claims, services.

use super::*;

impl Worker {
    pub(super) async fn refresh_sources(&mut self, pod: &Pod) {
        let fresh = self
            .sources_at
            .is_some_and(|t| t.elapsed() < self.ctx.config.pod_resync_period);
        if fresh {
            return;
        }
        let (cms, secrets) = env::referenced(pod);
        let ns = names::namespace(pod);
        let mut src = Sources::default();
        let cm_api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &ns);
        for name in cms {
            match cm_api.get_opt(&name).await {
                Ok(v) => {
                    src.config_maps.insert(name, v);
                }
                Err(e) => {
                    warn!(configmap = %name, error = %e, "get configmap");
                    if let Some(old) = self.sources.config_maps.get(&name) {
                        src.config_maps.insert(name, old.clone());
                    }
                }
            }
        }
        let secret_api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &ns);
        for name in secrets {
            match secret_api.get_opt(&name).await {
                Ok(v) => {
                    src.secrets.insert(name, v);
                }
                Err(e) => {
                    warn!(secret = %name, error = %e, "get secret");
                    if let Some(old) = self.sources.secrets.get(&name) {
                        src.secrets.insert(name, old.clone());
                    }
                }
            }
        }
        src.services = std::mem::take(&mut self.sources.services);
        let cached = std::mem::take(&mut self.sources.tokens);
        let (tokens, errors) =
            crate::pod::token::refresh(&self.ctx.client, pod, cached, std::time::SystemTime::now()).await;
        for e in errors {
            warn!(pod = %names::name(pod), namespace = %ns, error = %e, "service account token");
        }
        src.tokens = tokens;
        for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let Some(c) = &v.persistent_volume_claim {
                let path = self.claim_path(&ns, &c.claim_name).await;
                src.claims.insert(c.claim_name.clone(), path);
            }
        }
        self.sources = src;
        self.sources_at = Some(tokio::time::Instant::now());
    }

    /// The host path behind a bound claim (hostPath or local persistent volumes).
    pub(super) async fn claim_path(&self, ns: &str, claim: &str) -> Result<PathBuf, String> {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.ctx.client.clone(), ns);
        let pvc = pvcs
            .get_opt(claim)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" not found"))?;
        let volume = pvc
            .spec
            .and_then(|s| s.volume_name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" is not bound"))?;
        let pvs: Api<PersistentVolume> = Api::all(self.ctx.client.clone());
        let pv = pvs
            .get_opt(&volume)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolume \"{volume}\" not found"))?;
        let spec = pv.spec.unwrap_or_default();
        if let Some(h) = spec.host_path {
            if h.type_.as_deref() == Some("DirectoryOrCreate") {
                std::fs::create_dir_all(&h.path).map_err(|e| format!("{}: {e}", h.path))?;
            }
            return Ok(PathBuf::from(h.path));
        }
        if let Some(l) = spec.local {
            return Ok(PathBuf::from(l.path));
        }
        Err(format!(
            "persistentvolume \"{volume}\" is neither hostPath nor local: not supported"
        ))
    }

    /// Services for the service environment variables; fetched only when containers start.
    pub(super) async fn load_services(&mut self, pod: &Pod) {
        if self
            .services_at
            .is_some_and(|t| t.elapsed() < self.ctx.config.pod_resync_period)
        {
            return;
        }
        let ns = names::namespace(pod);
        let links = pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        let mut services = Vec::new();
        if links {
            let api: Api<Service> = Api::namespaced(self.ctx.client.clone(), &ns);
            match api.list(&Default::default()).await {
                Ok(l) => services.extend(l.items),
                Err(e) => warn!(namespace = %ns, error = %e, "list services"),
            }
        }
        if !links || ns != "default" {
            let api: Api<Service> = Api::namespaced(self.ctx.client.clone(), "default");
            if let Ok(Some(k)) = api.get_opt("kubernetes").await {
                services.push(k);
            }
        }
        self.sources.services = services;
        self.services_at = Some(tokio::time::Instant::now());
    }
}
