//! Ratcheting of schema errors on updates (feature `CRDValidationRatcheting`, on by default
//! since 1.30): an error is dropped when the value at its path, or at an ancestor that
//! correlates with the old object, is unchanged, so an object stored before its schema
//! tightened can still be updated in its other fields. Object fields correlate by name,
//! `x-kubernetes-list-type: map` items by their keys and `set` items by value; items of atomic
//! lists do not correlate (they are ratcheted only when the whole list is unchanged). List-type
//! uniqueness errors are never ratcheted, as upstream.

use rudder_api::validation::{FieldError, FieldErrorType};
use serde_json::Value;

use super::schema::Schema;

/// `errors` less those ratcheting drops, for an update from `old` to `new`.
pub(crate) fn ratchet(errors: Vec<FieldError>, schema: &Schema, new: &Value, old: &Value) -> Vec<FieldError> {
    errors
        .into_iter()
        .filter(|e| e.error_type == FieldErrorType::Duplicate || !unchanged_at(&e.field, schema, new, old))
        .collect()
}

#[derive(Debug, PartialEq)]
enum Segment {
    Name(String),
    Index(usize),
}

/// Splits a rendered field path (`spec.items[2].name`, `<nil>`) into segments.
fn segments(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    if field == "<nil>" {
        return out;
    }
    let mut name = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !name.is_empty() {
                    out.push(Segment::Name(std::mem::take(&mut name)));
                }
            }
            '[' => {
                if !name.is_empty() {
                    out.push(Segment::Name(std::mem::take(&mut name)));
                }
                let mut key = String::new();
                for k in chars.by_ref() {
                    if k == ']' {
                        break;
                    }
                    key.push(k);
                }
                out.push(match key.parse() {
                    Ok(i) => Segment::Index(i),
                    Err(_) => Segment::Name(key),
                });
            }
            c => name.push(c),
        }
    }
    if !name.is_empty() {
        out.push(Segment::Name(name));
    }
    out
}

/// Whether the value at `field`, or at a correlating ancestor, is the same in `new` and `old`.
fn unchanged_at(field: &str, schema: &Schema, new: &Value, old: &Value) -> bool {
    let mut schema = Some(schema);
    let mut new = Some(new);
    let mut old = Some(old);
    if new == old {
        return true;
    }
    for segment in segments(field) {
        let (Some(n), Some(o)) = (new, old) else {
            return false;
        };
        match segment {
            Segment::Name(name) => {
                new = n.get(&name);
                old = o.get(&name);
                schema = schema.and_then(|s| s.field(&name));
            }
            Segment::Index(i) => {
                new = n.get(i);
                old = match (schema, new) {
                    (Some(s), Some(item)) => correlate(s, item, o),
                    _ => None,
                };
                schema = schema.and_then(|s| s.items.as_deref());
            }
        }
        match (new, old) {
            (Some(n), Some(o)) if n == o => return true,
            (_, None) => return false,
            _ => {}
        }
    }
    false
}

/// The old item an item of a list correlates with.
fn correlate<'a>(list: &Schema, item: &Value, old: &'a Value) -> Option<&'a Value> {
    let olds = old.as_array()?;
    match list.list_type.as_deref() {
        Some("map") if !list.list_map_keys.is_empty() => olds
            .iter()
            .find(|o| list.list_map_keys.iter().all(|k| o.get(k) == item.get(k))),
        Some("set") => olds.iter().find(|o| *o == item),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_paths_split_into_segments() {
        assert_eq!(segments("<nil>"), vec![]);
        assert_eq!(
            segments("spec.items[2].name"),
            vec![
                Segment::Name("spec".into()),
                Segment::Name("items".into()),
                Segment::Index(2),
                Segment::Name("name".into())
            ]
        );
        assert_eq!(
            segments("metadata.labels[app]"),
            vec![
                Segment::Name("metadata".into()),
                Segment::Name("labels".into()),
                Segment::Name("app".into())
            ]
        );
    }

    #[test]
    fn unchanged_values_ratchet_and_changed_ones_do_not() {
        let schema = Schema::compile(&serde_json::json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "a": {"type": "string"}, "b": {"type": "string"},
                "atomic": {"type": "array", "items": {"type": "string"}},
                "keyed": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "string"}}}}
            }}}
        }));
        let old = serde_json::json!({"spec": {"a": "x", "b": "1", "atomic": ["p", "q"],
            "keyed": [{"name": "one", "v": "bad"}, {"name": "two", "v": "ok"}]}});
        let new = serde_json::json!({"spec": {"a": "x", "b": "2", "atomic": ["p", "r"],
            "keyed": [{"name": "two", "v": "changed"}, {"name": "one", "v": "bad"}]}});
        assert!(unchanged_at("spec.a", &schema, &new, &old));
        assert!(!unchanged_at("spec.b", &schema, &new, &old));
        // Items of an atomic list do not correlate, even where equal by position.
        assert!(!unchanged_at("spec.atomic[0]", &schema, &new, &old));
        // Map-list items correlate by key wherever they moved.
        assert!(unchanged_at("spec.keyed[1].v", &schema, &new, &old));
        assert!(!unchanged_at("spec.keyed[0].v", &schema, &new, &old));
        // A field missing in both (a required error) ratchets only through an unchanged parent.
        assert!(!unchanged_at("spec.c", &schema, &new, &old));
        assert!(unchanged_at("spec.c", &schema, &old, &old));
    }
}
