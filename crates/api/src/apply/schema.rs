//! The structural schema server-side apply merges by: which objects merge key by key, which
//! values are atomic, and how each list is keyed.
//!
//! Upstream derives this from OpenAPI (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type`, which come from the `+listType`, `+listMapKey`, `+mapType` and
//! `+structType` tags of `k8s.io/api`). Rudder derives it from the strategic-merge-patch
//! metadata ([`crate::patch::schema_for`]): a list merged by a key is an SSA map-list keyed by
//! that field, a merged list of scalars is a set, a `replace` object is atomic, everything else
//! is atomic (lists) or merged key by key (objects). A small table fixes the places where the
//! apply tags differ from the patch tags:
//!
//! | Field | Patch merge key | Apply list-map keys |
//! |---|---|---|
//! | container `ports` | `containerPort` | `containerPort`, `protocol` (default `TCP`) |
//! | Service `spec.ports` | `port` | `port`, `protocol` (default `TCP`) |
//! | `topologySpreadConstraints` | `topologyKey` | `topologyKey`, `whenUnsatisfiable` |
//! | container `resources.claims` | (atomic) | `name` |
//! | Pod `status.hostIPs` | `ip` | (atomic) |
//!
//! plus the atomic structs and maps of the built-in types (label selectors, `nodeSelector`,
//! Service and ReplicationController `selector`, object and key references, node selectors),
//! and the struct fields Go always serializes (`spec`, `status`, `template`, `strategy`, ...),
//! which are never "added" or "removed" as a whole.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;

use crate::patch::{PatchSchema, PatchStrategy, schema_for, supports_strategic};

/// Names that are atomic wherever they appear in a built-in type: `metav1.LabelSelector`,
/// `NodeSelector`, the `*KeySelector`/`*FieldSelector` references, `ObjectReference`,
/// `LocalObjectReference`, `SecretReference` and the `+mapType=atomic` selectors.
const ATOMIC_NAMES: &[&str] = &[
    "claimRef",
    "configMapKeyRef",
    "controllerExpandSecretRef",
    "controllerPublishSecretRef",
    "fieldRef",
    "fileKeyRef",
    "involvedObject",
    "labelSelector",
    "namespaceSelector",
    "nodeExpandSecretRef",
    "nodePublishSecretRef",
    "nodeSelector",
    "nodeStageSecretRef",
    "objectSelector",
    "podSelector",
    "regarding",
    "related",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "resourceFieldRef",
    "secretKeyRef",
    "secretRef",
    "selector",
];

/// Fields of built-in types Go always serializes (non-pointer structs, slices without
/// `omitempty`), so a typed object never lacks them: compared as `{}`/`[]` when missing.
const ALWAYS_PRESENT_NAMES: &[&str] = &[
    "containers",
    "jobTemplate",
    "metadata",
    "rules",
    "spec",
    "status",
    "strategy",
    "template",
    "updateStrategy",
];

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// One key field of a keyed list, with the default upstream substitutes when an item omits it.
#[derive(Debug, Clone)]
pub(crate) struct ListKey {
    pub(crate) name: &'static str,
    pub(crate) default: Option<Value>,
}

/// The schema of one value.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An object merged field by field.
    Struct(Struct),
    /// Replaced whole: atomic lists, maps and structs.
    Atomic,
    /// A list of scalars merged as a set (`+listType=set`).
    Set,
    /// A list of objects merged by key (`+listType=map`).
    ListMap { keys: Vec<ListKey>, elem: Box<Node> },
    /// Not described: objects merge field by field, lists are atomic. `builtin` selects the
    /// name-based rules of the built-in types for the children.
    Unknown { builtin: bool },
}

/// Declared fields of an object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Struct {
    pub(crate) fields: BTreeMap<&'static str, Field>,
    /// Whether undeclared children follow the built-in name rules.
    pub(crate) builtin: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) node: Node,
    /// A non-pointer Go struct: compared as `{}` when missing on one side.
    pub(crate) always_present: bool,
}

static UNKNOWN: Node = Node::Unknown { builtin: false };
static UNKNOWN_BUILTIN: Node = Node::Unknown { builtin: true };
static ATOMIC: Node = Node::Atomic;

impl Node {
    /// The schema of the field `name` of an object described by `self`, and whether that field
    /// is always present.
    pub(crate) fn field(&self, name: &str) -> (&Node, bool) {
        match self {
            Node::Struct(s) => match s.fields.get(name) {
                Some(f) => (&f.node, f.always_present),
                None => fallback(s.builtin, name),
            },
            Node::Unknown { builtin } => fallback(*builtin, name),
            _ => (&UNKNOWN, false),
        }
    }
}

fn fallback(builtin: bool, name: &str) -> (&'static Node, bool) {
    if !builtin {
        (&UNKNOWN, false)
    } else if ATOMIC_NAMES.contains(&name) {
        (&ATOMIC, false)
    } else {
        (&UNKNOWN_BUILTIN, ALWAYS_PRESENT_NAMES.contains(&name))
    }
}

/// The apply schema of one kind. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApplySchema {
    root: Arc<Node>,
}

impl ApplySchema {
    /// The schema of `kind` in API `group` (`""` for core). Built-in kinds get their full
    /// structure; anything else (custom resources) gets `ObjectMeta` and otherwise merges
    /// objects field by field and replaces lists, as upstream does for CRD schemas without
    /// list-type annotations. Results are cached.
    pub fn for_kind(group: &str, kind: &str) -> ApplySchema {
        static CACHE: OnceLock<RwLock<HashMap<(String, String), ApplySchema>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = (group.to_string(), kind.to_string());
        if let Some(found) = cache.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return found.clone();
        }
        let schema = if supports_strategic(group, kind) {
            Self::builtin(group, kind, &schema_for(group, kind))
        } else {
            Self::custom()
        };
        cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(schema)
            .clone()
    }

    /// The schema of a custom resource (or any kind without built-in metadata).
    pub fn custom() -> ApplySchema {
        let mut root = Struct::default();
        root.fields.insert(
            "metadata",
            Field {
                node: Node::Struct(object_meta()),
                always_present: true,
            },
        );
        ApplySchema {
            root: Arc::new(Node::Struct(root)),
        }
    }

    /// A schema read straight from patch metadata, without the built-in corrections.
    pub fn from_patch_schema(schema: &PatchSchema) -> ApplySchema {
        ApplySchema {
            root: Arc::new(Node::Struct(convert(schema, false))),
        }
    }

    fn builtin(group: &str, kind: &str, schema: &PatchSchema) -> ApplySchema {
        let mut root = convert(schema, true);
        let mut path = Vec::new();
        adjust_struct(&mut root, group, kind, &mut path);
        ApplySchema {
            root: Arc::new(Node::Struct(root)),
        }
    }

    pub(crate) fn root(&self) -> &Node {
        &self.root
    }
}

impl Default for ApplySchema {
    fn default() -> Self {
        Self::custom()
    }
}

/// `metav1.ObjectMeta`: finalizers are a set, ownerReferences a map keyed by uid of atomic
/// items, managedFields atomic.
fn object_meta() -> Struct {
    let mut s = Struct {
        builtin: true,
        ..Struct::default()
    };
    s.fields.insert(
        "finalizers",
        Field {
            node: Node::Set,
            always_present: false,
        },
    );
    s.fields.insert(
        "ownerReferences",
        Field {
            node: Node::ListMap {
                keys: vec![ListKey {
                    name: "uid",
                    default: None,
                }],
                elem: Box::new(Node::Atomic),
            },
            always_present: false,
        },
    );
    s.fields.insert(
        "managedFields",
        Field {
            node: Node::Atomic,
            always_present: false,
        },
    );
    s
}

fn convert(schema: &PatchSchema, builtin: bool) -> Struct {
    let mut out = Struct {
        builtin,
        ..Struct::default()
    };
    for name in schema.field_names() {
        let Some(meta) = schema.field(name) else {
            continue;
        };
        let elem = |s: &PatchSchema| {
            if s.is_untyped() {
                Node::Unknown { builtin }
            } else {
                Node::Struct(convert(s, builtin))
            }
        };
        let node = match meta.strategy {
            PatchStrategy::Merge => match meta.merge_key {
                Some(key) => Node::ListMap {
                    keys: vec![ListKey {
                        name: key,
                        default: None,
                    }],
                    elem: Box::new(elem(&meta.schema)),
                },
                None => Node::Set,
            },
            PatchStrategy::Replace => Node::Atomic,
            PatchStrategy::Default => elem(&meta.schema),
        };
        let node = if builtin && ATOMIC_NAMES.contains(&name) {
            Node::Atomic
        } else {
            node
        };
        let always_present = builtin && ALWAYS_PRESENT_NAMES.contains(&name);
        out.fields.insert(name, Field { node, always_present });
    }
    out
}

fn key(name: &'static str) -> ListKey {
    ListKey { name, default: None }
}

fn key_default(name: &'static str, default: &str) -> ListKey {
    ListKey {
        name,
        default: Some(Value::String(default.to_string())),
    }
}

/// Applies the apply-specific corrections of the built-in types (see the module docs).
fn adjust_struct(s: &mut Struct, group: &str, kind: &str, path: &mut Vec<&'static str>) {
    let parent = path.last().copied();
    for (name, field) in s.fields.iter_mut() {
        let name: &'static str = name;
        match (name, &mut field.node) {
            ("ports", Node::ListMap { keys, .. }) if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => {
                *keys = vec![key("containerPort"), key_default("protocol", "TCP")];
            }
            ("ports", Node::ListMap { keys, .. })
                if group.is_empty() && kind == "Service" && path.as_slice() == ["spec"] =>
            {
                *keys = vec![key("port"), key_default("protocol", "TCP")];
            }
            ("topologySpreadConstraints", Node::ListMap { keys, .. }) => {
                *keys = vec![key("topologyKey"), key("whenUnsatisfiable")];
            }
            ("ownerReferences" | "imagePullSecrets", Node::ListMap { elem, .. }) => {
                **elem = Node::Atomic;
            }
            ("secrets", Node::ListMap { elem, .. }) if group.is_empty() && kind == "ServiceAccount" => {
                **elem = Node::Atomic;
            }
            ("resources", Node::Struct(res)) if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => {
                field.always_present = true;
                res.fields.insert(
                    "claims",
                    Field {
                        node: Node::ListMap {
                            keys: vec![key("name")],
                            elem: Box::new(Node::Unknown { builtin: true }),
                        },
                        always_present: false,
                    },
                );
            }
            ("hostIPs", node) if group.is_empty() && kind == "Pod" && path.as_slice() == ["status"] => {
                *node = Node::Atomic;
            }
            _ => {}
        }
        path.push(name);
        match &mut field.node {
            Node::Struct(child) => adjust_struct(child, group, kind, path),
            Node::ListMap { elem, .. } => {
                if let Node::Struct(child) = elem.as_mut() {
                    adjust_struct(child, group, kind, path);
                }
            }
            _ => {}
        }
        path.pop();
    }
}
