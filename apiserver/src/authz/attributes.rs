//! What a request asks to do, in authorization terms (upstream `authorizer.AttributesRecord`
//! built from `RequestInfoFactory.NewRequestInfo` in `apiserver/pkg/endpoints/request`).

use std::collections::HashMap;

use http::Method;
use rudder_api::status::{ApiError, AuthzAttributes};

use crate::authn::UserInfo;
use crate::http::request::parse_resource_path;

/// One request's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) user: UserInfo,
    pub(crate) verb: String,
    /// False for non-resource paths (`/healthz`, `/api`, `/openapi/v2`); then `path` applies.
    pub(crate) resource_request: bool,
    pub(crate) namespace: String,
    pub(crate) api_group: String,
    pub(crate) api_version: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) name: String,
    pub(crate) path: String,
}

impl Attributes {
    /// A resource request's attributes (reviews and in-server checks build them directly).
    pub(crate) fn resource(
        user: &UserInfo,
        verb: &str,
        api_group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            namespace: namespace.into(),
            api_group: api_group.into(),
            api_version: "*".into(),
            resource: resource.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    /// From the request line, as upstream's request-info factory reads it.
    pub(crate) fn from_request(
        user: &UserInfo,
        method: &Method,
        path: &str,
        query: &HashMap<String, String>,
    ) -> Self {
        let Some(parsed) = parse_resource_path(connect_path(path)) else {
            return Attributes {
                user: user.clone(),
                verb: method.as_str().to_ascii_lowercase(),
                path: path.to_string(),
                ..Default::default()
            };
        };
        let named = parsed.name.is_some();
        let watching =
            parsed.watch_prefix || matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match *method {
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            Method::GET | Method::HEAD if watching => "watch",
            Method::GET | Method::HEAD if named => "get",
            Method::GET | Method::HEAD => "list",
            _ => "",
        };
        let mut name = parsed.name.unwrap_or_default();
        // A list or watch of one object by field selector is authorized as that object, which
        // lets kubelets watch just the secrets their pods use.
        if name.is_empty()
            && matches!(verb, "list" | "watch")
            && let Some(selected) = query.get("fieldSelector").and_then(|s| single_name(s))
        {
            name = selected;
        }
        // `/api/v1/namespaces/<ns>` is in its own namespace, as upstream's parser makes it.
        let namespace = match parsed.namespace {
            Some(ns) => ns,
            None if parsed.resource == "namespaces" && parsed.group.is_empty() => name.clone(),
            None => String::new(),
        };
        Attributes {
            user: user.clone(),
            verb: verb.to_string(),
            resource_request: true,
            namespace,
            api_group: parsed.group,
            api_version: parsed.version,
            resource: parsed.resource,
            subresource: parsed.subresource.unwrap_or_default(),
            name,
            path: path.to_string(),
        }
    }

    /// The second check a WebSocket stream needs: its handshake is a `GET`, authorized as
    /// `get pods/exec` (or attach, portforward), but it starts the same session a SPDY `POST`
    /// does, so upstream also requires `create` on the subresource
    /// (`AuthorizePodWebsocketUpgradeCreatePermission`), for WebSocket upgrades. Upstream adds it for these three
    /// only, not for `pods/proxy`, `services/proxy` or `nodes/proxy`; so do we.
    pub(crate) fn connect_create_check(&self, headers: &http::HeaderMap) -> Option<Attributes> {
        let streams = matches!(self.subresource.as_str(), "exec" | "attach" | "portforward");
        let websocket = headers
            .get(http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        (websocket
            && self.resource_request
            && self.verb == "get"
            && self.api_group.is_empty()
            && self.resource == "pods"
            && streams)
            .then(|| Attributes {
                verb: "create".into(),
                ..self.clone()
            })
    }

    /// The 403 upstream answers for a denied request.
    pub(crate) fn forbidden(&self, reason: &str) -> ApiError {
        ApiError::forbidden_request(
            &AuthzAttributes {
                user: self.user.name.clone(),
                verb: self.verb.clone(),
                resource_request: self.resource_request,
                api_group: self.api_group.clone(),
                resource: self.resource.clone(),
                subresource: self.subresource.clone(),
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                path: self.path.clone(),
            },
            reason,
        )
    }
}

/// The resource part of a proxy path: upstream's request info takes the part after the name
/// as the subresource and ignores the rest, so `pods/web/proxy/a/b` is `pods/proxy` of `web`
/// (and so for services and nodes).
fn connect_path(path: &str) -> &str {
    for (i, _) in path.match_indices("/proxy") {
        let end = i + "/proxy".len();
        if !(path.len() == end || path[end..].starts_with('/')) {
            continue;
        }
        let candidate = &path[..end];
        if parse_resource_path(candidate).is_some_and(|p| p.subresource.as_deref() == Some("proxy")) {
            return candidate;
        }
    }
    path
}

/// `metadata.name=<x>` (or `==`) as the only requirement of a field selector.
fn single_name(selector: &str) -> Option<String> {
    if selector.contains(',') {
        return None;
    }
    let value = selector
        .strip_prefix("metadata.name==")
        .or_else(|| selector.strip_prefix("metadata.name="))?;
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: Method, path: &str, query: &[(&str, &str)]) -> Attributes {
        let query = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Attributes::from_request(&UserInfo::default(), &method, path, &query)
    }

    #[test]
    fn verbs_follow_method_and_shape() {
        let cases = [
            (Method::GET, "/api/v1/namespaces/ns/pods", vec![], "list"),
            (
                Method::GET,
                "/api/v1/namespaces/ns/pods",
                vec![("watch", "true")],
                "watch",
            ),
            (Method::GET, "/api/v1/watch/namespaces/ns/pods", vec![], "watch"),
            (Method::GET, "/api/v1/namespaces/ns/pods/p", vec![], "get"),
            (Method::POST, "/api/v1/namespaces/ns/pods", vec![], "create"),
            (Method::PUT, "/api/v1/namespaces/ns/pods/p", vec![], "update"),
            (Method::PATCH, "/api/v1/namespaces/ns/pods/p", vec![], "patch"),
            (Method::DELETE, "/api/v1/namespaces/ns/pods/p", vec![], "delete"),
            (
                Method::DELETE,
                "/api/v1/namespaces/ns/pods",
                vec![],
                "deletecollection",
            ),
        ];
        for (method, path, query, verb) in cases {
            let a = attrs(method, path, &query);
            assert!(a.resource_request, "{path}");
            assert_eq!(a.verb, verb, "{path} {query:?}");
            assert_eq!(a.namespace, "ns");
            assert_eq!(a.resource, "pods");
        }
    }

    #[test]
    fn non_resource_paths_use_the_lowercase_method() {
        for path in [
            "/healthz",
            "/api",
            "/apis",
            "/api/v1",
            "/apis/apps/v1",
            "/openapi/v2",
            "/version",
        ] {
            let a = attrs(Method::GET, path, &[]);
            assert!(!a.resource_request, "{path}");
            assert_eq!(a.verb, "get");
            assert_eq!(a.path, path);
        }
        assert_eq!(attrs(Method::POST, "/healthz", &[]).verb, "post");
    }

    #[test]
    fn names_groups_subresources_and_namespaces() {
        let a = attrs(
            Method::POST,
            "/apis/apps/v1/namespaces/x/deployments/d/scale",
            &[],
        );
        assert_eq!(
            (
                a.api_group.as_str(),
                a.resource.as_str(),
                a.subresource.as_str(),
                a.name.as_str()
            ),
            ("apps", "deployments", "scale", "d")
        );
        let ns = attrs(Method::GET, "/api/v1/namespaces/kube-system", &[]);
        assert_eq!(
            (ns.namespace.as_str(), ns.name.as_str()),
            ("kube-system", "kube-system")
        );
        let nodes = attrs(Method::GET, "/api/v1/nodes", &[]);
        assert_eq!(nodes.namespace, "");
    }

    #[test]
    fn field_selected_name_is_the_name() {
        let a = attrs(
            Method::GET,
            "/api/v1/namespaces/ns/secrets",
            &[("watch", "1"), ("fieldSelector", "metadata.name=s1")],
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "s1"));
        let b = attrs(
            Method::GET,
            "/api/v1/namespaces/ns/secrets",
            &[("fieldSelector", "metadata.name=s1,type=x")],
        );
        assert_eq!(b.name, "");
    }

    #[test]
    fn proxy_paths_are_the_proxy_subresource() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/ns/pods/web:8080/proxy/a/b",
                "pods",
                "web:8080",
                "get",
            ),
            (
                Method::POST,
                "/api/v1/namespaces/ns/services/https:s:443/proxy/",
                "services",
                "https:s:443",
                "create",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/proxy/pods/p/proxy",
                "pods",
                "p",
                "delete",
            ),
            (
                Method::PUT,
                "/api/v1/nodes/n1/proxy/configz",
                "nodes",
                "n1",
                "update",
            ),
        ];
        for (method, path, resource, name, verb) in cases {
            let a = attrs(method, path, &[]);
            assert!(a.resource_request, "{path}");
            assert_eq!(
                (
                    a.resource.as_str(),
                    a.subresource.as_str(),
                    a.name.as_str(),
                    a.verb.as_str()
                ),
                (resource, "proxy", name, verb),
                "{path}"
            );
            assert_eq!(a.path, path);
        }
        // A namespace or a name called "proxy" is not the subresource.
        let a = attrs(Method::GET, "/api/v1/namespaces/proxy/pods/proxy", &[]);
        assert_eq!((a.name.as_str(), a.subresource.as_str()), ("proxy", ""));
    }

    #[test]
    fn websocket_streams_also_need_create() {
        let mut ws = http::HeaderMap::new();
        ws.insert(http::header::UPGRADE, "websocket".parse().unwrap());
        let plain = http::HeaderMap::new();
        for sub in ["exec", "attach", "portforward"] {
            let path = format!("/api/v1/namespaces/ns/pods/p/{sub}");
            let extra = attrs(Method::GET, &path, &[])
                .connect_create_check(&ws)
                .expect(sub);
            assert_eq!((extra.verb.as_str(), extra.subresource.as_str()), ("create", sub));
            assert!(
                attrs(Method::POST, &path, &[])
                    .connect_create_check(&ws)
                    .is_none()
            );
            assert!(
                attrs(Method::GET, &path, &[])
                    .connect_create_check(&plain)
                    .is_none()
            );
        }
        for path in [
            "/api/v1/namespaces/ns/pods/p/log",
            "/api/v1/namespaces/ns/pods/p/proxy/x",
            "/api/v1/nodes/n/proxy/exec/ns/p/c",
            "/api/v1/namespaces/ns/pods/p",
        ] {
            assert!(
                attrs(Method::GET, path, &[]).connect_create_check(&ws).is_none(),
                "{path}"
            );
        }
    }

    #[test]
    fn forbidden_message_is_upstreams() {
        let mut a = attrs(Method::GET, "/api/v1/namespaces/default/pods", &[]);
        a.user.name = "bob".into();
        let err = a.forbidden("");
        assert_eq!(err.code(), 403);
        assert_eq!(
            err.to_status()["message"],
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
    }
}
