//! Completion indexes of Indexed Jobs (upstream `indexed_job_utils.go`): the
//! `batch.kubernetes.io/job-completion-index` annotation, the compressed interval text of
//! `status.completedIndexes` ("1,3-5,7"), and which indexes still need a pod.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

/// Annotation and label carrying a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// Whether the Job runs in Indexed completion mode.
pub fn is_indexed(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed")
}

/// A pod's completion index from its annotation (None when absent or not a number ≥ 0).
pub fn completion_index(pod: &Pod) -> Option<i32> {
    let value = pod.metadata.annotations.as_ref()?.get(COMPLETION_INDEX)?;
    value.parse::<i32>().ok().filter(|i| *i >= 0)
}

/// Parses "1,3-5,7" keeping only indexes below `completions`; malformed parts are skipped
/// (upstream logs and skips them too).
pub fn parse(text: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else { continue };
        for i in lo.max(0)..=hi.min(completions - 1) {
            out.insert(i);
        }
    }
    out
}

/// Formats indexes as upstream's ordered intervals: consecutive runs of two or more as
/// "a-b", others as single numbers, comma separated.
pub fn format(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// The lowest `count` indexes below `completions` that neither succeeded nor have an active
/// pod (upstream `firstPendingIndexes`).
pub fn first_pending(
    succeeded: &BTreeSet<i32>,
    active: &BTreeSet<i32>,
    count: usize,
    completions: i32,
) -> Vec<i32> {
    (0..completions)
        .filter(|i| !succeeded.contains(i) && !active.contains(i))
        .take(count)
        .collect()
}

/// Upstream `podGenerateNameWithIndex`: `<job>-<index>-`, the job name cut so the prefix
/// stays within the 58 characters a generated name may have before its suffix.
pub fn generate_name(job_name: &str, index: i32) -> String {
    const MAX_GENERATED_NAME_LENGTH: usize = 58;
    let suffix = format!("-{index}-");
    let full = format!("{job_name}{suffix}");
    if full.len() <= MAX_GENERATED_NAME_LENGTH {
        return full;
    }
    let keep = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
    let mut cut = keep.min(job_name.len());
    while !job_name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &job_name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[i32]) -> BTreeSet<i32> {
        v.iter().copied().collect()
    }

    #[test]
    fn interval_text_round_trips() {
        let cases: [(&[i32], &str); 5] = [
            (&[], ""),
            (&[0], "0"),
            (&[0, 1], "0-1"),
            (&[1, 3, 4, 5, 7], "1,3-5,7"),
            (&[0, 1, 2, 9, 10], "0-2,9-10"),
        ];
        for (indexes, text) in cases {
            assert_eq!(format(&set(indexes)), text);
            assert_eq!(parse(text, 100), set(indexes), "{text}");
        }
    }

    #[test]
    fn parse_drops_out_of_range_and_garbage() {
        assert_eq!(parse("1,3-5,7", 5), set(&[1, 3, 4]));
        assert_eq!(parse("x,2,4-a,6", 10), set(&[2, 6]));
    }

    #[test]
    fn pending_indexes_skip_done_and_running() {
        let got = first_pending(&set(&[0, 2]), &set(&[1]), 2, 6);
        assert_eq!(got, vec![3, 4]);
        assert_eq!(first_pending(&set(&[0, 1]), &set(&[]), 5, 2), Vec::<i32>::new());
    }

    #[test]
    fn generate_name_keeps_the_index() {
        assert_eq!(generate_name("pi", 3), "pi-3-");
        let long = "a".repeat(70);
        let name = generate_name(&long, 12);
        assert_eq!(name.len(), 58);
        assert!(name.ends_with("-12-"));
    }
}
