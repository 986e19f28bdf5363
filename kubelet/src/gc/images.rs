//! Image garbage collection under disk pressure, planned (upstream
//! `pkg/kubelet/images/image_gc_manager.go`). Pure: the runtime's images, the images in use,
//! what the kubelet remembers of each image and the image filesystem's figures come in; the
//! images to remove, least recently used first, go out.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::cri::api;

/// `imageGCHighThresholdPercent`, `imageGCLowThresholdPercent`, `imageMinimumGCAge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// At or above this disk usage (percent) images are collected; 100 disables collection.
    pub high_threshold_percent: i32,
    /// Collection frees down to this usage.
    pub low_threshold_percent: i32,
    /// An image first seen less than this long ago is never collected (it may have just been
    /// pulled for a container about to start).
    pub min_age: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            high_threshold_percent: 85,
            low_threshold_percent: 80,
            min_age: Duration::from_secs(120),
        }
    }
}

impl Policy {
    /// Upstream's validation of the three settings.
    pub fn validate(&self) -> Result<(), String> {
        for (what, v) in [
            ("imageGCHighThresholdPercent", self.high_threshold_percent),
            ("imageGCLowThresholdPercent", self.low_threshold_percent),
        ] {
            if !(0..=100).contains(&v) {
                return Err(format!("{what} ({v}) must be between 0 and 100"));
            }
        }
        if self.low_threshold_percent > self.high_threshold_percent {
            return Err(format!(
                "imageGCLowThresholdPercent ({}) can not be higher than imageGCHighThresholdPercent ({})",
                self.low_threshold_percent, self.high_threshold_percent
            ));
        }
        Ok(())
    }
}

/// An image as the collector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub size: u64,
    /// The runtime asks that it never be removed (CRI `pinned`).
    pub pinned: bool,
}

impl ImageInfo {
    pub fn from_cri(i: &api::Image) -> ImageInfo {
        ImageInfo {
            id: i.id.clone(),
            repo_tags: i.repo_tags.clone(),
            size: i.size,
            pinned: i.pinned,
        }
    }

    /// Whether a container's image reference (an id, a digest or a tag) names this image.
    pub fn is(&self, reference: &str) -> bool {
        !reference.is_empty() && (self.id == reference || self.repo_tags.iter().any(|t| t == reference))
    }
}

/// What the kubelet remembers of one image (upstream `imageRecord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub first_detected: SystemTime,
    /// UNIX_EPOCH while never seen in use.
    pub last_used: SystemTime,
}

/// The ids of `images` that the given references (containers' images and image refs, the
/// sandbox image) name.
pub fn in_use<'a>(images: &[ImageInfo], references: impl IntoIterator<Item = &'a str>) -> HashSet<String> {
    let refs: Vec<&str> = references.into_iter().filter(|r| !r.is_empty()).collect();
    images
        .iter()
        .filter(|i| refs.iter().any(|r| i.is(r)))
        .map(|i| i.id.clone())
        .collect()
}

/// Brings the records up to date: new images are first detected now, images in use were last
/// used now, records of images that are gone are dropped.
pub fn detect(
    records: &mut HashMap<String, Record>,
    images: &[ImageInfo],
    in_use: &HashSet<String>,
    now: SystemTime,
) {
    let present: HashSet<&str> = images.iter().map(|i| i.id.as_str()).collect();
    records.retain(|id, _| present.contains(id.as_str()));
    for i in images {
        let r = records.entry(i.id.clone()).or_insert(Record {
            first_detected: now,
            last_used: SystemTime::UNIX_EPOCH,
        });
        if in_use.contains(&i.id) {
            r.last_used = now;
        }
    }
}

/// The image filesystem's figures, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    pub capacity: u64,
    pub available: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Upstream's InvalidDiskCapacity.
    #[error("invalid capacity 0 on image filesystem")]
    InvalidCapacity,
}

/// One round's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub usage_percent: i64,
    /// Bytes to free to reach the low threshold (0: under the high threshold).
    pub bytes_to_free: i64,
    /// Images to remove, in eviction order, with their sizes.
    pub remove: Vec<(String, u64)>,
}

impl Plan {
    /// What removing every planned image frees.
    pub fn planned_bytes(&self) -> i64 {
        self.remove.iter().map(|(_, s)| *s as i64).sum()
    }
}

/// Plans one image collection.
pub fn plan(
    images: &[ImageInfo],
    in_use: &HashSet<String>,
    records: &HashMap<String, Record>,
    fs: FsStats,
    policy: &Policy,
    now: SystemTime,
) -> Result<Plan, PlanError> {
    if policy.high_threshold_percent >= 100 {
        return Ok(Plan::default());
    }
    if fs.capacity == 0 {
        return Err(PlanError::InvalidCapacity);
    }
    let capacity = fs.capacity as i64;
    let available = fs.available.min(fs.capacity) as i64;
    let usage_percent = 100 - available * 100 / capacity;
    let mut out = Plan {
        usage_percent,
        ..Plan::default()
    };
    if usage_percent < policy.high_threshold_percent as i64 {
        return Ok(out);
    }
    out.bytes_to_free = capacity * (100 - policy.low_threshold_percent as i64) / 100 - available;
    let mut candidates: Vec<(&ImageInfo, Record)> = images
        .iter()
        .filter(|i| !i.pinned && !in_use.contains(&i.id))
        .filter_map(|i| records.get(&i.id).map(|r| (i, *r)))
        .filter(|(_, r)| now.duration_since(r.first_detected).unwrap_or_default() >= policy.min_age)
        .collect();
    candidates.sort_by_key(|(i, r)| (r.last_used, r.first_detected, i.id.clone()));
    let mut freed: i64 = 0;
    for (i, _) in candidates {
        if freed >= out.bytes_to_free {
            break;
        }
        out.remove.push((i.id.clone(), i.size));
        freed += i.size as i64;
    }
    Ok(out)
}

/// Upstream's FreeDiskSpaceFailed message.
pub fn free_failed_message(wanted: i64, freed: i64) -> String {
    format!(
        "Failed to garbage collect required amount of images. Attempted to free {wanted} bytes, but only found {freed} bytes eligible to free."
    )
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
