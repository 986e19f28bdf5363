//! [`FieldSet`]: a set of field paths stored as a trie, with upstream's FieldsV1 encoding
//! (`sigs.k8s.io/structured-merge-diff` `fieldpath/set.go`, `serialize.go`).
//!
//! Every trie node is one path; `member` says whether that path itself is in the set, its
//! children hold longer paths. FieldsV1 writes a node that is both a member and a parent with a
//! `".": {}` entry: `{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}`
//! holds `.spec.containers[name="web"]` and `.spec.containers[name="web"].image`.

use std::fmt;

use serde_json::{Map, Value};

use super::path::{PathElement, PeParseError, path_string, write_go_json_string};

/// A set of field paths (upstream `fieldpath.Set`).
///
/// Children are kept sorted in upstream's path-element order, so iteration and encoding are
/// deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// Whether the path leading to this node is itself a member. Unused at the root.
    pub(crate) member: bool,
    /// Longer paths, sorted by path element, never holding an empty node.
    pub(crate) children: Vec<(PathElement, FieldSet)>,
}

/// A FieldsV1 document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldsV1Error(pub String);

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// True when the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// A node is empty when neither it nor anything below it is a member.
    pub(crate) fn node_is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// The number of paths in the set.
    pub fn len(&self) -> usize {
        self.children
            .iter()
            .map(|(_, c)| usize::from(c.member) + c.len())
            .sum()
    }

    fn find(&self, pe: &PathElement) -> Result<usize, usize> {
        self.children.binary_search_by(|(p, _)| p.cmp(pe))
    }

    /// The subtree below `pe` (upstream `WithPrefix`), if any.
    pub fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.find(pe).ok().map(|i| &self.children[i].1)
    }

    /// The subtree below `pe`, created when missing.
    pub(crate) fn child_mut(&mut self, pe: &PathElement) -> &mut FieldSet {
        let i = match self.find(pe) {
            Ok(i) => i,
            Err(i) => {
                self.children.insert(i, (pe.clone(), FieldSet::default()));
                i
            }
        };
        &mut self.children[i].1
    }

    /// Adds `path`. The empty path is ignored.
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut node = self;
        for pe in parents {
            node = node.child_mut(pe);
        }
        node.child_mut(last).member = true;
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[PathElement]) -> bool {
        let mut node = self;
        for pe in path {
            match node.child(pe) {
                Some(child) => node = child,
                None => return false,
            }
        }
        !path.is_empty() && node.member
    }

    /// Adds every path of `other`.
    pub fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (pe, theirs) in &other.children {
            match self.find(pe) {
                Ok(i) => self.children[i].1.union_with(theirs),
                Err(i) => self.children.insert(i, (pe.clone(), theirs.clone())),
            }
        }
    }

    /// Takes every path of `other` into `self`, consuming it (no clones of `other`'s nodes).
    pub(crate) fn union_owned(&mut self, other: FieldSet) {
        self.member |= other.member;
        for (pe, theirs) in other.children {
            match self.find(&pe) {
                Ok(i) => self.children[i].1.union_owned(theirs),
                Err(i) => self.children.insert(i, (pe, theirs)),
            }
        }
    }

    /// Removes every path of `other` (upstream `Difference`: exact paths only, so removing a
    /// parent keeps its children).
    pub fn remove_all(&mut self, other: &FieldSet) {
        self.children.retain_mut(|(pe, mine)| {
            let Ok(j) = other.children.binary_search_by(|(p, _)| p.cmp(pe)) else {
                return true;
            };
            let theirs = &other.children[j].1;
            if theirs.member {
                mine.member = false;
            }
            if !theirs.children.is_empty() {
                mine.remove_all(theirs);
            }
            !mine.node_is_empty()
        });
    }

    /// The set of paths in `self` but not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.remove_all(other);
        out
    }

    /// Removes every path of `other` and everything below it (upstream `RecursiveDifference`).
    pub fn remove_recursive(&mut self, other: &FieldSet) {
        self.children.retain_mut(|(pe, mine)| {
            let Ok(j) = other.children.binary_search_by(|(p, _)| p.cmp(pe)) else {
                return true;
            };
            let theirs = &other.children[j].1;
            if theirs.member {
                return false;
            }
            mine.remove_recursive(theirs);
            !mine.node_is_empty()
        });
    }

    /// The paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: Vec::new(),
        };
        let (mut i, mut j) = (0, 0);
        while i < self.children.len() && j < other.children.len() {
            let (a, mine) = &self.children[i];
            let (b, theirs) = &other.children[j];
            match a.cmp(b) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let both = mine.intersection(theirs);
                    if !both.node_is_empty() {
                        out.children.push((a.clone(), both));
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        out
    }

    /// Every path, in upstream's iteration order (a node's members before its subtrees).
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for (pe, child) in &self.children {
            if child.member {
                let mut path = prefix.clone();
                path.push(pe.clone());
                out.push(path);
            }
        }
        for (pe, child) in &self.children {
            if !child.children.is_empty() {
                prefix.push(pe.clone());
                child.collect_paths(prefix, out);
                prefix.pop();
            }
        }
    }

    /// Sorts children and merges duplicates; used after building a node out of order.
    pub(crate) fn normalize_children(&mut self) {
        if self.children.is_sorted_by(|a, b| a.0 < b.0) {
            return;
        }
        let mut children = std::mem::take(&mut self.children);
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (pe, node) in children {
            match self.children.last_mut() {
                Some((last, existing)) if *last == pe => existing.union_owned(node),
                _ => self.children.push((pe, node)),
            }
        }
    }

    /// Reads a FieldsV1 document (`Set.FromJSON`). Keys with an unknown type prefix are dropped,
    /// as upstream does; malformed keys are errors.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, FieldsV1Error> {
        let mut set = read_node(value, 0)?;
        set.member = false;
        Ok(set)
    }

    /// Parses FieldsV1 JSON text.
    pub fn from_fields_v1_str(text: &str) -> Result<FieldSet, FieldsV1Error> {
        let value: Value = serde_json::from_str(text).map_err(|e| FieldsV1Error(e.to_string()))?;
        Self::from_fields_v1(&value)
    }

    /// The FieldsV1 document as a JSON value. Key order inside the value is serde_json's map
    /// order; [`FieldSet::to_fields_v1_string`] gives upstream's exact byte order.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.node_to_map(false))
    }

    fn node_to_map(&self, include_self: bool) -> Map<String, Value> {
        let mut map = Map::new();
        if include_self && self.member && !self.children.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (pe, child) in &self.children {
            let value = if child.children.is_empty() {
                Map::new()
            } else {
                child.node_to_map(true)
            };
            map.insert(pe.to_key_string(), Value::Object(value));
        }
        map
    }

    /// The FieldsV1 document as upstream serializes it (`Set.ToJSON`): `"."` first, then
    /// children in path-element order, no whitespace.
    pub fn to_fields_v1_string(&self) -> String {
        let mut out = String::new();
        let mut key = String::new();
        self.write_node(false, &mut out, &mut key);
        out
    }

    fn write_node(&self, include_self: bool, out: &mut String, key: &mut String) {
        out.push('{');
        let mut first = true;
        if include_self && self.member && !self.children.is_empty() {
            out.push_str("\".\":{}");
            first = false;
        }
        for (pe, child) in &self.children {
            if !first {
                out.push(',');
            }
            first = false;
            key.clear();
            pe.write_key_string(key);
            write_go_json_string(key, out);
            out.push(':');
            if child.children.is_empty() {
                out.push_str("{}");
            } else {
                child.write_node(true, out, key);
            }
        }
        out.push('}');
    }
}

impl fmt::Display for FieldSet {
    /// One path per line, in iteration order (like upstream's `Set.String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for path in self.paths() {
            writeln!(f, "{}", path_string(&path))?;
        }
        Ok(())
    }
}

/// FieldsV1 documents nest one level per path element, so they are no deeper than the objects
/// they describe.
const MAX_FIELDS_V1_DEPTH: usize = crate::patch::MAX_DEPTH;

/// `readIterV1`: a node from its JSON object. A node without children is a member.
fn read_node(value: &Value, depth: usize) -> Result<FieldSet, FieldsV1Error> {
    if depth > MAX_FIELDS_V1_DEPTH {
        return Err(FieldsV1Error("managedFields nest too deeply".into()));
    }
    let Value::Object(map) = value else {
        return Err(FieldsV1Error(format!(
            "ReadMapCB: expect {{ or n, but found {}",
            value_kind(value)
        )));
    };
    let mut node = FieldSet::default();
    let mut any_child = false;
    for (key, child) in map {
        if key == "." {
            node.member = true;
            continue;
        }
        let pe = match PathElement::parse_key(key) {
            Ok(pe) => pe,
            Err(PeParseError::UnknownType) => continue,
            Err(PeParseError::Invalid(msg)) => {
                return Err(FieldsV1Error(format!("parsing key as path element: {msg}")));
            }
        };
        any_child = true;
        let child = read_node(child, depth + 1)?;
        node.children.push((pe, child));
    }
    if !any_child {
        node.member = true;
    }
    node.normalize_children();
    Ok(node)
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
