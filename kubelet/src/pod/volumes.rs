//! Pod volumes on the node: emptyDir, configMap, secret, hostPath, downwardAPI and projected
//! (configMap/secret/downwardAPI/serviceAccountToken sources), under `<root>/pods/<uid>/volumes/<plugin>/<name>`.
//! configMap/secret/downwardAPI content is written like upstream's AtomicWriter: a timestamped
//! directory, a `..data` symlink swapped with one rename, and per-key symlinks through it, so
//! updates appear atomically in running containers.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, DownwardAPIVolumeFile, KeyToPath, Pod, Volume};

use crate::cri::api;
use crate::node::NodeFacts;

use super::env::{Sources, field_ref, resource_field_ref};

/// Relative path → (content, mode).
pub type Files = BTreeMap<String, (Vec<u8>, u32)>;

fn plugin_dir(pod_dir: &Path, plugin: &str, name: &str) -> PathBuf {
    pod_dir
        .join("volumes")
        .join(format!("kubernetes.io~{plugin}"))
        .join(name)
}

fn keyed(
    data: BTreeMap<String, Vec<u8>>,
    items: &Option<Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    what: &str,
) -> Result<Files, String> {
    let mut files = Files::new();
    match items {
        None => {
            for (k, v) in data {
                files.insert(k, (v, default_mode));
            }
        }
        Some(items) => {
            for it in items {
                match data.get(&it.key) {
                    Some(v) => {
                        files.insert(
                            it.path.clone(),
                            (v.clone(), it.mode.map_or(default_mode, |m| m as u32)),
                        );
                    }
                    None if optional => {}
                    None => return Err(format!("configured key {} not found in {what}", it.key)),
                }
            }
        }
    }
    Ok(files)
}

fn downward_files(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: u32,
    node: &NodeFacts,
    pod_ip: &str,
) -> Result<Files, String> {
    let mut files = Files::new();
    let containers: Vec<Container> = pod.spec.clone().map(|s| s.containers).unwrap_or_default();
    for it in items {
        let value = if let Some(f) = &it.field_ref {
            field_ref(pod, f, &node.ip.to_string(), pod_ip)?
        } else if let Some(r) = &it.resource_field_ref {
            let name = r.container_name.clone().unwrap_or_default();
            let c = containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name:?} not found for {}", it.path))?;
            resource_field_ref(c, r, node)?
        } else {
            continue;
        };
        files.insert(
            it.path.clone(),
            (value.into_bytes(), it.mode.map_or(default_mode, |m| m as u32)),
        );
    }
    Ok(files)
}

/// What one volume's files are (None for volumes that are plain directories).
fn desired_files(
    pod: &Pod,
    v: &Volume,
    src: &Sources,
    node: &NodeFacts,
    pod_ip: &str,
) -> Result<Option<Files>, String> {
    if let Some(cm) = &v.config_map {
        let mode = cm.default_mode.map_or(0o644, |m| m as u32);
        let optional = cm.optional.unwrap_or(false);
        return match src.config_map_data(&cm.name) {
            Some(d) => keyed(d, &cm.items, mode, optional, &format!("ConfigMap {}", cm.name)).map(Some),
            None if optional => Ok(Some(Files::new())),
            None => Err(format!("configmap \"{}\" not found", cm.name)),
        };
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let mode = s.default_mode.map_or(0o644, |m| m as u32);
        let optional = s.optional.unwrap_or(false);
        return match src.secret_data(&name) {
            Some(d) => keyed(d, &s.items, mode, optional, &format!("Secret {name}")).map(Some),
            None if optional => Ok(Some(Files::new())),
            None => Err(format!("secret \"{name}\" not found")),
        };
    }
    if let Some(d) = &v.downward_api {
        let mode = d.default_mode.map_or(0o644, |m| m as u32);
        return downward_files(pod, d.items.as_deref().unwrap_or_default(), mode, node, pod_ip).map(Some);
    }
    if let Some(p) = &v.projected {
        let mode = p.default_mode.map_or(0o644, |m| m as u32);
        let mut files = Files::new();
        for s in p.sources.iter().flatten() {
            if let Some(cm) = &s.config_map {
                let optional = cm.optional.unwrap_or(false);
                match src.config_map_data(&cm.name) {
                    Some(d) => files.extend(keyed(
                        d,
                        &cm.items,
                        mode,
                        optional,
                        &format!("ConfigMap {}", cm.name),
                    )?),
                    None if optional => {}
                    None => return Err(format!("configmap \"{}\" not found", cm.name)),
                }
            }
            if let Some(sec) = &s.secret {
                let optional = sec.optional.unwrap_or(false);
                match src.secret_data(&sec.name) {
                    Some(d) => files.extend(keyed(
                        d,
                        &sec.items,
                        mode,
                        optional,
                        &format!("Secret {}", sec.name),
                    )?),
                    None if optional => {}
                    None => return Err(format!("secret \"{}\" not found", sec.name)),
                }
            }
            if let Some(d) = &s.downward_api {
                files.extend(downward_files(
                    pod,
                    d.items.as_deref().unwrap_or_default(),
                    mode,
                    node,
                    pod_ip,
                )?);
            }
            if let Some(sat) = &s.service_account_token {
                let token = src
                    .tokens
                    .get(&super::token::key(sat))
                    .ok_or_else(|| format!("service account token for {:?} not issued yet", sat.path))?;
                files.insert(sat.path.clone(), (token.token.clone().into_bytes(), mode));
            }
        }
        return Ok(Some(files));
    }
    Ok(None)
}

fn current_files(dir: &Path) -> Option<Files> {
    let data = dir.join("..data");
    let target = std::fs::read_link(&data).ok()?;
    let base = dir.join(target);
    let mut out = Files::new();
    fn walk(base: &Path, rel: &str, out: &mut Files) -> std::io::Result<()> {
        for e in std::fs::read_dir(base.join(rel))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type()?.is_dir() {
                walk(base, &r, out)?;
            } else {
                let mode = e.metadata()?.permissions().mode() & 0o7777;
                out.insert(r, (std::fs::read(e.path())?, mode));
            }
        }
        Ok(())
    }
    walk(&base, "", &mut out).ok()?;
    Some(out)
}

/// Writes `files` into `dir` atomically; no-op when nothing changed. Returns whether it wrote.
pub fn write_atomic(dir: &Path, files: &Files) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    if current_files(dir).as_ref() == Some(files) {
        return Ok(false);
    }
    let stamp = format!(
        "..{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let ts_dir = dir.join(&stamp);
    std::fs::create_dir_all(&ts_dir)?;
    for (rel, (content, mode)) in files {
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            continue; // never write outside the volume
        }
        let path = ts_dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))?;
    }
    let old = std::fs::read_link(dir.join("..data")).ok();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&stamp, &tmp)?;
    std::fs::rename(&tmp, dir.join("..data"))?;
    // Top-level entries are symlinks through ..data.
    let tops: std::collections::BTreeSet<&str> = files.keys().filter_map(|k| k.split('/').next()).collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !tops.contains(name.as_str()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if let Some(old) = old.filter(|o| o != Path::new(&stamp)) {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

/// Sets up (or refreshes) every volume; returns volume name → host path. Err is the reason
/// the pod cannot start yet (a missing configMap or secret).
pub fn setup(
    pod: &Pod,
    pod_dir: &Path,
    src: &Sources,
    node: &NodeFacts,
    pod_ip: &str,
) -> Result<HashMap<String, PathBuf>, String> {
    let mut out = HashMap::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let io = |e: std::io::Error| format!("volume {:?}: {e}", v.name);
        let path = if let Some(hp) = &v.host_path {
            let p = PathBuf::from(&hp.path);
            match hp.type_.as_deref() {
                Some("DirectoryOrCreate") => std::fs::create_dir_all(&p).map_err(io)?,
                Some("FileOrCreate") if !p.exists() => {
                    if let Some(parent) = p.parent() {
                        std::fs::create_dir_all(parent).map_err(io)?;
                    }
                    std::fs::write(&p, b"").map_err(io)?;
                }
                Some("Directory") if !p.is_dir() => {
                    return Err(format!(
                        "hostPath type check failed: {} is not a directory",
                        hp.path
                    ));
                }
                Some("File") if !p.is_file() => {
                    return Err(format!("hostPath type check failed: {} is not a file", hp.path));
                }
                _ => {}
            }
            p
        } else if let Some(claim) = &v.persistent_volume_claim {
            match src.claims.get(&claim.claim_name) {
                Some(Ok(p)) => p.clone(),
                Some(Err(e)) => return Err(e.clone()),
                None => {
                    return Err(format!(
                        "persistentvolumeclaim \"{}\" not found",
                        claim.claim_name
                    ));
                }
            }
        } else if let Some(ed) = &v.empty_dir {
            let dir = plugin_dir(pod_dir, "empty-dir", &v.name);
            if !dir.exists() {
                std::fs::create_dir_all(&dir).map_err(io)?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(io)?;
                if ed.medium.as_deref() == Some("Memory") {
                    let mut cmd = std::process::Command::new("mount");
                    cmd.args(["-t", "tmpfs", "tmpfs"]);
                    if let Some(size) = ed.size_limit.as_ref().and_then(|q| crate::quantity::value(&q.0)) {
                        cmd.args(["-o", &format!("size={size}")]);
                    }
                    let status = cmd.arg(&dir).status().map_err(io)?;
                    if !status.success() {
                        return Err(format!("volume {:?}: mount tmpfs failed", v.name));
                    }
                }
            }
            dir
        } else {
            let plugin = if v.config_map.is_some() {
                "configmap"
            } else if v.secret.is_some() {
                "secret"
            } else if v.downward_api.is_some() {
                "downward-api"
            } else if v.projected.is_some() {
                "projected"
            } else {
                // persistentVolumeClaim and others are not supported yet: skip, and a mount
                // of it fails below with a clear message.
                continue;
            };
            let Some(files) = desired_files(pod, v, src, node, pod_ip)? else {
                continue;
            };
            let dir = plugin_dir(pod_dir, plugin, &v.name);
            write_atomic(&dir, &files).map_err(io)?;
            dir
        };
        out.insert(v.name.clone(), path);
    }
    Ok(out)
}

/// The container's volumeMounts as CRI mounts.
pub fn mounts(c: &Container, volumes: &HashMap<String, PathBuf>) -> Result<Vec<api::Mount>, String> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let base = volumes
            .get(&m.name)
            .ok_or_else(|| format!("volume {:?} is not supported or not set up", m.name))?;
        let mut host = base.clone();
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if sub.split('/').any(|p| p == "..") || sub.starts_with('/') {
                return Err(format!("invalid subPath {sub:?}"));
            }
            host = base.join(sub);
            if !host.exists() {
                std::fs::create_dir_all(&host).map_err(|e| format!("subPath {sub:?}: {e}"))?;
            }
        }
        out.push(api::Mount {
            container_path: m.mount_path.clone(),
            host_path: host.display().to_string(),
            readonly: m.read_only.unwrap_or(false),
            ..Default::default()
        });
    }
    Ok(out)
}

/// Unmounts tmpfs emptyDirs and removes the pod's directory.
pub fn teardown(pod_dir: &Path) {
    let prefix = pod_dir.display().to_string();
    if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
        for p in mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&prefix))
        {
            let _ = std::process::Command::new("umount").args(["-l", p]).status();
        }
    }
    let _ = std::fs::remove_dir_all(pod_dir);
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
