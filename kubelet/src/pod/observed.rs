//! What the runtime has for one pod, reduced to what the planner and the status need.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Exited,
    Unknown,
}

/// One container instance (one attempt of a container of the spec).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: String,
    pub state: State,
    pub exit_code: i32,
    /// The runtime's reason ("OOMKilled", "Completed", "Error").
    pub reason: String,
    pub message: String,
    /// Unix nanoseconds (0 when unset).
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub restart_count: i32,
    pub image: String,
    pub image_ref: String,
    /// The spec hash recorded when it was created (empty if unknown).
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sandbox {
    pub id: String,
    pub ready: bool,
    pub ip: String,
    pub additional_ips: Vec<String>,
    pub created_at: i64,
    /// The sandbox's CRI attempt (part of its name, so a new sandbox needs a higher one).
    pub attempt: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Newest first.
    pub sandboxes: Vec<Sandbox>,
    /// Container name → instances, newest first.
    pub containers: HashMap<String, Vec<Instance>>,
}

impl Observed {
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandboxes.first()
    }
    pub fn ready_sandbox(&self) -> Option<&Sandbox> {
        self.sandboxes.first().filter(|s| s.ready)
    }
    pub fn latest(&self, name: &str) -> Option<&Instance> {
        self.containers.get(name).and_then(|v| v.first())
    }
    pub fn previous(&self, name: &str) -> Option<&Instance> {
        self.containers.get(name).and_then(|v| v.get(1))
    }
    pub fn sort(&mut self) {
        self.sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        for v in self.containers.values_mut() {
            v.sort_by_key(|i| std::cmp::Reverse((i.restart_count, i.created_at)));
        }
    }
}

pub fn nanos_to_system_time(n: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_nanos(n.max(0) as u64)
}
