//! The cost of an expression over given values, an upper bound of cel-go's actual cost: one per
//! node, loops (the comprehensions macros expand to) as many times as the largest list or map
//! among the values, functions that walk a string or a list by its length (cel-go charges a
//! tenth per character and one per element).

use cel::Value;
use cel::common::ast::{EntryExpr, Expr, IdedExpr};

/// The largest collection and the longest string within some values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub(crate) collection: u64,
    pub(crate) string: u64,
}

impl Sizes {
    pub(crate) fn of<'a>(values: impl Iterator<Item = &'a Value>) -> Sizes {
        let mut sizes = Sizes::default();
        for v in values {
            sizes.visit(v);
        }
        sizes
    }

    fn visit(&mut self, v: &Value) {
        match v {
            Value::List(items) => {
                self.collection = self.collection.max(items.len() as u64);
                for item in items.iter() {
                    self.visit(item);
                }
            }
            Value::Map(map) => {
                self.collection = self.collection.max(map.map.len() as u64);
                for (key, item) in map.map.iter() {
                    if let cel::objects::Key::String(k) = key {
                        self.string = self.string.max(k.len() as u64);
                    }
                    self.visit(item);
                }
            }
            Value::String(s) => self.string = self.string.max(s.len() as u64),
            Value::Bytes(b) => self.string = self.string.max(b.len() as u64),
            _ => {}
        }
    }
}

/// Functions whose cost grows with the length of a string or list argument.
const WALKING: &[&str] = &[
    "_==_",
    "_!=_",
    "_+_",
    "@in",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "find",
    "findAll",
    "indexOf",
    "lastIndexOf",
    "replace",
    "split",
    "lowerAscii",
    "upperAscii",
    "trim",
    "substring",
    "join",
    "charAt",
    "format",
    "reverse",
    "url",
    "isURL",
    "quantity",
    "isQuantity",
    "ip",
    "isIP",
    "ip.isCanonical",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "semver",
    "isSemver",
    "validate",
    "sum",
    "min",
    "max",
    "isSorted",
    "sort",
    "distinct",
    "flatten",
    "slice",
    "string",
    "bytes",
    "size",
];

pub(crate) fn estimate(e: &IdedExpr, sizes: &Sizes) -> u64 {
    match &e.expr {
        Expr::Unspecified | Expr::Literal(_) => 0,
        Expr::Ident(_) => 1,
        Expr::Select(select) => estimate(&select.operand, sizes).saturating_add(1),
        Expr::Call(call) => {
            let mut cost: u64 = 1;
            if let Some(target) = &call.target {
                cost = cost.saturating_add(estimate(target, sizes));
            }
            for arg in &call.args {
                cost = cost.saturating_add(estimate(arg, sizes));
            }
            if WALKING.contains(&call.func_name.as_str()) {
                cost = cost
                    .saturating_add(sizes.string.div_ceil(10))
                    .saturating_add(sizes.collection);
            }
            cost
        }
        Expr::List(list) => list
            .elements
            .iter()
            .fold(10, |acc, item| acc.saturating_add(estimate(item, sizes))),
        Expr::Map(map) => map.entries.iter().fold(30, |acc, entry| {
            acc.saturating_add(entry_cost(&entry.expr, sizes))
        }),
        Expr::Struct(st) => st.entries.iter().fold(40, |acc, entry| {
            acc.saturating_add(entry_cost(&entry.expr, sizes))
        }),
        Expr::Comprehension(c) => {
            let per_item = estimate(&c.loop_cond, sizes).saturating_add(estimate(&c.loop_step, sizes));
            estimate(&c.iter_range, sizes)
                .saturating_add(estimate(&c.accu_init, sizes))
                .saturating_add(sizes.collection.saturating_mul(per_item))
                .saturating_add(estimate(&c.result, sizes))
        }
    }
}

fn entry_cost(entry: &EntryExpr, sizes: &Sizes) -> u64 {
    match entry {
        EntryExpr::MapEntry(m) => estimate(&m.key, sizes).saturating_add(estimate(&m.value, sizes)),
        EntryExpr::StructField(f) => estimate(&f.value, sizes),
    }
}
