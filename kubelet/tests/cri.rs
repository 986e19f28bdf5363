//! The CRI client against a real containerd the test starts: a sandbox with a pod IP, a
//! busybox container that runs, execs and exits, and nothing left afterwards.

mod support;

use std::collections::HashMap;

use rudder_kubelet::cni::{BridgeNetwork, write_conflist};
use rudder_kubelet::cri::{ImageService, RuntimeService, api};
use support::containerd::{BUSYBOX, TestContainerd};

#[tokio::test]
async fn sandbox_and_container_lifecycle_on_containerd() {
    let Some(ctd) = TestContainerd::start().await else {
        return;
    };
    write_conflist(
        &ctd.cni_conf_dir,
        &BridgeNetwork {
            name: "rudder".into(),
            bridge: ctd.bridge.clone(),
            subnet: ctd.pod_cidr.clone(),
            ipam_data_dir: Some(ctd.ipam_dir.clone()),
        },
    )
    .unwrap();
    let rt = ctd.runtime();
    let version = rt.version().await.unwrap();
    assert_eq!(version.runtime_name, "containerd");
    assert!(
        rt.image_status(BUSYBOX).await.unwrap().is_some(),
        "busybox imported"
    );
    assert!(
        rt.image_status("localhost/rudder/absent:1")
            .await
            .unwrap()
            .is_none()
    );

    let logs = ctd.dir.path().join("logs");
    let sandbox = api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: "p".into(),
            uid: "uid-1".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: "p".into(),
        log_directory: logs.display().to_string(),
        labels: HashMap::from([("io.kubernetes.pod.uid".into(), "uid-1".into())]),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: format!("{}/podtest", ctd.cgroup_root),
            ..Default::default()
        }),
        ..Default::default()
    };
    let sb = rt
        .run_pod_sandbox(sandbox.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", ctd.log()));
    let status = rt.pod_sandbox_status(&sb).await.unwrap();
    let ip = status.network.unwrap().ip;
    assert!(
        ip.starts_with(ctd.pod_cidr.trim_end_matches("0/24")),
        "pod ip {ip} in {}",
        ctd.pod_cidr
    );
    let listed = rt
        .list_pod_sandbox(HashMap::from([("io.kubernetes.pod.uid".into(), "uid-1".into())]))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let config = api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: "c".into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: BUSYBOX.into(),
            ..Default::default()
        }),
        command: vec!["/bin/sh".into(), "-c".into(), "echo hello; sleep 3600".into()],
        log_path: "c/0.log".into(),
        linux: Some(api::LinuxContainerConfig::default()),
        ..Default::default()
    };
    let c = rt.create_container(&sb, config, sandbox).await.unwrap();
    rt.start_container(&c).await.unwrap();
    let st = rt.container_status(&c).await.unwrap();
    assert_eq!(st.state, api::ContainerState::ContainerRunning as i32);
    let exec = rt
        .exec_sync(&c, vec!["sh".into(), "-c".into(), "exit 3".into()], 5)
        .await
        .unwrap();
    assert_eq!(exec.exit_code, 3);
    rt.stop_container(&c, 1).await.unwrap();
    let st = rt.container_status(&c).await.unwrap();
    assert_eq!(st.state, api::ContainerState::ContainerExited as i32);
    assert!(
        st.exit_code == 143 || st.exit_code == 137,
        "stopped: {}",
        st.exit_code
    );
    let log = std::fs::read_to_string(logs.join("c/0.log")).unwrap();
    assert!(log.contains("stdout F hello"), "CRI log format: {log}");

    rt.stop_pod_sandbox(&sb).await.unwrap();
    rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_eq!(ctd.leftovers().await, (0, 0));
}
