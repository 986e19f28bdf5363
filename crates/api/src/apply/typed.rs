//! The structural walks of server-side apply over JSON values (`sigs.k8s.io/structured-merge-diff`
//! `typed/tofieldset.go`, `merge.go`, `compare.go`, `remove.go`): the field set of an object,
//! merging a configuration into an object, comparing two objects, and pruning fields a manager
//! stopped applying.

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::error::ApplyError;
use super::fieldset::FieldSet;
use super::path::{PathElement, values_equal};
use super::schema::{ListKey, Node};

/// How a value (or a pair of values) is walked.
enum Shape<'s> {
    /// Objects merged field by field.
    Map,
    /// A set of scalars.
    Set,
    /// A list keyed by `keys`, items described by `elem`.
    Keyed(&'s [ListKey], &'s Node),
    /// Compared and replaced whole.
    Leaf,
}

/// The shape of the values at one node: containers only when every present value has the
/// container type the schema expects.
fn shape<'s>(node: &'s Node, values: &[Option<&Value>]) -> Shape<'s> {
    let present = || values.iter().flatten();
    match node {
        Node::Struct(_) | Node::Unknown { .. } if present().all(|v| v.is_object()) => Shape::Map,
        Node::Set if present().all(|v| v.is_array()) => Shape::Set,
        Node::ListMap { keys, elem } if present().all(|v| v.is_array()) => Shape::Keyed(keys, elem),
        _ => Shape::Leaf,
    }
}

fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// The empty object or list standing in for a missing always-present field (Go serializes a
/// nil slice or an empty struct, never nothing).
fn empty_like(v: &Value) -> Option<&'static Value> {
    static EMPTY_OBJECT: OnceLock<Value> = OnceLock::new();
    static EMPTY_LIST: OnceLock<Value> = OnceLock::new();
    match v {
        Value::Object(_) => Some(EMPTY_OBJECT.get_or_init(|| Value::Object(Map::new()))),
        Value::Array(_) => Some(EMPTY_LIST.get_or_init(|| Value::Array(Vec::new()))),
        _ => None,
    }
}

/// The path element of a list item, or why there is none (`listItemToPathElement`).
pub(crate) fn item_path_element(item: &Value, keys: Option<&[ListKey]>) -> Result<PathElement, String> {
    let Some(keys) = keys else {
        return match item {
            Value::Object(_) => Err("associative list without keys has an element that's a map type".into()),
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => Err("associative list without keys has an element that's an explicit null".into()),
            v => Ok(PathElement::Value(v.clone())),
        };
    };
    let map = match item {
        Value::Object(map) => map,
        Value::Null => return Err("associative list with keys may not have a null element".into()),
        _ => return Err("associative list with keys may not have non-map elements".into()),
    };
    let mut fields = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(v) = map.get(key.name) {
            fields.push((key.name.to_string(), v.clone()));
        } else if let Some(default) = &key.default {
            fields.push((key.name.to_string(), default.clone()));
        }
    }
    if fields.is_empty() {
        let names: Vec<String> = keys.iter().map(|k| format!("{:?}", k.name)).collect();
        return Err(format!(
            "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
            names.join(" ")
        ));
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(PathElement::Key(fields))
}

fn list_keys<'s>(shape: &Shape<'s>) -> Option<&'s [ListKey]> {
    match shape {
        Shape::Keyed(keys, _) => Some(keys),
        _ => None,
    }
}

fn list_elem<'s>(shape: &Shape<'s>) -> &'s Node {
    static SCALAR: Node = Node::Atomic;
    match shape {
        Shape::Keyed(_, elem) => elem,
        _ => &SCALAR,
    }
}

/// The path elements of every item, or `None` when one cannot have any (the list is then
/// treated as atomic, which is how Rudder tolerates malformed stored lists).
fn item_path_elements(items: &[Value], keys: Option<&[ListKey]>) -> Option<Vec<PathElement>> {
    items
        .iter()
        .map(|item| item_path_element(item, keys).ok())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Field sets

/// The set of fields `value` sets (`TypedValue.ToFieldSet`). A list item without its keys or a
/// duplicated key is an error, as upstream's conversion of an applied configuration fails.
pub(crate) fn to_field_set(value: &Value, node: &Node) -> Result<FieldSet, ApplyError> {
    let mut set = field_set_node(value, node)?;
    set.member = false;
    Ok(set)
}

fn field_set_node(value: &Value, node: &Node) -> Result<FieldSet, ApplyError> {
    let sh = shape(node, &[Some(value)]);
    match sh {
        Shape::Leaf => Ok(FieldSet {
            member: true,
            children: Vec::new(),
        }),
        Shape::Map => {
            let mut out = FieldSet::default();
            if let Value::Object(map) = value {
                for (k, v) in map {
                    let (child_node, _) = node.field(k);
                    let mut child =
                        field_set_node(v, child_node).map_err(|e| e.under(PathElement::Field(k.clone())))?;
                    if v.is_null() || v.as_object().is_some_and(Map::is_empty) {
                        child.member = true;
                    }
                    if !child.node_is_empty() {
                        out.children.push((PathElement::Field(k.clone()), child));
                    }
                }
            }
            out.normalize_children();
            Ok(out)
        }
        Shape::Set | Shape::Keyed(..) => {
            let keys = list_keys(&sh);
            let elem = list_elem(&sh);
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            let mut out = FieldSet::default();
            for (i, item) in items.iter().enumerate() {
                let pe = item_path_element(item, keys)
                    .map_err(|msg| ApplyError::invalid(format!("element {i}: {msg}")))?;
                let mut child = field_set_node(item, elem).map_err(|e| e.under(pe.clone()))?;
                child.member = true;
                out.children.push((pe, child));
            }
            out.children.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some(w) = out.children.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(ApplyError::invalid(format!(
                    "duplicate entries for key {}",
                    w[0].0
                )));
            }
            Ok(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Merge

/// Merges the applied configuration `config` into `live` in place (`TypedValue.Merge`): objects
/// merge field by field, keyed lists by key, sets by value; anything else takes the config's
/// value. A `null` in the config removes the field.
pub(crate) fn merge_into(live: &mut Value, config: &Value, node: &Node) -> Result<(), ApplyError> {
    let sh = shape(node, &[Some(live), Some(config)]);
    match sh {
        Shape::Map => {
            let (Value::Object(live_map), Value::Object(config_map)) = (live, config) else {
                return Ok(());
            };
            for (k, cv) in config_map {
                let (child_node, _) = node.field(k);
                if cv.is_null() {
                    if live_map.contains_key(k) {
                        crate::patch::remove_ordered(live_map, k);
                    }
                    continue;
                }
                match live_map.get_mut(k) {
                    Some(lv) => {
                        merge_into(lv, cv, child_node).map_err(|e| e.under(PathElement::Field(k.clone())))?
                    }
                    None => {
                        live_map.insert(k.clone(), without_nulls(cv));
                    }
                }
            }
            Ok(())
        }
        Shape::Set | Shape::Keyed(..) => {
            let (Value::Array(live_items), Value::Array(config_items)) = (live, config) else {
                return Ok(());
            };
            merge_list(live_items, config_items, list_keys(&sh), list_elem(&sh))
        }
        Shape::Leaf => {
            if !values_equal(live, config) {
                *live = without_nulls(config);
            }
            Ok(())
        }
    }
}

/// A copy of `v` without `null` object members (they mean "unset").
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        v => v.clone(),
    }
}

/// Merges an associative list (`mergingWalker.visitListItems`): the result keeps the live
/// items' positions and the config's order for the items it lists.
fn merge_list(
    live: &mut Vec<Value>,
    config: &[Value],
    keys: Option<&[ListKey]>,
    elem: &Node,
) -> Result<(), ApplyError> {
    let mut rhs_pes = Vec::with_capacity(config.len());
    for (i, item) in config.iter().enumerate() {
        let pe = item_path_element(item, keys)
            .map_err(|msg| ApplyError::invalid(format!("element {i}: {msg}")))?;
        rhs_pes.push(pe);
    }
    let mut rhs_index: BTreeMap<&PathElement, usize> = BTreeMap::new();
    for (i, pe) in rhs_pes.iter().enumerate() {
        if rhs_index.insert(pe, i).is_some() {
            return Err(ApplyError::invalid(format!("duplicate entries for key {pe}")));
        }
    }
    let Some(lhs_pes) = item_path_elements(live, keys) else {
        // Live items without keys: replace the list, as an atomic list would be.
        *live = config.iter().map(without_nulls).collect();
        return Ok(());
    };
    // Index of the live item per key; `None` for a key live holds more than once.
    let mut lhs_index: BTreeMap<&PathElement, Option<usize>> = BTreeMap::new();
    for (i, pe) in lhs_pes.iter().enumerate() {
        lhs_index
            .entry(pe)
            .and_modify(|slot| *slot = None)
            .or_insert(Some(i));
    }

    let mut lhs_items: Vec<Option<Value>> = std::mem::take(live).into_iter().map(Some).collect();
    let mut shared: VecDeque<&PathElement> = rhs_pes.iter().filter(|pe| lhs_index.contains_key(pe)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: Vec<bool> = vec![false; rhs_pes.len()];
    let mut out = Vec::with_capacity(lhs_pes.len().max(rhs_pes.len()));

    let merge_item = |lhs: Option<Value>, r: usize, out: &mut Vec<Value>| -> Result<(), ApplyError> {
        let item = match lhs {
            Some(mut lv) => {
                merge_into(&mut lv, &config[r], elem).map_err(|e| e.under(rhs_pes[r].clone()))?;
                lv
            }
            None => without_nulls(&config[r]),
        };
        out.push(item);
        Ok(())
    };
    // The live item for a shared key (taken once), or nothing for duplicated keys.
    let take_lhs = |pe: &PathElement, lhs_items: &mut Vec<Option<Value>>| -> Option<Value> {
        lhs_index
            .get(pe)
            .copied()
            .flatten()
            .and_then(|i| lhs_items[i].take())
    };

    let (l_len, r_len) = (lhs_pes.len(), rhs_pes.len());
    let (mut l, mut r) = (0, 0);
    while l < l_len || r < r_len {
        if l < l_len && r < r_len {
            let pe = &lhs_pes[l];
            if *pe == rhs_pes[r] {
                merged_rhs[r] = true;
                let lhs = take_lhs(pe, &mut lhs_items);
                merge_item(lhs, r, &mut out)?;
                l += 1;
                r += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if rhs_index.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                l += 1;
                continue;
            }
        }
        if l < l_len {
            let pe = &lhs_pes[l];
            match rhs_index.get(pe) {
                None => {
                    if let Some(item) = lhs_items[l].take() {
                        out.push(item);
                    }
                    l += 1;
                    continue;
                }
                Some(&ri) if merged_rhs[ri] => l += 1,
                Some(_) => {}
            }
        }
        if r < r_len {
            let pe = &rhs_pes[r];
            merged_rhs[r] = true;
            let lhs = take_lhs(pe, &mut lhs_items);
            merge_item(lhs, r, &mut out)?;
            r += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    *live = out;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Compare

/// What changed between two objects (`typed.Comparison`): every path is in at most one set.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

impl Comparison {
    pub(crate) fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    fn attach(&mut self, pe: &PathElement, child: Comparison) {
        for (mine, theirs) in [
            (&mut self.added, child.added),
            (&mut self.modified, child.modified),
            (&mut self.removed, child.removed),
        ] {
            if !theirs.node_is_empty() {
                mine.children.push((pe.clone(), theirs));
            }
        }
    }

    fn normalize(&mut self) {
        self.added.normalize_children();
        self.modified.normalize_children();
        self.removed.normalize_children();
    }

    /// Drops every path under the `ignored` prefixes (reset fields).
    pub(crate) fn exclude(&mut self, ignored: &FieldSet) {
        if ignored.is_empty() {
            return;
        }
        self.added.remove_recursive(ignored);
        self.modified.remove_recursive(ignored);
        self.removed.remove_recursive(ignored);
    }
}

/// Compares two whole objects, ignoring `metadata.managedFields`.
pub(crate) fn compare_objects(lhs: &Value, rhs: &Value, node: &Node) -> Comparison {
    let mut out = compare(Some(lhs), Some(rhs), node, Skip::Root);
    out.added.member = false;
    out.modified.member = false;
    out.removed.member = false;
    out
}

/// Where `metadata.managedFields` is, so the comparison can skip it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Skip {
    Root,
    RootMetadata,
    None,
}

fn compare(lhs: Option<&Value>, rhs: Option<&Value>, node: &Node, skip: Skip) -> Comparison {
    let mut out = Comparison::default();
    let sh = shape(node, &[lhs, rhs]);
    let leaf = matches!(sh, Shape::Leaf) || (is_empty_container(lhs) && is_empty_container(rhs));
    if leaf {
        match (lhs, rhs) {
            (None, Some(_)) => out.added.member = true,
            (Some(_), None) => out.removed.member = true,
            (Some(l), Some(r)) if !values_equal(l, r) => out.modified.member = true,
            _ => {}
        }
        return out;
    }
    match sh {
        Shape::Map => {
            let lmap = lhs.and_then(Value::as_object);
            let rmap = rhs.and_then(Value::as_object);
            let mut visit = |key: &String, l: Option<&Value>, r: Option<&Value>| {
                if skip == Skip::RootMetadata && key == "managedFields" {
                    return;
                }
                let (child_node, always_present) = node.field(key);
                let (mut l, mut r) = (l, r);
                // Only where the parent exists on both sides: a parent that is itself added
                // or removed adds or removes its always-present children too.
                if always_present && lmap.is_some() && rmap.is_some() {
                    if l.is_none() {
                        l = r.and_then(empty_like);
                    } else if r.is_none() {
                        r = l.and_then(empty_like);
                    }
                }
                let child_skip = if skip == Skip::Root && key == "metadata" {
                    Skip::RootMetadata
                } else {
                    Skip::None
                };
                let child = compare(l, r, child_node, child_skip);
                out.attach(&PathElement::Field(key.clone()), child);
            };
            if let Some(lmap) = lmap {
                for (k, l) in lmap {
                    visit(k, Some(l), rmap.and_then(|m| m.get(k)));
                }
            }
            if let Some(rmap) = rmap {
                for (k, r) in rmap {
                    if lmap.is_none_or(|m| !m.contains_key(k)) {
                        visit(k, None, Some(r));
                    }
                }
            }
            out.normalize();
        }
        Shape::Set | Shape::Keyed(..) => {
            let keys = list_keys(&sh);
            let elem = list_elem(&sh);
            let litems = lhs
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ritems = rhs
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let (Some(lpes), Some(rpes)) =
                (item_path_elements(litems, keys), item_path_elements(ritems, keys))
            else {
                // Unkeyable items: compare the lists whole.
                if let (Some(l), Some(r)) = (lhs, rhs)
                    && !values_equal(l, r)
                {
                    out.modified.member = true;
                }
                mark_whole(&mut out, lhs, rhs);
                return out;
            };
            compare_list_items(&mut out, litems, &lpes, ritems, &rpes, elem);
            out.normalize();
        }
        Shape::Leaf => {}
    }
    mark_whole(&mut out, lhs, rhs);
    out
}

fn mark_whole(out: &mut Comparison, lhs: Option<&Value>, rhs: Option<&Value>) {
    if lhs.is_none() {
        out.added.member = true;
    } else if rhs.is_none() {
        out.removed.member = true;
    }
}

/// `compareWalker.visitListItems`, including upstream's handling of duplicated keys.
fn compare_list_items(
    out: &mut Comparison,
    litems: &[Value],
    lpes: &[PathElement],
    ritems: &[Value],
    rpes: &[PathElement],
    elem: &Node,
) {
    let mut groups: BTreeMap<&PathElement, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
    for (pe, item) in lpes.iter().zip(litems) {
        groups.entry(pe).or_default().0.push(item);
    }
    for (pe, item) in rpes.iter().zip(ritems) {
        groups.entry(pe).or_default().1.push(item);
    }
    for (pe, (ls, rs)) in groups {
        match (ls.len(), rs.len()) {
            (0..=1, 0..=1) => {
                let child = compare(ls.first().copied(), rs.first().copied(), elem, Skip::None);
                out.attach(pe, child);
            }
            (l, r) if l >= 2 && r >= 2 => {
                if l != r || ls.iter().zip(&rs).any(|(a, b)| !values_equal(a, b)) {
                    out.modified.child_mut(pe).member = true;
                }
            }
            (l, _) if l >= 2 => {
                if let Some(first) = rs.first() {
                    let child = compare(None, Some(first), elem, Skip::None);
                    out.attach(pe, child);
                }
                out.removed.child_mut(pe).member = true;
            }
            _ => {
                if let Some(first) = ls.first() {
                    let child = compare(Some(first), None, elem, Skip::None);
                    out.attach(pe, child);
                }
                out.added.child_mut(pe).member = true;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Prune

/// Whether `owner` still owns every path of `last` (with struct fields owned through their
/// children), so pruning `last` would remove nothing. The common case of re-applying the same
/// fields; checked without allocating.
fn covers(owner: &FieldSet, last: &FieldSet) -> bool {
    last.children.iter().all(|(pe, l)| {
        let Some(o) = owner.child(pe) else {
            return false;
        };
        let owned = o.member || (pe.as_field().is_some() && !o.children.is_empty());
        (!l.member || owned) && covers(o, l)
    })
}

/// Removes from `value` every field, list item or set value that `last` (the applier's previous
/// set) owned and no manager in `managed` owns any more (`Updater.prune`). A struct field
/// counts as owned when anything below it is (`EnsureNamedFieldsAreMembers`).
pub(crate) fn prune(value: &mut Value, last: &FieldSet, managed: &[&FieldSet], node: &Node) {
    if last.is_empty() || managed.iter().any(|m| covers(m, last)) {
        return;
    }
    let sh = shape(node, &[Some(value)]);
    match sh {
        Shape::Map => {
            let Value::Object(map) = value else {
                return;
            };
            let mut doomed: Vec<&str> = Vec::new();
            for (pe, last_child) in &last.children {
                let PathElement::Field(name) = pe else {
                    continue;
                };
                let Some(child) = map.get_mut(name.as_str()) else {
                    continue;
                };
                let others: Vec<&FieldSet> = managed.iter().filter_map(|m| m.child(pe)).collect();
                let last_owned = last_child.member || !last_child.children.is_empty();
                let still_owned = others.iter().any(|m| m.member || !m.children.is_empty());
                if last_owned && !still_owned {
                    doomed.push(name);
                } else if !last_child.children.is_empty() {
                    let (child_node, _) = node.field(name);
                    prune(child, last_child, &others, child_node);
                }
            }
            for name in doomed {
                crate::patch::remove_ordered(map, name);
            }
        }
        Shape::Set | Shape::Keyed(..) => {
            let keys = list_keys(&sh);
            let elem = list_elem(&sh);
            let Value::Array(items) = value else {
                return;
            };
            items.retain_mut(|item| {
                let Ok(pe) = item_path_element(item, keys) else {
                    return true;
                };
                let Some(last_child) = last.child(&pe) else {
                    return true;
                };
                let others: Vec<&FieldSet> = managed.iter().filter_map(|m| m.child(&pe)).collect();
                if last_child.member && !others.iter().any(|m| m.member) {
                    return false;
                }
                if !last_child.children.is_empty() {
                    prune(item, last_child, &others, elem);
                }
                true
            });
        }
        Shape::Leaf => {}
    }
}
