use super::*;

fn t(s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(s)
}

fn img(id: &str, tag: &str, size: u64) -> ImageInfo {
    ImageInfo {
        id: id.into(),
        repo_tags: vec![tag.into()],
        size,
        pinned: false,
    }
}

fn rec(first: u64, last: u64) -> Record {
    Record {
        first_detected: t(first),
        last_used: t(last),
    }
}

const GB: u64 = 1 << 30;

/// 100 GB disk with `used` GB used.
fn fs(used: u64) -> FsStats {
    FsStats {
        capacity: 100 * GB,
        available: (100 - used) * GB,
    }
}

#[test]
fn under_the_high_threshold_nothing_goes() {
    let images = [img("a", "a:1", GB)];
    let records = HashMap::from([("a".to_string(), rec(0, 0))]);
    let got = plan(
        &images,
        &HashSet::new(),
        &records,
        fs(84),
        &Policy::default(),
        t(1000),
    )
    .unwrap();
    assert_eq!(got.usage_percent, 84);
    assert_eq!(got.bytes_to_free, 0);
    assert!(got.remove.is_empty());
}

#[test]
fn least_recently_used_first_down_to_the_low_threshold() {
    // 90% used: free 10 GB to reach 80%.
    let images = [
        img("recent", "r:1", 6 * GB),
        img("old", "o:1", 6 * GB),
        img("never", "n:1", 3 * GB),
        img("spare", "s:1", 6 * GB),
    ];
    let records = HashMap::from([
        ("recent".to_string(), rec(0, 900)),
        ("old".to_string(), rec(0, 100)),
        ("never".to_string(), rec(50, 0)),
        ("spare".to_string(), rec(0, 950)),
    ]);
    let got = plan(
        &images,
        &HashSet::new(),
        &records,
        fs(90),
        &Policy::default(),
        t(1000),
    )
    .unwrap();
    assert_eq!(got.usage_percent, 90);
    assert_eq!(got.bytes_to_free, 10 * GB as i64);
    let ids: Vec<&str> = got.remove.iter().map(|(id, _)| id.as_str()).collect();
    // Never used first, then by last use; 3 + 6 + 6 GB reaches 10 GB, "spare" stays.
    assert_eq!(ids, vec!["never", "old", "recent"]);
    assert_eq!(got.planned_bytes(), 15 * GB as i64);
}

#[test]
fn images_in_use_pinned_or_young_stay() {
    let mut pinned = img("pause", "pause:1", GB);
    pinned.pinned = true;
    let images = [
        img("used", "u:1", GB),
        pinned,
        img("young", "y:1", GB),
        img("free", "f:1", GB),
    ];
    let records = HashMap::from([
        ("used".to_string(), rec(0, 1000)),
        ("pause".to_string(), rec(0, 0)),
        ("young".to_string(), rec(950, 0)),
        ("free".to_string(), rec(0, 0)),
    ]);
    let in_use = HashSet::from(["used".to_string()]);
    let got = plan(&images, &in_use, &records, fs(99), &Policy::default(), t(1000)).unwrap();
    assert_eq!(got.remove, vec![("free".to_string(), GB)]);
    assert!(
        got.planned_bytes() < got.bytes_to_free,
        "not enough eligible: FreeDiskSpaceFailed"
    );
}

#[test]
fn zero_thresholds_collect_every_eligible_image() {
    let policy = Policy {
        high_threshold_percent: 0,
        low_threshold_percent: 0,
        min_age: Duration::ZERO,
    };
    let images = [img("a", "a:1", 10), img("b", "b:1", 20)];
    let records = HashMap::from([("a".to_string(), rec(1000, 0)), ("b".to_string(), rec(1000, 0))]);
    let in_use = HashSet::from(["b".to_string()]);
    let got = plan(&images, &in_use, &records, fs(1), &policy, t(1000)).unwrap();
    assert_eq!(got.remove, vec![("a".to_string(), 10)]);
}

#[test]
fn disabled_and_invalid_capacity() {
    let off = Policy {
        high_threshold_percent: 100,
        ..Policy::default()
    };
    let images = [img("a", "a:1", GB)];
    let records = HashMap::from([("a".to_string(), rec(0, 0))]);
    let zero = FsStats {
        capacity: 0,
        available: 0,
    };
    assert_eq!(
        plan(&images, &HashSet::new(), &records, zero, &off, t(1000)),
        Ok(Plan::default())
    );
    assert_eq!(
        plan(
            &images,
            &HashSet::new(),
            &records,
            zero,
            &Policy::default(),
            t(1000)
        ),
        Err(PlanError::InvalidCapacity)
    );
    // Available above capacity counts as all free.
    let odd = FsStats {
        capacity: GB,
        available: 2 * GB,
    };
    let got = plan(
        &images,
        &HashSet::new(),
        &records,
        odd,
        &Policy::default(),
        t(1000),
    )
    .unwrap();
    assert_eq!(got.usage_percent, 0);
}

#[test]
fn records_follow_the_runtime() {
    let mut records = HashMap::from([("gone".to_string(), rec(0, 0)), ("a".to_string(), rec(5, 0))]);
    let images = [img("a", "a:1", 1), img("b", "b:1", 1)];
    detect(&mut records, &images, &HashSet::from(["a".to_string()]), t(100));
    assert_eq!(records.len(), 2);
    assert_eq!(records["a"], rec(5, 100));
    assert_eq!(records["b"], rec(100, 0));
}

#[test]
fn references_name_images_by_id_or_tag() {
    let images = [
        img("sha256:1", "x:1", 1),
        img("sha256:2", "y:1", 1),
        img("sha256:3", "z:1", 1),
    ];
    let got = in_use(&images, ["sha256:1", "y:1", "", "other:2"]);
    assert_eq!(
        got,
        HashSet::from(["sha256:1".to_string(), "sha256:2".to_string()])
    );
}

#[test]
fn policy_validation() {
    assert!(Policy::default().validate().is_ok());
    let low_above_high = Policy {
        high_threshold_percent: 50,
        low_threshold_percent: 60,
        ..Policy::default()
    };
    assert!(low_above_high.validate().is_err());
    let out_of_range = Policy {
        high_threshold_percent: 101,
        ..Policy::default()
    };
    assert!(out_of_range.validate().is_err());
}
