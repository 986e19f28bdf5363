//! No input may make patch application panic: random documents and patches built from the
//! vocabulary of directives, merge keys and JSON patch operations.

use serde_json::{Map, Value, json};

use super::*;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "name",
    "spec",
    "template",
    "containers",
    "env",
    "ports",
    "containerPort",
    "value",
    "image",
    "volumes",
    "finalizers",
    "metadata",
    "tolerations",
    "strategy",
    "type",
    "mergingList",
    "mergingIntList",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$setElementOrder/env",
    "$setElementOrder/mergingList",
    "$deleteFromPrimitiveList/finalizers",
    "$deleteFromPrimitiveList/mergingIntList",
    "$setElementOrder",
    "$deleteFromPrimitiveList",
];
const STRINGS: &[&str] = &["replace", "delete", "merge", "a", "b", "name", "value", "x", ""];

fn value(rng: &mut Rng, depth: usize) -> Value {
    let kind = if depth == 0 { rng.below(4) } else { rng.below(7) };
    match kind {
        0 => Value::Null,
        1 => json!(rng.below(3)),
        2 => json!(rng.pick(STRINGS)),
        3 => json!(rng.below(2) == 0),
        4 | 5 => {
            let mut map = Map::new();
            // Often carry a merge key from a small set, so list elements collide.
            if rng.below(2) == 0 {
                map.insert("name".to_owned(), json!(rng.pick(&["a", "b", "c"])));
            }
            for _ in 0..rng.below(4) {
                map.insert(rng.pick(KEYS).to_owned(), value(rng, depth - 1));
            }
            Value::Object(map)
        }
        _ => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
    }
}

fn pointer(rng: &mut Rng) -> String {
    let mut path = String::new();
    for _ in 0..rng.below(4) {
        path.push('/');
        match rng.below(4) {
            0 => path.push_str(&rng.below(3).to_string()),
            1 => path.push('-'),
            2 => path.push_str("-1"),
            _ => path.push_str(rng.pick(KEYS)),
        }
    }
    path
}

fn json_patch(rng: &mut Rng) -> Value {
    let ops = ["add", "remove", "replace", "move", "copy", "test", "bogus"];
    let patch: Vec<Value> = (0..rng.below(5))
        .map(|_| {
            let mut op = json!({"op": ops[rng.below(ops.len())], "path": pointer(rng), "from": pointer(rng)});
            if rng.below(4) != 0 {
                op["value"] = value(rng, 3);
            }
            op
        })
        .collect();
    Value::Array(patch)
}

#[test]
fn random_inputs_never_panic() {
    let schemas = [
        schema_for("", "Pod"),
        schema_for("apps", "Deployment"),
        PatchSchema::builder()
            .merge_list("mergingList", "name", schema_for("", "Pod"))
            .merge_set("mergingIntList")
            .merge_list_retain_keys("containers", "name", PatchSchema::untyped())
            .build(),
        PatchSchema::untyped(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for round in 0..20_000 {
        let target = value(&mut rng, 5);
        let patch = value(&mut rng, 5);
        let schema = &schemas[round % schemas.len()];
        outcomes[usize::from(apply_strategic_merge_patch(&target, &patch, schema).is_ok())] += 1;
        let _ = apply_merge_patch(&target, &patch);
        let _ = apply_json_patch(&target, &json_patch(&mut rng));
    }
    // Both outcomes are exercised.
    assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
}
