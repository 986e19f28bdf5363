//! batch/v1 Jobs and CronJobs: upstream `SetDefaults_Job` / `SetDefaults_CronJob`, the job
//! strategy's generated selector and labels (`batch.kubernetes.io/controller-uid`,
//! `batch.kubernetes.io/job-name` and their legacy forms), status reset on create, and
//! `pkg/apis/batch/validation` for the common checks.

use rudder_api::validation::{BadValue, FieldError, FieldPath, is_dns1123_label};
use serde_json::{Map, Value, json};

use super::cron::parse_standard;
use super::podspec::{default_template, validate_template};
use super::util::{
    at, child, default_field, default_str, go_label_selector, go_string_map, int, non_negative, s,
    selector_matches, unset, validate_label_selector,
};
use crate::registry::strategy::{Strategy, WriteKind};

const UID_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];
const NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];

#[derive(Debug)]
pub(crate) struct Jobs;

#[derive(Debug)]
pub(crate) struct CronJobs;

impl Strategy for Jobs {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let Some(root) = obj.as_object_mut() else { return };
        let Some(spec) = child(root, "spec") else { return };
        if let Some(t) = child(spec, "template") {
            default_template(t);
        }
        if unset(spec.get("completions")) && unset(spec.get("parallelism")) {
            spec.insert("completions".into(), json!(1));
        }
        default_field(spec, "parallelism", json!(1));
        let backoff = if unset(spec.get("backoffLimitPerIndex")) {
            6
        } else {
            i64::from(i32::MAX)
        };
        default_field(spec, "backoffLimit", json!(backoff));
        default_field(spec, "completionMode", json!("NonIndexed"));
        default_field(spec, "suspend", json!(false));
        let replacement = if unset(spec.get("podFailurePolicy")) {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        default_field(spec, "podReplacementPolicy", json!(replacement));
        default_field(spec, "manualSelector", json!(false));
        let labels = at(
            at(at(&Value::Object(spec.clone()), "template"), "metadata"),
            "labels",
        )
        .clone();
        if labels.is_object()
            && let Some(meta) = child(root, "metadata")
            && meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
        {
            meta.insert("labels".into(), labels);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let meta = at(obj, "metadata");
        let (name, uid) = (s(meta, "name").to_string(), s(meta, "uid").to_string());
        let Some(root) = obj.as_object_mut() else { return };
        root.insert("status".into(), json!({}));
        let Some(spec) = child(root, "spec") else { return };
        if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(labels) = child(spec, "template")
            .and_then(|t| child(t, "metadata"))
            .and_then(|m| child(m, "labels"))
        {
            for key in NAME_LABELS {
                labels.entry(key).or_insert_with(|| json!(name));
            }
            for key in UID_LABELS {
                labels.entry(key).or_insert_with(|| json!(uid));
            }
        }
        if let Some(match_labels) = child(spec, "selector").and_then(|sel| child(sel, "matchLabels")) {
            match_labels.entry(UID_LABELS[1]).or_insert_with(|| json!(uid));
        }
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        if write == WriteKind::StatusUpdate {
            return Vec::new();
        }
        let spec = at(obj, "spec");
        let path = FieldPath::new("spec");
        // Older jobs may lack the prefixed labels; they are only required if they were there.
        let prefixed = old.is_none_or(|o| {
            let labels = at(at(at(at(o, "spec"), "template"), "metadata"), "labels");
            labels.get(NAME_LABELS[1]).is_some() && labels.get(UID_LABELS[1]).is_some()
        });
        let mut errs = validate_generated_selector(obj, prefixed);
        errs.extend(validate_job_spec(spec, &path));
        if spec.get("selector").is_none_or(Value::is_null) {
            errs.push(FieldError::required(&path.child("selector"), ""));
        } else {
            errs.extend(validate_label_selector(
                at(spec, "selector"),
                &path.child("selector"),
            ));
        }
        let labels = at(at(at(spec, "template"), "metadata"), "labels");
        if selector_matches(at(spec, "selector"), labels) == Some(false) {
            errs.push(FieldError::invalid(
                &path.child("template").child("metadata").child("labels"),
                go_string_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
        let name = s(at(obj, "metadata"), "name");
        if s(spec, "completionMode") == "Indexed"
            && let Some(completions) = int(spec, "completions").filter(|c| *c > 0)
        {
            let host = format!("{name}-{}", completions - 1);
            if !is_dns1123_label(&host).is_empty() {
                errs.push(FieldError::invalid(
                    &FieldPath::new("metadata").child("name"),
                    name,
                    format!("will not able to create pod with invalid DNS label: {host}"),
                ));
            }
        }
        if let Some(old) = old {
            errs.extend(validate_job_update(spec, at(old, "spec"), &path));
        }
        errs
    }
}

/// Upstream `validateGeneratedSelector`.
fn validate_generated_selector(obj: &Value, prefixed: bool) -> Vec<FieldError> {
    let spec = at(obj, "spec");
    let mut errs = Vec::new();
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) || at(spec, "selector").is_null() {
        return errs;
    }
    let meta = at(obj, "metadata");
    let (name, uid) = (s(meta, "name"), s(meta, "uid"));
    if uid.is_empty() {
        errs.push(FieldError::required(&FieldPath::new("metadata").child("uid"), ""));
    }
    let tmeta = FieldPath::new("spec").child("template").child("metadata");
    let labels = at(at(at(spec, "template"), "metadata"), "labels");
    let mut expected = Map::new();
    let checks: &[(&str, &str)] = if prefixed {
        &[
            (UID_LABELS[0], uid),
            (NAME_LABELS[0], name),
            (UID_LABELS[1], uid),
            (NAME_LABELS[1], name),
        ]
    } else {
        &[(UID_LABELS[0], uid), (NAME_LABELS[0], name)]
    };
    for (key, want) in checks {
        let p = tmeta.child("labels").key(key);
        match labels.get(*key).and_then(Value::as_str) {
            None => errs.push(FieldError::required(&p, format!("must be '{want}'"))),
            Some(v) if v != *want => errs.push(FieldError::invalid(
                &p,
                go_string_map(labels),
                format!("must be '{want}'"),
            )),
            Some(_) => {}
        }
        expected.insert(key.to_string(), json!(want));
    }
    if selector_matches(at(spec, "selector"), &Value::Object(expected)) == Some(false) {
        let sel = at(spec, "selector");
        errs.push(FieldError::invalid(
            &FieldPath::new("spec").child("selector"),
            go_label_selector(sel),
            "`selector` not auto-generated",
        ));
    }
    errs
}

/// Upstream `validateJobSpec` (shared with CronJob job templates).
fn validate_job_spec(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        errs.extend(non_negative(spec, key, path));
    }
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str) {
        if !matches!(mode, "NonIndexed" | "Indexed") {
            errs.push(FieldError::not_supported(
                &path.child("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && unset(spec.get("completions")) {
            errs.push(FieldError::required(
                &path.child("completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if let Some(policy) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let p = path.child("podReplacementPolicy");
        if !unset(spec.get("podFailurePolicy")) {
            if policy != "Failed" {
                errs.push(FieldError::not_supported(&p, policy, &["Failed"]));
            }
        } else if !matches!(policy, "Failed" | "TerminatingOrFailed") {
            errs.push(FieldError::not_supported(
                &p,
                policy,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template = at(spec, "template");
    let tpath = path.child("template");
    errs.extend(validate_template(template, &tpath));
    let rp = tpath.child("spec").child("restartPolicy");
    match s(at(template, "spec"), "restartPolicy") {
        "Always" | "" => errs.push(FieldError::required(
            &rp,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {
            if !unset(spec.get("podFailurePolicy")) && s(at(template, "spec"), "restartPolicy") != "Never" {
                errs.push(FieldError::invalid(
                    &rp,
                    "OnFailure",
                    "only \"Never\" is supported when podFailurePolicy is specified",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(&rp, other, &["OnFailure", "Never"])),
    }
    errs
}

/// Upstream `ValidateJobSpecUpdate`.
fn validate_job_update(spec: &Value, old: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let indexed = s(spec, "completionMode") == "Indexed";
    let (nc, oc) = (at(spec, "completions"), at(old, "completions"));
    if nc != oc {
        if !indexed {
            errs.push(FieldError::invalid(
                &path.child("completions"),
                BadValue::from_json(nc),
                "field is immutable",
            ));
        } else if !nc.is_null() && nc != at(spec, "parallelism") {
            errs.push(FieldError::invalid(
                &path.child("completions"),
                BadValue::from_json(nc),
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    if at(spec, "selector") != at(old, "selector") {
        errs.push(FieldError::invalid(
            &path.child("selector"),
            go_label_selector(at(spec, "selector")),
            "field is immutable",
        ));
    }
    let (template, old_template) = (at(spec, "template"), at(old, "template"));
    if template != old_template {
        let suspended = old.get("suspend").and_then(Value::as_bool) == Some(true);
        let mutable_ok = suspended && scheduling_only_change(template, old_template);
        if !mutable_ok {
            errs.push(FieldError::invalid(
                &path.child("template"),
                BadValue::Raw(template.to_string()),
                "field is immutable",
            ));
        }
    }
    for key in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        let (n, o) = (at(spec, key), at(old, key));
        if n != o {
            errs.push(FieldError::invalid(
                &path.child(key),
                BadValue::from_json(n),
                "field is immutable",
            ));
        }
    }
    errs
}

/// Whether two templates differ only in what a suspended, never started job may change.
fn scheduling_only_change(new: &Value, old: &Value) -> bool {
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("labels");
            meta.remove("annotations");
        }
        if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
            for key in ["nodeSelector", "tolerations", "schedulingGates"] {
                spec.remove(key);
            }
            if let Some(aff) = spec.get_mut("affinity").and_then(Value::as_object_mut) {
                aff.remove("nodeAffinity");
                if aff.is_empty() {
                    spec.remove("affinity");
                }
            }
        }
        t
    };
    strip(new) == strip(old)
}

impl Strategy for CronJobs {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let Some(spec) = obj.as_object_mut().and_then(|root| child(root, "spec")) else {
            return;
        };
        default_str(spec, "concurrencyPolicy", "Allow");
        default_field(spec, "suspend", json!(false));
        default_field(spec, "successfulJobsHistoryLimit", json!(3));
        default_field(spec, "failedJobsHistoryLimit", json!(1));
        let Some(job_template) = child(spec, "jobTemplate") else {
            return;
        };
        if let Some(meta) = child(job_template, "metadata")
            && !meta.contains_key("creationTimestamp")
        {
            meta.insert("creationTimestamp".into(), Value::Null);
        }
        if let Some(template) = child(job_template, "spec").and_then(|js| child(js, "template")) {
            default_template(template);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(root) = obj.as_object_mut() {
            root.insert("status".into(), json!({}));
        }
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        if write == WriteKind::StatusUpdate {
            return Vec::new();
        }
        let spec = at(obj, "spec");
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let schedule = s(spec, "schedule");
        let sp = path.child("schedule");
        if schedule.is_empty() {
            errs.push(FieldError::required(&sp, ""));
        } else {
            if let Err(e) = parse_standard(schedule) {
                errs.push(FieldError::invalid(&sp, schedule, e));
            }
            let had_tz = old.is_some_and(|o| s(at(o, "spec"), "schedule").contains("TZ"));
            if schedule.contains("TZ") && !had_tz {
                errs.push(FieldError::invalid(
                    &sp,
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
        errs.extend(non_negative(spec, "startingDeadlineSeconds", &path));
        if let Some(tz) = spec.get("timeZone").and_then(Value::as_str)
            && old.is_none_or(|o| at(at(o, "spec"), "timeZone").as_str() != Some(tz))
        {
            errs.extend(validate_time_zone(tz, &path.child("timeZone")));
        }
        match s(spec, "concurrencyPolicy") {
            "" => errs.push(FieldError::required(&path.child("concurrencyPolicy"), "")),
            "Allow" | "Forbid" | "Replace" => {}
            other => errs.push(FieldError::not_supported(
                &path.child("concurrencyPolicy"),
                other,
                &["Allow", "Forbid", "Replace"],
            )),
        }
        let jt = at(spec, "jobTemplate");
        let jtp = path.child("jobTemplate").child("spec");
        errs.extend(validate_job_spec(at(jt, "spec"), &jtp));
        let js = at(jt, "spec");
        if !at(js, "selector").is_null() {
            errs.push(FieldError::invalid(
                &jtp.child("selector"),
                go_label_selector(at(js, "selector")),
                "`selector` will be auto-generated",
            ));
        }
        if js.get("manualSelector").and_then(Value::as_bool) == Some(true) {
            errs.push(FieldError::not_supported(
                &jtp.child("manualSelector"),
                BadValue::Raw("true".into()),
                &["nil", "false"],
            ));
        }
        errs.extend(non_negative(spec, "successfulJobsHistoryLimit", &path));
        errs.extend(non_negative(spec, "failedJobsHistoryLimit", &path));
        let name = s(at(obj, "metadata"), "name");
        if old.is_none() && name.len() > 52 {
            errs.push(FieldError::invalid(
                &FieldPath::new("metadata").child("name"),
                name,
                "must be no more than 52 characters",
            ));
        }
        errs
    }
}

/// Upstream `validateTimeZone`; the zone must exist in the system's tz database when present.
fn validate_time_zone(tz: &str, path: &FieldPath) -> Vec<FieldError> {
    if tz.is_empty() {
        return vec![FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        )];
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    };
    let unknown = || vec![FieldError::invalid(path, tz, format!("unknown time zone {tz}"))];
    if !tz.split('/').all(part_ok) {
        return unknown();
    }
    if tz.eq_ignore_ascii_case("local") {
        return vec![FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        )];
    }
    let db = std::path::Path::new("/usr/share/zoneinfo");
    if tz != "UTC" && db.is_dir() && !db.join(tz).is_file() {
        return unknown();
    }
    Vec::new()
}
