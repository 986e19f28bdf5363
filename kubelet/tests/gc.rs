//! Garbage collection on a real containerd: a restarting container leaves one dead instance
//! (the one `kubectl logs --previous` reads) and no logs of the removed ones; under disk
//! pressure unused images go while the images in use (and the sandbox image) stay.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::Api;
use rudder_kubelet::cri::{ImageService, RuntimeService, api, labels};
use rudder_testkit::eventually;
use serde_json::json;
use support::cluster::TestNode;
use support::containerd::BUSYBOX;

fn restart_count(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .map_or(0, |c| c.restart_count)
}

/// The pod's instances of `name` in containerd: (id, state, created_at), newest first.
async fn instances(node: &TestNode, uid: &str, name: &str) -> Vec<(String, i32, i64)> {
    let mut out: Vec<(String, i32, i64)> = node
        .ctd
        .runtime()
        .list_containers(None)
        .await
        .expect("list containers")
        .into_iter()
        .filter(|c| {
            c.labels.get(labels::POD_UID).map(String::as_str) == Some(uid)
                && c.labels.get(labels::CONTAINER_NAME).map(String::as_str) == Some(name)
        })
        .map(|c| (c.id, c.state, c.created_at))
        .collect();
    out.sort_by_key(|(_, _, created)| std::cmp::Reverse(*created));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarting_container_leaves_one_dead_instance() {
    let Some(node) = TestNode::start_with(|c| {
        c.container_gc_period = Duration::from_secs(1);
        c.crash_loop_backoff_initial = Duration::from_secs(1);
        c.crash_loop_backoff_max = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    let pod = node
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "crasher", "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 1, "restartPolicy": "Always",
                "containers": [{"name": "crash", "image": BUSYBOX,
                    "command": ["sh", "-c", "echo attempt; exit 1"]}]}
        }))
        .await;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    // Four attempts have existed once restartCount reached 3; afterwards only the newest dead
    // one may remain beside an attempt in flight.
    node.wait_pod("crasher", "restartCount >= 3", Duration::from_secs(90), |p| {
        restart_count(p) >= 3
    })
    .await;
    let exited = api::ContainerState::ContainerExited as i32;
    let kept = eventually(
        "one dead instance of the container",
        Duration::from_secs(30),
        || async {
            let all = instances(&node, &uid, "crash").await;
            let dead: Vec<&(String, i32, i64)> = all.iter().filter(|(_, s, _)| *s == exited).collect();
            (dead.len() == 1 && all.len() <= 2).then(|| (dead[0].clone(), all.clone()))
        },
    )
    .await;
    let ((dead_id, _, dead_created), all) = kept;
    // The dead one kept is the newest dead one: any other instance is newer (in flight).
    for (id, _, created) in &all {
        assert!(
            id == &dead_id || *created > dead_created,
            "an older instance was kept: {all:?}"
        );
    }
    // Log files of removed instances are gone: at most one per remaining instance.
    let logs = node
        .config
        .pod_logs_dir
        .join(format!("default_crasher_{uid}"))
        .join("crash");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !files.is_empty() && files.len() <= 2,
        "log files of removed instances left in {}: {files:?}",
        logs.display()
    );
    node.delete_all_and_check_clean().await;
}

/// Builds a tiny image (one file) and imports it into the test's containerd.
fn import_extra_image(node: &TestNode, reference: &str) {
    let work = node.ctd.dir.path().join("extra-image");
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs");
    std::fs::write(rootfs.join("hello"), reference).expect("file");
    let tar = work.join("extra.tar");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/mkimage.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(&rootfs)
        .arg(reference)
        .arg(&tar)
        .arg(r#"["/hello"]"#)
        .stdout(Stdio::null())
        .status()
        .expect("mkimage.sh");
    assert!(status.success(), "mkimage.sh failed");
    let status = Command::new("ctr")
        .arg("--address")
        .arg(&node.ctd.socket)
        .args(["-n", "k8s.io", "images", "import"])
        .arg(&tar)
        .stdout(Stdio::null())
        .status()
        .expect("ctr import");
    assert!(status.success(), "ctr images import failed");
}

async fn tags(node: &TestNode) -> Vec<String> {
    node.ctd
        .runtime()
        .list_images()
        .await
        .expect("list images")
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_disk_pressure_unused_images_go_and_used_ones_stay() {
    const EXTRA: &str = "localhost/rudder/gc-victim:1";
    let Some(node) = TestNode::start_with(|c| {
        // Always "over the threshold": every round must free everything it can.
        c.image_gc.high_threshold_percent = 0;
        c.image_gc.low_threshold_percent = 0;
        c.image_gc.min_age = Duration::ZERO;
        c.image_gc_period = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    // containerd 1.6 reports where images live but no capacity: the kubelet uses statvfs.
    let fs = node.ctd.runtime().image_fs_info().await.expect("ImageFsInfo");
    let mount = fs
        .first()
        .and_then(|f| f.fs_id.as_ref())
        .map(|id| id.mountpoint.clone())
        .unwrap_or_default();
    assert!(!mount.is_empty(), "ImageFsInfo reports a mountpoint: {fs:?}");
    assert!(rudder_kubelet::gc::fs_stats(std::path::Path::new(&mount)).is_some_and(|s| s.capacity > 0));
    assert_eq!(
        node.ctd
            .runtime()
            .sandbox_image()
            .await
            .expect("status")
            .as_deref(),
        Some(support::containerd::PAUSE),
        "the sandbox image from containerd's verbose status"
    );

    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "user", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}
    }))
    .await;
    node.wait_pod("user", "Running", Duration::from_secs(60), |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    })
    .await;
    import_extra_image(&node, EXTRA);
    assert!(tags(&node).await.iter().any(|t| t == EXTRA), "imported");

    eventually("the unused image removed", Duration::from_secs(30), || async {
        (!tags(&node).await.iter().any(|t| t == EXTRA)).then_some(())
    })
    .await;
    let left = tags(&node).await;
    assert!(
        left.iter().any(|t| t == BUSYBOX),
        "the image in use stays: {left:?}"
    );
    assert!(
        left.iter().any(|t| t == support::containerd::PAUSE),
        "the sandbox image stays: {left:?}"
    );
    // Freeing everything unused cannot bring the disk to 0% used: upstream's warning.
    let events: Api<Event> = Api::all(node.server.client.clone());
    let msg = eventually("FreeDiskSpaceFailed event", Duration::from_secs(30), || async {
        let l = events.list(&Default::default()).await.ok()?;
        l.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FreeDiskSpaceFailed"))
            .and_then(|e| e.message)
    })
    .await;
    assert!(
        msg.starts_with("Failed to garbage collect required amount of images. Attempted to free"),
        "{msg}"
    );
    // The pod still runs on its image.
    let pod = node.get("user").await;
    assert_eq!(pod.status.and_then(|s| s.phase).as_deref(), Some("Running"));
    node.delete_all_and_check_clean().await;
}
