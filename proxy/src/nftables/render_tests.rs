use super::*;
use crate::fixtures::{sample_opts as opts, sample_state};

#[test]
fn golden_nft_input() {
    let got = render(&sample_state(), &opts());
    let want = include_str!("testdata/golden.nft");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/nftables/testdata/golden.nft");
        std::fs::write(path, &got.text).unwrap();
        return;
    }
    if got.text != want {
        panic!(
            "rendered nft input differs from testdata/golden.nft:\n{}",
            got.text
        );
    }
}
