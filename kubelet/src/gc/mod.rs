//! Garbage collection: dead containers, sandboxes and log folders (every minute, upstream's
//! `ContainerGCPeriod`; orphans of gone pods on every housekeeping pass) and unused images
//! under disk pressure (every five minutes, upstream's `ImageGCPeriod`). The decisions are
//! pure plans in `containers` and `images`; this module reads the runtime and carries them out.

pub mod containers;
pub mod images;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

use tracing::{debug, info, warn};

use crate::cri::{CriError, RuntimeService};
use crate::pod::{PodContext, names, runtime};

/// Collects what the runtime and the disk hold of pods that are gone (every sandbox, their
/// log folders and cgroups) and, with `dead_containers`, dead containers beyond the policy and
/// empty old sandboxes of existing pods. `known` are the uids of pods the kubelet runs.
pub async fn collect_containers(
    ctx: &PodContext,
    known: &HashSet<String>,
    dead_containers: bool,
) -> Result<containers::Removals, CriError> {
    let rt = &ctx.runtime;
    let sandboxes: Vec<containers::SandboxInfo> = rt
        .list_pod_sandbox(HashMap::new())
        .await?
        .iter()
        .map(containers::SandboxInfo::from_cri)
        .collect();
    let all: Vec<containers::ContainerInfo> = rt
        .list_containers(None)
        .await?
        .iter()
        .map(containers::ContainerInfo::from_cri)
        .collect();
    let log_dirs: Vec<String> = std::fs::read_dir(&ctx.config.pod_logs_dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // A sandbox or container without our uid label is not the kubelet's: never gone.
    let gone = |uid: &str| !uid.is_empty() && !known.contains(uid);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let plan = containers::plan(
        &sandboxes,
        &all,
        &gone,
        &log_dirs,
        &ctx.config.container_gc,
        dead_containers,
        now,
    );
    for id in &plan.containers {
        remove_container(rt.as_ref(), id).await;
    }
    for id in &plan.sandboxes {
        info!(sandbox = %id, "removing sandbox");
        if let Err(e) = runtime::remove_sandboxes(rt, std::slice::from_ref(id)).await {
            warn!(sandbox = %id, error = %e, "remove sandbox");
        }
    }
    for d in &plan.log_dirs {
        debug!(dir = %d, "removing pod logs of a pod that is gone");
        let _ = std::fs::remove_dir_all(ctx.config.pod_logs_dir.join(d));
    }
    for uid in &plan.gone_pods {
        // The QoS class of a gone pod is unknown: its cgroup is under one of the three.
        for qos in ["Guaranteed", "Burstable", "BestEffort"] {
            names::remove_pod_cgroups(&names::cgroup_parent(
                ctx.config.cgroup_driver,
                &ctx.config.cgroup_root,
                qos,
                uid,
            ));
        }
    }
    Ok(plan)
}

/// Removes a dead container and its log file (the runtime keeps log files; upstream's
/// `removeContainerLog`).
async fn remove_container(rt: &dyn RuntimeService, id: &str) {
    let log_path = match rt.container_status(id).await {
        Ok(st) => st.log_path,
        Err(e) if e.is_not_found() => return,
        Err(_) => String::new(),
    };
    debug!(container = %id, "removing dead container");
    match rt.remove_container(id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            warn!(container = %id, error = %e, "remove dead container");
            return;
        }
    }
    if !log_path.is_empty() {
        let _ = std::fs::remove_file(&log_path);
    }
}

/// The image filesystem's capacity and free space. containerd 1.6 reports only the bytes its
/// images use and the mountpoint in `ImageFsInfo` (no capacity, like every CRI runtime: upstream
/// gets the figures from cAdvisor), so the figures come from statvfs of that mountpoint.
pub fn fs_stats(mountpoint: &Path) -> Option<images::FsStats> {
    let st = rustix::fs::statvfs(mountpoint).ok()?;
    let frsize = if st.f_frsize > 0 { st.f_frsize } else { st.f_bsize };
    Some(images::FsStats {
        capacity: st.f_blocks.saturating_mul(frsize),
        available: st.f_bavail.saturating_mul(frsize),
    })
}

/// What the image collector remembers between rounds (upstream's image records).
#[derive(Debug, Default)]
pub struct ImageGc {
    records: HashMap<String, images::Record>,
}

/// The outcome of one image collection round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRound {
    pub plan: images::Plan,
    /// Ids actually removed and the bytes they held.
    pub removed: Vec<String>,
    pub freed: i64,
}

impl ImageGc {
    /// One round: records updated, and under disk pressure unused images removed (least
    /// recently used first) with upstream's node events when that is not enough.
    pub async fn collect(&mut self, ctx: &PodContext) -> Result<ImageRound, CriError> {
        let listed = ctx.images.list_images().await?;
        let infos: Vec<images::ImageInfo> = listed.iter().map(images::ImageInfo::from_cri).collect();
        let containers = ctx.runtime.list_containers(None).await?;
        let sandbox_image = ctx.runtime.sandbox_image().await.unwrap_or_default();
        let refs = containers
            .iter()
            .flat_map(|c| {
                [
                    c.image_ref.as_str(),
                    c.image.as_ref().map_or("", |i| i.image.as_str()),
                ]
            })
            .chain(sandbox_image.as_deref());
        let in_use = images::in_use(&infos, refs);
        let now = SystemTime::now();
        images::detect(&mut self.records, &infos, &in_use, now);
        let mountpoint = ctx
            .images
            .image_fs_info()
            .await?
            .into_iter()
            .find_map(|f| f.fs_id.map(|id| id.mountpoint))
            .filter(|m| !m.is_empty());
        let Some(mountpoint) = mountpoint else {
            debug!("the runtime reports no image filesystem: no image collection");
            return Ok(ImageRound::default());
        };
        let fs = fs_stats(Path::new(&mountpoint)).unwrap_or(images::FsStats {
            capacity: 0,
            available: 0,
        });
        let plan = match images::plan(&infos, &in_use, &self.records, fs, &ctx.config.image_gc, now) {
            Ok(p) => p,
            Err(e) => {
                ctx.node_event(true, "InvalidDiskCapacity", &e.to_string());
                return Ok(ImageRound::default());
            }
        };
        let mut round = ImageRound {
            plan,
            ..ImageRound::default()
        };
        if round.plan.bytes_to_free <= 0 && round.plan.remove.is_empty() {
            return Ok(round);
        }
        info!(
            usage = round.plan.usage_percent,
            high = ctx.config.image_gc.high_threshold_percent,
            low = ctx.config.image_gc.low_threshold_percent,
            bytes_to_free = round.plan.bytes_to_free,
            "disk usage on the image filesystem is over the high threshold: freeing images"
        );
        let mut errors = Vec::new();
        for (id, size) in &round.plan.remove {
            info!(image = %id, size, "removing image to free bytes");
            match ctx.images.remove_image(id).await {
                Ok(()) => {
                    self.records.remove(id);
                    round.removed.push(id.clone());
                    round.freed += *size as i64;
                }
                Err(e) => errors.push(format!("{id}: {e}")),
            }
        }
        if !errors.is_empty() {
            ctx.node_event(
                true,
                "ImageGCFailed",
                &format!(
                    "wanted to free {} bytes, but freed {} bytes space with errors in image deletion: {}",
                    round.plan.bytes_to_free,
                    round.freed,
                    errors.join("; ")
                ),
            );
        } else if round.freed < round.plan.bytes_to_free {
            let msg = images::free_failed_message(round.plan.bytes_to_free, round.freed);
            warn!("{msg}");
            ctx.node_event(true, "FreeDiskSpaceFailed", &msg);
        }
        Ok(round)
    }
}
