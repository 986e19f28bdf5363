//! The shape of the generated schema ([`super::messages::MESSAGES`]) and the lookup from an
//! object's `apiVersion`/`kind` to its message.

use rudder_api::resources::RESOURCES;

use super::messages::MESSAGES;

/// One protobuf message of the API (`k8s.io.api.core.v1.ConfigMap`). `Copy` so that the
/// per-group tables can be joined into one at compile time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Message {
    /// Full proto name, as in `generated.proto`.
    pub(super) name: &'static str,
    /// How the message maps to JSON when not field by field.
    pub(super) special: Special,
    /// Fields in declaration (Go struct) order.
    pub(super) fields: &'static [Field],
}

impl Message {
    /// The short name (`ConfigMap`), for error messages.
    pub(super) fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }

    pub(super) fn field(&self, number: u32) -> Option<(usize, &'static Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.number == number)
    }
}

/// Messages whose JSON form is not an object of their fields: upstream gives these types a
/// custom `MarshalJSON`/`UnmarshalJSON`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    None,
    /// `metav1.Time`: `{seconds, nanos}`, JSON RFC 3339 in seconds; the empty message is the
    /// zero time, JSON `null`.
    Time,
    /// `metav1.MicroTime`: like `Time` with microseconds (`2006-01-02T15:04:05.000000Z`).
    MicroTime,
    /// `metav1.Duration`: `{duration}` in nanoseconds, JSON Go duration string (`1h2m3s`).
    Duration,
    /// `resource.Quantity`: `{string}`, JSON the string.
    Quantity,
    /// `intstr.IntOrString`: `{type, intVal, strVal}`, JSON a number or a string.
    IntOrString,
    /// `runtime.RawExtension`, `metav1.FieldsV1`, apiextensions `JSON`: `{raw}` holding JSON.
    RawJson,
    /// A named slice (`ExtraValue`, `Verbs`): `{repeated items}`, JSON the array.
    Items,
    /// apiextensions `JSONSchemaPropsOrArray`: `{schema, jSONSchemas}`, JSON object or array.
    SchemaOrArray,
    /// apiextensions `JSONSchemaPropsOrBool`: `{allows, schema}`, JSON bool or object.
    SchemaOrBool,
    /// apiextensions `JSONSchemaPropsOrStringArray`: `{schema, property}`, JSON object or array.
    SchemaOrStringArray,
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub(super) number: u32,
    /// The JSON name (the Go `json` tag); empty for inline fields.
    pub(super) json: &'static str,
    pub(super) ty: Ty,
    pub(super) flags: u8,
}

impl Field {
    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// `json:",omitempty"`: a zero scalar, empty list or empty map is left out of the JSON.
pub(super) const OMITEMPTY: u8 = 1;
/// The Go field is a pointer: a zero value on the wire is set (`replicas: 0`), not unset.
pub(super) const POINTER: u8 = 2;
/// `json:",inline"`: the message's fields are the parent's own (`Volume` and `VolumeSource`).
pub(super) const INLINE: u8 = 4;
/// `json:"-"`: not part of the JSON form.
pub(super) const SKIP: u8 = 8;
/// `repeated` in proto.
pub(super) const REPEATED: u8 = 16;

/// A field's proto type. Map keys are always strings in the Kubernetes API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    /// Index into [`MESSAGES`].
    Message(u16),
    MapString,
    MapBytes,
    MapMessage(u16),
}

pub(super) fn message(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}

/// The message of a full proto name.
pub(super) fn by_name(name: &str) -> Option<&'static Message> {
    MESSAGES
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .map(|i| &MESSAGES[i])
}

/// Kinds from `meta/v1` that every group-version serves: request options, `Status`, and the
/// metadata-only views (`as=PartialObjectMetadata;g=meta.k8s.io;v=v1`).
const META_KINDS: &[&str] = &[
    "DeleteOptions",
    "Status",
    "PartialObjectMetadata",
    "PartialObjectMetadataList",
];

/// The message of an object of `apiVersion`/`kind`, for every kind Rudder serves: each resource
/// of [`RESOURCES`], its list, the bodies of its subresources (`Scale`, `Eviction`,
/// `TokenRequest`, ...), and `DeleteOptions`/`Status`. `None` for anything else (custom
/// resources, which have no protobuf form).
pub(super) fn lookup(api_version: &str, kind: &str) -> Option<&'static Message> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    if (group.is_empty() && version != "v1") || version.is_empty() {
        return None;
    }
    if META_KINDS.contains(&kind) {
        let served = (version == "v1" && (group.is_empty() || group == "meta.k8s.io"))
            || RESOURCES.iter().any(|r| r.group == group && r.version == version);
        return served
            .then(|| by_name(&format!("k8s.io.apimachinery.pkg.apis.meta.v1.{kind}")))
            .flatten();
    }
    let served = RESOURCES.iter().any(|r| {
        (r.group == group
            && r.version == version
            && (r.kind == kind || kind.strip_suffix("List") == Some(r.kind)))
            || r.subresources
                .iter()
                .any(|s| s.group == group && s.version == version && s.kind == kind)
    });
    if !served {
        return None;
    }
    by_name(&format!("{}.{kind}", proto_package(group, version)))
}

/// The proto package of a group-version: `k8s.io.api.<first label of the group>.<version>`
/// (`rbac.authorization.k8s.io` is `rbac`), the core group is `core`, and apiextensions lives in
/// its own repository.
fn proto_package(group: &str, version: &str) -> String {
    match group {
        "" => format!("k8s.io.api.core.{version}"),
        "apiextensions.k8s.io" => format!("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.{version}"),
        _ => {
            let label = group.split('.').next().unwrap_or(group);
            format!("k8s.io.api.{label}.{version}")
        }
    }
}
