//! Repeated mapping keys in a YAML document, reported as yaml.v2's strict decoding does (what
//! upstream's `YAMLToJSONStrict` runs): `line 4: key "a" already set in map`, with the line of
//! the repeated key (1-based), in document order. Only the first document counts, as upstream
//! decodes only the first.

use std::collections::HashSet;

use serde_saphyr::granit_parser::{Event, Parser};

/// One open collection.
enum Frame {
    Mapping { keys: HashSet<String>, expect_key: bool },
    Sequence,
}

/// The repeated keys of `text`'s first document. A document that does not parse reports none
/// (the conversion to JSON reports the syntax error).
pub(super) fn duplicate_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else {
            return out;
        };
        match event {
            Event::DocumentEnd => return out,
            Event::Scalar(value, ..) => {
                if let Some(Frame::Mapping {
                    keys,
                    expect_key: true,
                }) = stack.last_mut()
                    && !keys.insert(value.to_string())
                {
                    out.push(format!(
                        "line {}: key {} already set in map",
                        span.start.line(),
                        go_quote(&value)
                    ));
                }
                node_done(&mut stack);
            }
            Event::Alias(_) => node_done(&mut stack),
            Event::MappingStart(..) => stack.push(Frame::Mapping {
                keys: HashSet::new(),
                expect_key: true,
            }),
            Event::SequenceStart(..) => stack.push(Frame::Sequence),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                node_done(&mut stack);
            }
            _ => {}
        }
    }
    out
}

/// A node of the innermost collection is complete: in a mapping, keys and values alternate.
fn node_done(stack: &mut [Frame]) {
    if let Some(Frame::Mapping { expect_key, .. }) = stack.last_mut() {
        *expect_key = !*expect_key;
    }
}

/// Go's `%#v` of a string key (`strconv.Quote`): JSON string escaping covers the keys that
/// appear in manifests.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_repeated_keys_by_line() {
        let cases: &[(&str, &[&str])] = &[
            ("a: 1\nb: 2\n", &[]),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  a: \"2\"\n",
                &[r#"line 7: key "a" already set in map"#],
            ),
            // Same key in different maps is fine; each map is checked, in document order.
            (
                "a:\n  x: 1\nb:\n  x: 2\n  x: 3\nb: {}\n",
                &[
                    r#"line 5: key "x" already set in map"#,
                    r#"line 6: key "b" already set in map"#,
                ],
            ),
            // Keys inside sequences of maps, and flow mappings.
            (
                "items:\n- name: a\n  name: b\n- {k: 1, k: 2}\n",
                &[
                    r#"line 3: key "name" already set in map"#,
                    r#"line 4: key "k" already set in map"#,
                ],
            ),
            // Values equal to keys are not keys.
            ("a: a\nb: a\n", &[]),
            // Only the first document.
            ("a: 1\n---\na: 1\na: 2\n", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(duplicate_keys(text), *want, "{text}");
        }
    }
}
