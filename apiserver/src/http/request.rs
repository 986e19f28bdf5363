//! Parsing a resource request path into what it addresses (upstream's `RequestInfo`).

use std::collections::HashMap;

/// What an API path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) namespace: Option<String>,
    pub(crate) resource: String,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
    /// The legacy `/watch/` path prefix was used.
    pub(crate) watch_prefix: bool,
}

/// Parses `/api/v1/...` and `/apis/<group>/<version>/...` resource paths. Returns `None` for
/// paths that are not resource paths (discovery documents, unknown roots).
pub(crate) fn parse_resource_path(path: &str) -> Option<ResourcePath> {
    let mut parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match *parts.first()? {
        "api" if parts.len() >= 3 => (String::new(), parts[1].to_string(), parts.split_off(2)),
        "apis" if parts.len() >= 4 => (parts[1].to_string(), parts[2].to_string(), parts.split_off(3)),
        _ => return None,
    };
    let mut rest: &[&str] = &rest;
    let watch_prefix = rest.first() == Some(&"watch");
    if watch_prefix {
        rest = &rest[1..];
    }
    if rest.is_empty() || rest.iter().any(|p| p.is_empty()) {
        return None;
    }
    // `namespaces/<ns>/<resource>...` addresses a namespaced resource; `namespaces[/<name>[/sub]]`
    // addresses namespaces themselves (their subresources are `status` and `finalize`).
    let (namespace, rest) =
        if rest[0] == "namespaces" && rest.len() >= 3 && !matches!(rest[2], "status" | "finalize") {
            (Some(rest[1].to_string()), &rest[2..])
        } else {
            (None, rest)
        };
    if rest.len() > 3 {
        return None;
    }
    Some(ResourcePath {
        group,
        version,
        namespace,
        resource: rest[0].to_string(),
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
        watch_prefix,
    })
}

/// Decoded query parameters (the last value wins, as with Go's `url.Values.Get` on the first:
/// upstream takes the first; we do the same).
pub(crate) fn query_map(query: Option<&str>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(k)).or_insert_with(|| percent_decode(v));
    }
    map
}

/// Decodes `%XX` escapes and `+` (as a space) of a query component; invalid escapes stay as text.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a Content-Type names a YAML body (`application/yaml`, as upstream accepts for
/// creates and updates; server-side apply's `application/apply-patch+yaml` is handled apart).
pub(crate) fn is_yaml(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or_default().trim() == "application/yaml"
}

/// Converts a YAML request body to JSON bytes (upstream turns YAML into JSON before decoding,
/// so the same field checks apply afterwards). JSON is YAML, so JSON bodies pass through.
pub(crate) fn yaml_to_json(body: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> ResourcePath {
        parse_resource_path(path).expect(path)
    }

    #[test]
    fn parses_core_and_group_paths() {
        let pods = p("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(pods.group, "");
        assert_eq!(pods.namespace.as_deref(), Some("default"));
        assert_eq!(pods.resource, "pods");
        assert_eq!(pods.name.as_deref(), Some("web"));
        assert_eq!(pods.subresource.as_deref(), Some("status"));
        let ns = p("/api/v1/namespaces/default");
        assert_eq!(
            (ns.resource.as_str(), ns.name.as_deref(), ns.namespace),
            ("namespaces", Some("default"), None)
        );
        let fin = p("/api/v1/namespaces/default/finalize");
        assert_eq!(
            (fin.resource.as_str(), fin.name.as_deref()),
            ("namespaces", Some("default"))
        );
        assert_eq!(fin.subresource.as_deref(), Some("finalize"));
        let deps = p("/apis/apps/v1/deployments");
        assert_eq!(
            (deps.group.as_str(), deps.version.as_str(), deps.namespace),
            ("apps", "v1", None)
        );
        let watch = p("/api/v1/watch/namespaces/x/pods");
        assert!(watch.watch_prefix);
        assert_eq!(watch.namespace.as_deref(), Some("x"));
        assert!(parse_resource_path("/api/v1").is_none());
        assert!(parse_resource_path("/apis/apps").is_none());
        assert!(parse_resource_path("/api/v1/pods/a/b/c").is_none());
    }

    #[test]
    fn decodes_queries() {
        let q = query_map(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&limit=500&limit=2&x"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["limit"], "500");
        assert_eq!(q["x"], "");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn converts_yaml_bodies() {
        assert!(is_yaml("application/yaml; charset=utf-8"));
        assert!(!is_yaml("application/apply-patch+yaml"));
        let json =
            yaml_to_json(b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"1\"\n  n: 2\n").expect("yaml");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(value["data"]["a"], "1");
        assert_eq!(value["data"]["n"], 2);
        assert!(yaml_to_json(b"a: [").is_err());
    }
}
