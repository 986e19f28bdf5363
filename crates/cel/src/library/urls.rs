//! Upstream's URL library: `url(string)` (an absolute URI or an absolute path, as Go's
//! `url.ParseRequestURI` accepts), `isURL(string)`, and the getters `getScheme`, `getHost`,
//! `getHostname`, `getPort`, `getEscapedPath` and `getQuery`.
//!
//! Unlike upstream, a URL value is the checked string itself rather than a type of its own, so
//! the getters also apply to strings (upstream's type checker refuses that at compile time).

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::STRING_TYPE;
use cel::common::value::CowVal;
use cel::objects::{Key, Map};
use cel::{ExecutionError, Value};

use super::{give, no_overload, values};

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload("url", "string_to_url", vec![STRING_TYPE], to_url)?;
    env.add_overload("isURL", "is_url_string", vec![STRING_TYPE], is_url)?;
    env.add_member_overload("getScheme", "url_get_scheme", STRING_TYPE, vec![], get_scheme)?;
    env.add_member_overload("getHost", "url_get_host", STRING_TYPE, vec![], get_host)?;
    env.add_member_overload(
        "getHostname",
        "url_get_hostname",
        STRING_TYPE,
        vec![],
        get_hostname,
    )?;
    env.add_member_overload("getPort", "url_get_port", STRING_TYPE, vec![], get_port)?;
    env.add_member_overload(
        "getEscapedPath",
        "url_get_escaped_path",
        STRING_TYPE,
        vec![],
        get_escaped_path,
    )?;
    env.add_member_overload("getQuery", "url_get_query", STRING_TYPE, vec![], get_query)?;
    Ok(())
}

/// Parses what `url.ParseRequestURI` accepts; an absolute path is parsed against an empty
/// origin (its scheme and host read as empty).
fn parse(s: &str) -> Result<(url::Url, bool), String> {
    if s.starts_with('/') {
        let base = url::Url::parse("http://path.invalid").map_err(|e| e.to_string())?;
        return base.join(s).map(|u| (u, true)).map_err(|e| e.to_string());
    }
    url::Url::parse(s).map(|u| (u, false)).map_err(|e| e.to_string())
}

fn text(function: &str, args: &[Value]) -> Result<Arc<String>, ExecutionError> {
    match args.first() {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(no_overload(function, args)),
    }
}

fn parsed(function: &str, args: Vec<CowVal<'_, '_>>) -> Result<(url::Url, bool), ExecutionError> {
    let args = values(&args)?;
    let s = text(function, &args)?;
    parse(&s).map_err(|e| {
        ExecutionError::function_error(
            function,
            format!("URL parse error during conversion from string: {e}"),
        )
    })
}

fn string<'b, 'v>(s: impl Into<String>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::String(Arc::new(s.into())))
}

fn to_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let vals = values(&args)?;
    let s = text("url", &vals)?;
    parsed("url", args)?;
    give(Value::String(s))
}

fn is_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let vals = values(&args)?;
    let s = text("isURL", &vals)?;
    give(Value::Bool(parse(&s).is_ok()))
}

fn get_scheme<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (u, path_only) = parsed("getScheme", args)?;
    string(if path_only { "" } else { u.scheme() })
}

fn host_port(u: &url::Url) -> (String, Option<u16>) {
    (u.host_str().unwrap_or_default().to_string(), u.port())
}

fn get_host<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (u, path_only) = parsed("getHost", args)?;
    if path_only {
        return string("");
    }
    match host_port(&u) {
        (host, Some(port)) => string(format!("{host}:{port}")),
        (host, None) => string(host),
    }
}

fn get_hostname<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (u, path_only) = parsed("getHostname", args)?;
    if path_only {
        return string("");
    }
    let host = host_port(&u).0;
    // Go's Hostname() drops the brackets of an IPv6 literal.
    string(host.trim_start_matches('[').trim_end_matches(']'))
}

fn get_port<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (u, path_only) = parsed("getPort", args)?;
    match (path_only, u.port()) {
        (false, Some(port)) => string(port.to_string()),
        _ => string(""),
    }
}

fn get_escaped_path<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (u, _) = parsed("getEscapedPath", args)?;
    let path = u.path();
    // `http://example.com` has the path "/" in the url crate and "" in Go.
    string(if path == "/" && !u.as_str().ends_with('/') {
        ""
    } else {
        path
    })
}

fn get_query<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (u, _) = parsed("getQuery", args)?;
    let mut query: HashMap<Key, Vec<Value>> = HashMap::new();
    for (k, v) in u.query_pairs() {
        query
            .entry(Key::String(Arc::new(k.into_owned())))
            .or_default()
            .push(Value::String(Arc::new(v.into_owned())));
    }
    let map = query
        .into_iter()
        .map(|(k, v)| (k, Value::List(Arc::new(v))))
        .collect();
    give(Value::Map(Map { map: Arc::new(map) }))
}
