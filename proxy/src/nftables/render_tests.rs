use super::*;
use crate::fixtures::{sample_opts as opts, sample_state};

#[test]
fn golden_nft_input() {
    let got = render(&sample_state(), &opts(), None);
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

fn affinity_sets(r: &Rendered) -> Vec<String> {
    r.inventory.sets.keys().cloned().collect()
}

#[test]
fn a_later_sync_keeps_existing_affinity_sets() {
    let first = render(&sample_state(), &opts(), None);
    let sets = affinity_sets(&first);
    assert_eq!(sets.len(), 2, "sample state has two affinity endpoints");
    let second = render(&sample_state(), &opts(), Some(&first.inventory));
    let text = &second.text;
    assert!(!text.contains("delete table"), "{text}");
    assert!(!text.contains("flush table"), "{text}");
    for set in &sets {
        assert!(
            !text.contains(&format!("delete set ip kube-proxy {set}")),
            "{text}"
        );
        assert!(
            !text.contains(&format!("flush set ip kube-proxy {set}")),
            "{text}"
        );
        // Declared again (a no-op for an existing set), so a new set would be created.
        assert!(text.contains(&format!("\tset {set} {{")), "{text}");
    }
    // Rules and map elements are still replaced.
    assert!(text.contains("flush chain ip kube-proxy services"), "{text}");
    assert!(text.contains("flush map ip kube-proxy service-ips"), "{text}");
    assert_eq!(second.inventory, first.inventory);
    assert_eq!(second.objects, first.objects);
}

#[test]
fn a_later_sync_deletes_what_is_gone_and_recreates_a_set_whose_timeout_changed() {
    let first = render(&sample_state(), &opts(), None);
    let mut previous = first.inventory.clone();
    previous.chains.insert("endpoint-GONE".into());
    previous.sets.insert("affinity-GONE".into(), 10800);
    let changed = affinity_sets(&first)[0].clone();
    previous.sets.insert(changed.clone(), 60);
    let text = render(&sample_state(), &opts(), Some(&previous)).text;
    let flush = text.find("flush chain ip kube-proxy endpoint-GONE").expect(&text);
    let delete = text
        .find("delete chain ip kube-proxy endpoint-GONE")
        .expect(&text);
    assert!(flush < delete, "a chain is emptied before it is deleted:\n{text}");
    assert!(text.contains("delete set ip kube-proxy affinity-GONE"), "{text}");
    let del = text
        .find(&format!("delete set ip kube-proxy {changed}"))
        .expect(&text);
    let decl = text.rfind(&format!("\tset {changed} {{")).expect(&text);
    assert!(del < decl, "the set is recreated after its delete:\n{text}");
    let kept = &affinity_sets(&first)[1];
    assert!(
        !text.contains(&format!("delete set ip kube-proxy {kept}")),
        "{text}"
    );
}
