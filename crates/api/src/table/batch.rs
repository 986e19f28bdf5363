//! The `batch` group.

use serde_json::Value;

use super::time::{Time, human_duration_nanos, since};
use super::util::{
    CONTAINERS_DESC, IMAGES_DESC, NONE, UNSET, age, age_col, arr_at, cells, col, format_label_selector, get,
    int_at, is_deleting, layout_containers, name, name_col, opt_bool, opt_int, opt_str, present, str_at,
    wide,
};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Job" => Printer::new(job_columns, job_row),
        "CronJob" => Printer::new(cron_job_columns, cron_job_row),
        _ => return None,
    })
}

fn job_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Status", "string", "Status of the job."),
        col(
            "Completions",
            "string",
            "The number of pods which reached phase Succeeded.",
        ),
        col("Duration", "string", "Time required to complete the job."),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
        wide(
            "Selector",
            "string",
            "A label query over pods that should match the pod count.",
        ),
    ]
}

/// `hasJobCondition`: the first condition of that type decides.
fn has_condition(obj: &Value, ty: &str) -> bool {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == ty)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_row(obj: &Value, now: i64) -> Vec<Value> {
    let succeeded = int_at(obj, &["status", "succeeded"]);
    let completions = match opt_int(obj, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match opt_int(obj, &["spec", "parallelism"]).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = present(obj, &["status", "startTime"]).map(|v| Time::from_json(Some(v)));
    let completion = present(obj, &["status", "completionTime"]).map(|v| Time::from_json(Some(v)));
    let duration = match (start, completion) {
        (None, _) => String::new(),
        (Some(s), None) => human_duration_nanos(Time::from_unix(now).sub(s)),
        (Some(s), Some(c)) => human_duration_nanos(c.sub(s)),
    };
    let status = if has_condition(obj, "Complete") {
        "Complete"
    } else if has_condition(obj, "Failed") {
        "Failed"
    } else if is_deleting(obj) {
        "Terminating"
    } else if has_condition(obj, "Suspended") {
        "Suspended"
    } else if has_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = layout_containers(arr_at(obj, &["spec", "template", "spec", "containers"]));
    cells![
        name(obj),
        status,
        completions,
        duration,
        age(obj, now),
        names,
        images,
        format_label_selector(get(obj, &["spec", "selector"])),
    ]
}

fn cron_job_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Schedule",
            "string",
            "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
        ),
        col(
            "Timezone",
            "string",
            "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
        ),
        col(
            "Suspend",
            "boolean",
            "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.",
        ),
        col(
            "Active",
            "integer",
            "A list of pointers to currently running jobs.",
        ),
        col(
            "Last Schedule",
            "string",
            "Information when was the last time the job was successfully scheduled.",
        ),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
        wide(
            "Selector",
            "string",
            "A label query over pods that should match the pod count.",
        ),
    ]
}

fn cron_job_row(obj: &Value, now: i64) -> Vec<Value> {
    let last_schedule = match present(obj, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), now),
        None => NONE.to_string(),
    };
    let suspend = match opt_bool(obj, &["spec", "suspend"]) {
        Some(true) => "True",
        Some(false) => "False",
        None => UNSET,
    };
    let job_spec = get(obj, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
    let (names, images) = layout_containers(arr_at(job_spec, &["template", "spec", "containers"]));
    cells![
        name(obj),
        str_at(obj, &["spec", "schedule"]),
        opt_str(obj, &["spec", "timeZone"]).unwrap_or(NONE),
        suspend,
        arr_at(obj, &["status", "active"]).len() as i64,
        last_schedule,
        age(obj, now),
        names,
        images,
        format_label_selector(get(job_spec, &["selector"])),
    ]
}
