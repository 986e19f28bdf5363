//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: upstream's `LogLocation`,
//! `ExecLocation`, `AttachLocation` and `PortForwardLocation` (pkg/registry/core/pod) turned
//! into a kubelet URL, then proxied.

use k8s_openapi::api::core::v1::Pod;
use rudder_api::status::ApiError;
use rudder_api::validation::{FieldError, FieldPath};

/// The container a request is about: the named one, which must exist, or the only one.
/// Upstream's messages differ slightly between logs and streams; both are kept.
pub(crate) fn choose_container(
    pod: &Pod,
    name: &str,
    asked: Option<&str>,
    for_logs: bool,
) -> Result<String, ApiError> {
    let spec = pod.spec.as_ref();
    let containers: Vec<&str> = spec
        .map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let init: Vec<&str> = spec
        .and_then(|s| s.init_containers.as_ref())
        .map(|cs| cs.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let ephemeral: Vec<&str> = spec
        .and_then(|s| s.ephemeral_containers.as_ref())
        .map(|cs| cs.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    match asked.filter(|a| !a.is_empty()) {
        Some(c) => {
            if containers.contains(&c) || init.contains(&c) || ephemeral.contains(&c) {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match containers.as_slice() {
            [only] => Ok((*only).to_string()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ if for_logs => {
                let all: Vec<&str> = init
                    .iter()
                    .chain(&containers)
                    .chain(&ephemeral)
                    .copied()
                    .collect();
                Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
            _ => {
                let mut msg = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                );
                if !init.is_empty() {
                    msg.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
                }
                Err(ApiError::bad_request(msg))
            }
        },
    }
}

/// Go's query-string bool: absent is false, "0"/"false" are false, anything else is true
/// (apimachinery's `Convert_Slice_string_To_bool`).
pub(crate) fn query_bool(pairs: &[(String, String)], key: &str) -> bool {
    match pairs.iter().find(|(k, _)| k == key) {
        None => false,
        Some((_, v)) => !(v == "0" || v.eq_ignore_ascii_case("false")),
    }
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The kubelet query for `/exec` and `/attach` (upstream's `streamParams`): the streams as
/// `input`/`output`/`error`/`tty` = 1 and the command words in order.
pub(crate) fn stream_query(pairs: &[(String, String)], with_command: bool) -> String {
    let mut out: Vec<(String, String)> = Vec::new();
    if with_command {
        for (_, c) in pairs.iter().filter(|(k, _)| k == "command") {
            out.push(("command".into(), c.clone()));
        }
    }
    for (param, kubelet) in [
        ("stdin", "input"),
        ("stdout", "output"),
        ("stderr", "error"),
        ("tty", "tty"),
    ] {
        if query_bool(pairs, param) {
            out.push((kubelet.into(), "1".into()));
        }
    }
    encode(&out)
}

/// The kubelet query for `/portForward`: each of `ports` as `port`.
pub(crate) fn port_forward_query(pairs: &[(String, String)]) -> Result<String, ApiError> {
    let mut out = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == "ports") {
        for p in v.split(',') {
            let port: u16 = p
                .trim()
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| ApiError::bad_request(format!("invalid port {p:?}")))?;
            out.push(("port".to_string(), port.to_string()));
        }
    }
    Ok(encode(&out))
}

/// Checks the log options as upstream's `ValidatePodLogOptions` (422 `PodLogOptions "<pod>" is
/// invalid`) and returns the kubelet's query (the same parameter names).
pub(crate) fn log_query(pod: &str, pairs: &[(String, String)]) -> Result<String, ApiError> {
    let mut out = Vec::new();
    for key in ["follow", "previous", "timestamps"] {
        if query_bool(pairs, key) {
            out.push((key.to_string(), "true".to_string()));
        }
    }
    let int = |key: &str| -> Result<Option<i64>, ApiError> {
        first(pairs, key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid {key} {v:?}: must be an integer")))
            })
            .transpose()
    };
    let invalid = |field: &str, value: i64, why: &str| {
        ApiError::invalid(
            "",
            "PodLogOptions",
            pod,
            &[FieldError::invalid(&FieldPath::new(field), value, why)],
        )
    };
    if let Some(n) = int("tailLines")? {
        if n < 0 {
            return Err(invalid("tailLines", n, "must be greater than or equal to 0"));
        }
        out.push(("tailLines".into(), n.to_string()));
    }
    if let Some(n) = int("limitBytes")? {
        if n < 1 {
            return Err(invalid("limitBytes", n, "must be greater than 0"));
        }
        out.push(("limitBytes".into(), n.to_string()));
    }
    let since_seconds = int("sinceSeconds")?;
    let since_time = first(pairs, "sinceTime").filter(|t| !t.is_empty());
    if since_seconds.is_some() && since_time.is_some() {
        return Err(ApiError::invalid(
            "",
            "PodLogOptions",
            pod,
            &[FieldError::forbidden(
                &FieldPath::nil(),
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )],
        ));
    }
    if let Some(n) = since_seconds {
        if n < 1 {
            return Err(invalid("sinceSeconds", n, "must be greater than 0"));
        }
        out.push(("sinceSeconds".into(), n.to_string()));
    }
    if let Some(t) = since_time {
        out.push(("sinceTime".into(), t.to_string()));
    }
    Ok(encode(&out))
}

/// `k=v&k=v`, percent-encoding everything but unreserved characters.
pub(crate) fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query pairs in order, percent-decoded (`command` repeats, so a map would not do).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                crate::http::request::percent_decode(&k.replace('+', " ")),
                crate::http::request::percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn pairs(q: &str) -> Vec<(String, String)> {
        query_pairs(Some(q))
    }

    #[test]
    fn container_choice_as_upstream() {
        let one = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}));
        assert_eq!(choose_container(&one, "p", None, false).unwrap(), "c");
        assert_eq!(choose_container(&one, "p", Some(""), true).unwrap(), "c");
        let err = choose_container(&one, "p", Some("x"), false).unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (400, "container x is not valid for pod p")
        );
        let two = pod(json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "i"}], "containers": [{"name": "a"}, {"name": "b"}]}}));
        assert_eq!(choose_container(&two, "p", Some("i"), true).unwrap(), "i");
        let err = choose_container(&two, "p", None, false).unwrap_err();
        assert_eq!(
            err.message(),
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
        let err = choose_container(&two, "p", None, true).unwrap_err();
        assert_eq!(
            err.message(),
            "a container name must be specified for pod p, choose one of: [i a b]"
        );
    }

    #[test]
    fn stream_and_port_queries() {
        let q = pairs(
            "command=sh&command=-c&command=exit%203&container=c&stdin=true&stdout=true&stderr=false&tty=1",
        );
        assert_eq!(
            stream_query(&q, true),
            "command=sh&command=-c&command=exit%203&input=1&output=1&tty=1"
        );
        assert_eq!(stream_query(&q, false), "input=1&output=1&tty=1");
        assert_eq!(
            port_forward_query(&pairs("ports=8080&ports=53,54")).unwrap(),
            "port=8080&port=53&port=54"
        );
        assert_eq!(port_forward_query(&pairs("")).unwrap(), "");
        assert_eq!(port_forward_query(&pairs("ports=0")).unwrap_err().code(), 400);
    }

    #[test]
    fn log_queries_validated() {
        assert_eq!(
            log_query(
                "p",
                &pairs("container=c&follow=true&tailLines=10&timestamps=true")
            )
            .unwrap(),
            "follow=true&timestamps=true&tailLines=10"
        );
        assert_eq!(
            log_query("p", &pairs("previous=false&limitBytes=5")).unwrap(),
            "limitBytes=5"
        );
        assert_eq!(
            log_query("p", &pairs("sinceTime=2026-11-01T00%3A00%3A00Z")).unwrap(),
            "sinceTime=2026-11-01T00%3A00%3A00Z"
        );
        let err = log_query("p", &pairs("tailLines=-1")).unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (
                422,
                "PodLogOptions \"p\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
            )
        );
        assert_eq!(log_query("p", &pairs("limitBytes=0")).unwrap_err().code(), 422);
        assert_eq!(log_query("p", &pairs("sinceSeconds=0")).unwrap_err().code(), 422);
        assert_eq!(log_query("p", &pairs("tailLines=x")).unwrap_err().code(), 400);
        assert_eq!(
            log_query("p", &pairs("sinceSeconds=5&sinceTime=2026-11-01T00:00:00Z"))
                .unwrap_err()
                .code(),
            422
        );
    }
}
