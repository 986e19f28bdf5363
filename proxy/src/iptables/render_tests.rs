use std::collections::BTreeSet;

use super::*;
use crate::fixtures::{sample_opts as opts, sample_state};

#[test]
fn golden_iptables_restore_input() {
    let got = render(&sample_state(), &opts(), &BTreeSet::new());
    let want = include_str!("testdata/golden.rules");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/iptables/testdata/golden.rules");
        std::fs::write(path, &got.text).unwrap();
        return;
    }
    if got.text != want {
        panic!("rendered rules differ from testdata/golden.rules:\n{}", got.text);
    }
}
