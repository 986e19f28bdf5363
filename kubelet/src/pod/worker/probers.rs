//! One prober task per running container that has probes.

use super::*;

impl Worker {
    pub(super) fn forget_probes(&mut self, container_id: &str) {
        if let Some(h) = self.probers.remove(container_id) {
            h.abort();
        }
        self.probes.lock().remove(container_id);
    }

    pub(super) fn manage_probers(&mut self, pod: &Pod, obs: &Observed) {
        let Some(spec) = &pod.spec else { return };
        let ip = obs.ready_sandbox().map(|s| s.ip.clone()).unwrap_or_default();
        let mut live = HashSet::new();
        for c in &spec.containers {
            let Some(i) = obs.latest(&c.name).filter(|i| i.state == State::Running) else {
                continue;
            };
            if !probe::has_probes(c) {
                continue;
            }
            live.insert(i.id.clone());
            if !self.probers.contains_key(&i.id) {
                let task = tokio::spawn(probe::run(
                    c.clone(),
                    i.id.clone(),
                    ip.clone(),
                    self.ctx.runtime.clone(),
                    self.probes.clone(),
                    self.notify.clone(),
                ));
                self.probers.insert(i.id.clone(), task.abort_handle());
            }
        }
        let gone: Vec<String> = self
            .probers
            .keys()
            .filter(|id| !live.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.forget_probes(&id);
        }
    }
}
