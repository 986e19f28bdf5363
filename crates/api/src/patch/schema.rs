//! Patch metadata: which fields of a type merge, by which key, and which replace.
//!
//! This mirrors the `patchStrategy` / `patchMergeKey` struct tags of the upstream Go types
//! (`k8s.io/api/*/v1/types.go`, `k8s.io/apimachinery/pkg/apis/meta/v1/types.go`), which the
//! apiserver reads through `strategicpatch.NewPatchMetaFromStruct`. A [`PatchSchema`] is a
//! tree: each node describes one Go struct, and each field entry carries its strategy and the
//! schema of its value (for a struct) or of its elements (for a list).
//!
//! Fields a schema does not mention get the default treatment, which is also what upstream
//! does for untagged fields: objects merge key by key, lists are replaced whole.

use std::collections::BTreeMap;
use std::sync::Arc;

/// How a field is patched, from its `patchStrategy` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatchStrategy {
    /// No tag. Objects merge key by key; lists (and scalars) are replaced atomically.
    #[default]
    Default,
    /// `patchStrategy:"merge"`. Lists of objects merge by the merge key; lists of scalars
    /// merge as a set union.
    Merge,
    /// `patchStrategy:"replace"`. The patch value replaces the live value, even for objects.
    Replace,
}

/// Patch metadata of one field.
#[derive(Debug, Clone, Default)]
pub struct FieldMeta {
    /// The field's strategy.
    pub strategy: PatchStrategy,
    /// `patchMergeKey`: the key identifying list elements. `None` for lists of scalars.
    pub merge_key: Option<&'static str>,
    /// Whether the tag includes `retainKeys` (clients then send `$retainKeys` directives).
    pub retain_keys: bool,
    /// Schema of the field's value when it is an object, or of its elements when a list.
    pub schema: PatchSchema,
}

/// Patch metadata for one object type: a tree of [`FieldMeta`].
///
/// Cloning is cheap (the tree is shared). The empty schema ([`PatchSchema::untyped`]) gives
/// every field default semantics.
#[derive(Debug, Clone, Default)]
pub struct PatchSchema {
    fields: Option<Arc<BTreeMap<&'static str, FieldMeta>>>,
}

impl PatchSchema {
    /// A schema that knows no fields: objects merge, lists replace (JSON merge patch rules).
    pub fn untyped() -> Self {
        Self::default()
    }

    /// Starts building a schema.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::default()
    }

    /// True when the schema knows no fields.
    pub fn is_untyped(&self) -> bool {
        self.fields.as_ref().is_none_or(|f| f.is_empty())
    }

    /// The metadata of `field`, if the schema declares it.
    pub fn field(&self, field: &str) -> Option<&FieldMeta> {
        self.fields.as_ref()?.get(field)
    }

    /// Follows a path of field names through nested objects and list elements.
    pub fn at_path(&self, path: &[&str]) -> Option<&FieldMeta> {
        let (first, rest) = path.split_first()?;
        let meta = self.field(first)?;
        if rest.is_empty() {
            Some(meta)
        } else {
            meta.schema.at_path(rest)
        }
    }

    /// The names of the declared fields, sorted.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().flat_map(|f| f.keys().copied())
    }

    /// Metadata used while merging: declared metadata, or the default for unknown fields.
    pub(crate) fn lookup(&self, field: &str) -> FieldMeta {
        self.field(field).cloned().unwrap_or_default()
    }
}

/// Builds a [`PatchSchema`] field by field.
#[derive(Debug, Default)]
pub struct SchemaBuilder {
    fields: BTreeMap<&'static str, FieldMeta>,
}

impl SchemaBuilder {
    fn insert(mut self, name: &'static str, meta: FieldMeta) -> Self {
        self.fields.insert(name, meta);
        self
    }

    /// A nested object with default (merge) semantics.
    pub fn object(self, name: &'static str, schema: PatchSchema) -> Self {
        self.insert(
            name,
            FieldMeta {
                schema,
                ..FieldMeta::default()
            },
        )
    }

    /// A nested object tagged `patchStrategy:"retainKeys"`.
    pub fn retain_keys_object(self, name: &'static str, schema: PatchSchema) -> Self {
        self.insert(
            name,
            FieldMeta {
                retain_keys: true,
                schema,
                ..FieldMeta::default()
            },
        )
    }

    /// A nested object tagged `patchStrategy:"replace"`.
    pub fn replace_object(self, name: &'static str) -> Self {
        self.insert(
            name,
            FieldMeta {
                strategy: PatchStrategy::Replace,
                ..FieldMeta::default()
            },
        )
    }

    /// A list of objects tagged `patchStrategy:"merge" patchMergeKey:"<key>"`.
    pub fn merge_list(self, name: &'static str, key: &'static str, elem: PatchSchema) -> Self {
        let meta = FieldMeta {
            strategy: PatchStrategy::Merge,
            merge_key: Some(key),
            retain_keys: false,
            schema: elem,
        };
        self.insert(name, meta)
    }

    /// A list of objects tagged `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
    pub fn merge_list_retain_keys(self, name: &'static str, key: &'static str, elem: PatchSchema) -> Self {
        let meta = FieldMeta {
            strategy: PatchStrategy::Merge,
            merge_key: Some(key),
            retain_keys: true,
            schema: elem,
        };
        self.insert(name, meta)
    }

    /// A list of scalars tagged `patchStrategy:"merge"`: merged as a set.
    pub fn merge_set(self, name: &'static str) -> Self {
        self.insert(
            name,
            FieldMeta {
                strategy: PatchStrategy::Merge,
                ..FieldMeta::default()
            },
        )
    }

    /// A list without a strategy tag: replaced whole. Declaring it changes nothing in how it
    /// is patched; it documents that upstream treats it as atomic.
    pub fn atomic_list(self, name: &'static str) -> Self {
        self.insert(name, FieldMeta::default())
    }

    /// Finishes the schema.
    pub fn build(self) -> PatchSchema {
        PatchSchema {
            fields: Some(Arc::new(self.fields)),
        }
    }
}
