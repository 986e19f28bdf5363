//! Images per imagePullPolicy, with pull secrets and back-off on failures.

use super::*;

fn default_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
        "IfNotPresent"
    } else {
        "Always"
    }
}

impl Worker {
    /// Credentials for the image from the pod's imagePullSecrets, if any match its registry.
    async fn pull_auth(&self, pod: &Pod, image: &str) -> Option<crate::cri::api::AuthConfig> {
        let refs = pod.spec.as_ref()?.image_pull_secrets.clone()?;
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &names::namespace(pod));
        let mut secrets = Vec::new();
        for r in refs {
            match api.get_opt(&r.name).await {
                Ok(Some(s)) => secrets.push(s),
                Ok(None) => warn!(secret = %r.name, "image pull secret not found"),
                Err(e) => warn!(secret = %r.name, error = %e, "get image pull secret"),
            }
        }
        crate::pod::pull_secrets::auth_for(image, &secrets)
    }

    /// Makes sure the image is there per imagePullPolicy; Err is (reason, message).
    pub(super) async fn ensure_image(&mut self, pod: &Pod, c: &Container) -> Result<(), (String, String)> {
        let r = self.ensure_image_inner(pod, c).await;
        if let Err((reason, message)) = &r {
            let ev = if reason == "ImagePullBackOff" {
                "BackOff"
            } else {
                "Failed"
            };
            self.ctx.event(pod, Some(&c.name), true, ev, message);
        }
        r
    }

    async fn ensure_image_inner(&mut self, pod: &Pod, c: &Container) -> Result<(), (String, String)> {
        let image = c.image.clone().unwrap_or_default();
        let policy = c
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| default_pull_policy(&image).into());
        let present = matches!(self.ctx.images.image_status(&image).await, Ok(Some(_)));
        match policy.as_str() {
            "Never" if !present => {
                return Err((
                    "ErrImageNeverPull".into(),
                    format!("Container image \"{image}\" is not present with pull policy of Never"),
                ));
            }
            "Never" => return Ok(()),
            "IfNotPresent" if present => {
                self.ctx.event(
                    pod,
                    Some(&c.name),
                    false,
                    "Pulled",
                    &format!("Container image \"{image}\" already present on machine"),
                );
                return Ok(());
            }
            _ => {}
        }
        let key = format!("image:{image}");
        if let Some(failed) = self.image_failures.get(&key)
            && self
                .backoff
                .in_backoff_since(&key, *failed, SystemTime::now())
                .is_some()
        {
            return Err((
                "ImagePullBackOff".into(),
                format!("Back-off pulling image \"{image}\""),
            ));
        }
        self.ctx.event(
            pod,
            Some(&c.name),
            false,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
        let started = std::time::Instant::now();
        let auth = self.pull_auth(pod, &image).await;
        match self.ctx.images.pull_image(&image, auth).await {
            Ok(_) => {
                self.ctx.event(
                    pod,
                    Some(&c.name),
                    false,
                    "Pulled",
                    &format!("Successfully pulled image \"{image}\" in {:?}", started.elapsed()),
                );
                self.image_failures.remove(&key);
                self.backoff.forget(&key);
                Ok(())
            }
            Err(e) => {
                let now = SystemTime::now();
                self.backoff.next(&key, now);
                self.image_failures.insert(key, now);
                Err(("ErrImagePull".into(), e.to_string()))
            }
        }
    }
}
