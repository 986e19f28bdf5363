//! The API's paths and operations, derived from the resource table: one neutral description
//! that [`super::v2`] renders as Swagger 2.0 and [`super::v3`] as OpenAPI 3.0.
//!
//! Per resource, as upstream's installer lays them out (`S/apiserver/pkg/endpoints/installer.go`):
//! the collection (`list`, `create`, `deletecollection`), the object (`get`, `put`, `patch`,
//! `delete`), the all-namespaces list of a namespaced resource, and each subresource. Every
//! operation carries `x-kubernetes-action` and, where upstream has it,
//! `x-kubernetes-group-version-kind`; writes take `dryRun`, `fieldManager` and
//! `fieldValidation`, which kubectl looks for before it asks the server to validate.

use rudder_api::patch::supported_patch_types;
use rudder_api::resources::{ResourceInfo, SubresourceInfo, groups, resources_in};

use super::params::{self, Param};
use super::schemas::{API_RESOURCE_LIST, DELETE_OPTIONS, PATCH, STATUS, Schemas};

/// The paths of one group-version.
#[derive(Debug)]
pub(super) struct GroupVersionApi {
    pub(super) group: &'static str,
    pub(super) version: &'static str,
    pub(super) paths: Vec<PathItem>,
}

impl GroupVersionApi {
    /// `api/v1` or `apis/apps/v1`: the key of the group-version in `/openapi/v3`.
    pub(super) fn key(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }
}

#[derive(Debug)]
pub(super) struct PathItem {
    pub(super) path: String,
    pub(super) params: Vec<Param>,
    pub(super) ops: Vec<Operation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gvk {
    pub(super) group: String,
    pub(super) version: String,
    pub(super) kind: String,
}

#[derive(Debug)]
pub(super) struct Operation {
    /// Lower-case HTTP method: `get`, `put`, `post`, `delete`, `patch`, `head`, `options`.
    pub(super) method: &'static str,
    pub(super) id: String,
    pub(super) description: String,
    /// `x-kubernetes-action`; `None` on the group-version root.
    pub(super) action: Option<&'static str>,
    pub(super) gvk: Option<Gvk>,
    pub(super) tag: String,
    pub(super) params: Vec<Param>,
    /// The definition the request body holds, and whether it is required.
    pub(super) body: Option<(String, bool)>,
    pub(super) consumes: Vec<&'static str>,
    pub(super) produces: &'static [&'static str],
    pub(super) responses: Vec<Response>,
}

#[derive(Debug)]
pub(super) struct Response {
    pub(super) code: &'static str,
    pub(super) description: &'static str,
    /// A definition name; `None` with `text` false means no body.
    pub(super) schema: Option<String>,
    /// The body is a plain string (logs, connect responses).
    pub(super) text: bool,
}

const OBJECT_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const LIST_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];
const LOG_MEDIA: &[&str] = &[
    "text/plain",
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const ANY_MEDIA: &[&str] = &["*/*"];

/// Every served group-version with its paths, in the resource table's order.
pub(super) fn group_versions(schemas: &Schemas) -> Vec<GroupVersionApi> {
    let mut out = Vec::new();
    for g in groups() {
        for version in g.versions {
            let mut api = GroupVersionApi {
                group: g.name,
                version,
                paths: Vec::new(),
            };
            api.paths.push(root(g.name, version));
            for r in resources_in(g.name, version) {
                resource_paths(schemas, r, &mut api.paths);
            }
            out.push(api);
        }
    }
    out
}

/// The group-versions of served custom resources, each with its root and resource paths.
pub(super) fn custom_group_versions(schemas: &Schemas, infos: &[ResourceInfo]) -> Vec<GroupVersionApi> {
    let mut out: Vec<GroupVersionApi> = Vec::new();
    for r in infos {
        let index = match out
            .iter()
            .position(|api| api.group == r.group && api.version == r.version)
        {
            Some(i) => i,
            None => {
                out.push(GroupVersionApi {
                    group: r.group,
                    version: r.version,
                    paths: vec![root(r.group, r.version)],
                });
                out.len() - 1
            }
        };
        resource_paths(schemas, r, &mut out[index].paths);
    }
    out
}

/// `/api/v1/` or `/apis/<group>/<version>/`: the group-version's resource list.
fn root(group: &str, version: &str) -> PathItem {
    let names = Names::new(group, version);
    PathItem {
        path: format!("{}/", names.prefix),
        params: Vec::new(),
        ops: vec![Operation {
            method: "get",
            id: format!("get{}APIResources", names.group_version),
            description: "get available resources".into(),
            action: None,
            gvk: None,
            tag: names.tag.clone(),
            params: Vec::new(),
            body: None,
            consumes: vec![
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ],
            produces: OBJECT_MEDIA,
            responses: vec![ok(API_RESOURCE_LIST), unauthorized()],
        }],
    }
}

/// How operation ids, tags and paths spell a group-version.
struct Names {
    /// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
    group_version: String,
    /// `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
    tag: String,
    /// `/api/v1`, `/apis/apps/v1`.
    prefix: String,
}

impl Names {
    fn new(group: &str, version: &str) -> Names {
        let group_camel = if group.is_empty() {
            "Core".to_string()
        } else {
            group
                .trim_end_matches(".k8s.io")
                .split('.')
                .map(capitalize)
                .collect()
        };
        let mut tag_group = group_camel.clone();
        if let Some(first) = tag_group.get_mut(..1) {
            first.make_ascii_lowercase();
        }
        Names {
            group_version: format!("{group_camel}{}", capitalize(version)),
            tag: format!("{tag_group}_{version}"),
            prefix: if group.is_empty() {
                format!("/api/{version}")
            } else {
                format!("/apis/{group}/{version}")
            },
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn ok(schema: &str) -> Response {
    response("200", "OK", schema)
}

fn response(code: &'static str, description: &'static str, schema: &str) -> Response {
    Response {
        code,
        description,
        schema: Some(schema.to_string()),
        text: false,
    }
}

fn text_ok() -> Response {
    Response {
        code: "200",
        description: "OK",
        schema: None,
        text: true,
    }
}

fn unauthorized() -> Response {
    Response {
        code: "401",
        description: "Unauthorized",
        schema: None,
        text: false,
    }
}

/// What one resource contributes: its collection, object, all-namespaces and subresource paths.
fn resource_paths(schemas: &Schemas, r: &ResourceInfo, out: &mut Vec<PathItem>) {
    let names = Names::new(r.group, r.version);
    let Some(def) = schemas.name_of(r.group, r.version, r.kind).map(str::to_string) else {
        return;
    };
    let list_def = format!("{def}List");
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let base = if r.namespaced {
        format!("{}/namespaces/{{namespace}}/{}", names.prefix, r.plural)
    } else {
        format!("{}/{}", names.prefix, r.plural)
    };
    let scope_params: Vec<Param> = if r.namespaced {
        vec![params::NAMESPACE]
    } else {
        Vec::new()
    };
    let gvk = Gvk {
        group: r.group.into(),
        version: r.version.into(),
        kind: r.kind.into(),
    };
    let op = |method, verb: &str, action, description: String, suffix: &str| Operation {
        method,
        id: format!("{verb}{}{scope}{}{suffix}", names.group_version, r.kind),
        description,
        action: Some(action),
        gvk: Some(gvk.clone()),
        tag: names.tag.clone(),
        params: Vec::new(),
        body: None,
        consumes: ANY_MEDIA.to_vec(),
        produces: OBJECT_MEDIA,
        responses: Vec::new(),
    };

    let mut collection = Vec::new();
    if r.has_verb("list") {
        let mut o = op(
            "get",
            "list",
            "list",
            format!("list or watch objects of kind {}", r.kind),
            "",
        );
        o.params = params::LIST.to_vec();
        o.produces = LIST_MEDIA;
        o.responses = vec![ok(&list_def), unauthorized()];
        collection.push(o);
    }
    if r.has_verb("create") {
        let mut o = op("post", "create", "post", format!("create a {}", r.kind), "");
        o.params = params::WRITE.to_vec();
        o.body = Some((def.clone(), true));
        o.responses = vec![
            ok(&def),
            response("201", "Created", &def),
            response("202", "Accepted", &def),
            unauthorized(),
        ];
        collection.push(o);
    }
    if r.has_verb("deletecollection") {
        let mut o = op(
            "delete",
            "delete",
            "deletecollection",
            format!("delete collection of {}", r.kind),
            "",
        );
        o.id = format!("delete{}Collection{scope}{}", names.group_version, r.kind);
        o.params = params::DELETE_COLLECTION.to_vec();
        o.body = Some((DELETE_OPTIONS.into(), false));
        o.responses = vec![ok(STATUS), unauthorized()];
        collection.push(o);
    }
    push_path(out, base.clone(), with_pretty(&scope_params), collection);

    let mut object = Vec::new();
    if r.has_verb("get") {
        let mut o = op("get", "read", "get", format!("read the specified {}", r.kind), "");
        o.responses = vec![ok(&def), unauthorized()];
        object.push(o);
    }
    if r.has_verb("update") {
        object.push(replace_op(
            op(
                "put",
                "replace",
                "put",
                format!("replace the specified {}", r.kind),
                "",
            ),
            &def,
        ));
    }
    if r.has_verb("patch") {
        let o = op(
            "patch",
            "patch",
            "patch",
            format!("partially update the specified {}", r.kind),
            "",
        );
        object.push(patch_op(o, r.group, r.kind, &def));
    }
    if r.has_verb("delete") {
        let mut o = op("delete", "delete", "delete", format!("delete a {}", r.kind), "");
        o.params = params::DELETE.to_vec();
        o.body = Some((DELETE_OPTIONS.into(), false));
        o.responses = vec![ok(STATUS), response("202", "Accepted", STATUS), unauthorized()];
        object.push(o);
    }
    let object_path = format!("{base}/{{name}}");
    let mut object_params = vec![params::NAME];
    object_params.extend(scope_params.iter().copied());
    push_path(out, object_path.clone(), with_pretty(&object_params), object);

    if r.namespaced && r.has_verb("list") {
        let mut o = op(
            "get",
            "list",
            "list",
            format!("list or watch objects of kind {}", r.kind),
            "",
        );
        o.id = format!("list{}{}ForAllNamespaces", names.group_version, r.kind);
        o.params = params::LIST.to_vec();
        o.produces = LIST_MEDIA;
        o.responses = vec![ok(&list_def), unauthorized()];
        push_path(
            out,
            format!("{}/{}", names.prefix, r.plural),
            with_pretty(&[]),
            vec![o],
        );
    }

    for sub in r.subresources {
        let suffix = capitalize(sub.name);
        let sub_gvk = Gvk {
            group: sub.group.into(),
            version: sub.version.into(),
            kind: sub.kind.into(),
        };
        let sub_def = schemas
            .name_of(sub.group, sub.version, sub.kind)
            .map(str::to_string);
        let sub_op = |method, verb: &str, action, what: &str| {
            let mut o = op(
                method,
                verb,
                action,
                format!("{what} {} of the specified {}", sub.name, r.kind),
                &suffix,
            );
            o.gvk = Some(sub_gvk.clone());
            o
        };
        let path = format!("{object_path}/{}", sub.name);
        match sub.name {
            "exec" | "attach" | "portforward" | "proxy" => {
                connect_paths(out, sub, &path, &object_params, |method| {
                    let mut o = sub_op(method, "connect", "connect", "connect");
                    o.id = format!(
                        "connect{}{}{scope}{}{suffix}",
                        names.group_version,
                        capitalize(method),
                        r.kind
                    );
                    o.description = format!(
                        "connect {} requests to {} of {}",
                        method.to_uppercase(),
                        sub.name,
                        r.kind
                    );
                    o.produces = ANY_MEDIA;
                    o.responses = vec![text_ok(), unauthorized()];
                    o
                });
            }
            "log" => {
                let mut o = sub_op("get", "read", "get", "read");
                o.gvk = Some(gvk.clone());
                o.params = params::LOG.to_vec();
                o.produces = LOG_MEDIA;
                o.responses = vec![text_ok(), unauthorized()];
                push_path(out, path, with_pretty(&object_params), vec![o]);
            }
            _ => {
                let Some(sub_def) = sub_def else {
                    continue;
                };
                let mut ops = Vec::new();
                if sub.verbs.contains(&"get") {
                    let mut o = sub_op("get", "read", "get", "read");
                    o.responses = vec![ok(&sub_def), unauthorized()];
                    ops.push(o);
                }
                if sub.verbs.contains(&"update") {
                    ops.push(replace_op(sub_op("put", "replace", "put", "replace"), &sub_def));
                }
                if sub.verbs.contains(&"patch") {
                    let o = sub_op("patch", "patch", "patch", "partially update");
                    ops.push(patch_op(o, sub.group, sub.kind, &sub_def));
                }
                if sub.verbs.contains(&"create") {
                    let mut o = sub_op("post", "create", "post", "create");
                    o.description = format!("create {} of a {}", sub.name, r.kind);
                    o.params = params::WRITE.to_vec();
                    o.body = Some((sub_def.clone(), true));
                    o.responses = vec![
                        ok(&sub_def),
                        response("201", "Created", &sub_def),
                        response("202", "Accepted", &sub_def),
                        unauthorized(),
                    ];
                    ops.push(o);
                }
                push_path(out, path, with_pretty(&object_params), ops);
            }
        }
    }
}

fn with_pretty(scope: &[Param]) -> Vec<Param> {
    let mut p = scope.to_vec();
    p.push(params::PRETTY);
    p
}

fn push_path(out: &mut Vec<PathItem>, path: String, params: Vec<Param>, ops: Vec<Operation>) {
    if !ops.is_empty() {
        out.push(PathItem { path, params, ops });
    }
}

fn replace_op(mut o: Operation, def: &str) -> Operation {
    o.params = params::WRITE.to_vec();
    o.body = Some((def.to_string(), true));
    o.responses = vec![ok(def), response("201", "Created", def), unauthorized()];
    o
}

fn patch_op(mut o: Operation, group: &str, kind: &str, def: &str) -> Operation {
    o.params = params::PATCH.to_vec();
    o.body = Some((PATCH.into(), true));
    o.consumes = supported_patch_types(group, kind).to_vec();
    o.responses = vec![ok(def), response("201", "Created", def), unauthorized()];
    o
}

/// The connect operations of `exec`, `attach`, `portforward` and `proxy` (the latter also at
/// `proxy/{path}`), one per HTTP method the subresource's verbs allow.
fn connect_paths(
    out: &mut Vec<PathItem>,
    sub: &SubresourceInfo,
    path: &str,
    object_params: &[Param],
    make: impl Fn(&'static str) -> Operation,
) {
    let options: &[Param] = match sub.name {
        "exec" => params::EXEC,
        "attach" => params::ATTACH,
        "portforward" => params::PORTFORWARD,
        _ => &[],
    };
    let mut methods: Vec<&'static str> = Vec::new();
    for verb in sub.verbs {
        match *verb {
            "get" => methods.push("get"),
            "create" => methods.push("post"),
            "update" => methods.push("put"),
            "patch" => methods.push("patch"),
            "delete" => methods.push("delete"),
            _ => {}
        }
    }
    if sub.name == "proxy" {
        methods.extend(["head", "options"]);
    }
    let ops = |extra: &[Param]| -> Vec<Operation> {
        methods
            .iter()
            .map(|m| {
                let mut o = make(m);
                o.params = options.iter().chain(extra).copied().collect();
                o
            })
            .collect()
    };
    if sub.name == "proxy" {
        push_path(
            out,
            path.to_string(),
            object_params.to_vec(),
            ops(&[params::PROXY_PATH_QUERY]),
        );
        let mut sub_params = object_params.to_vec();
        sub_params.push(params::PROXY_PATH);
        let mut nested = ops(&[]);
        for o in &mut nested {
            o.id.push_str("WithPath");
        }
        push_path(out, format!("{path}/{{path}}"), sub_params, nested);
    } else {
        push_path(out, path.to_string(), object_params.to_vec(), ops(&[]));
    }
}
