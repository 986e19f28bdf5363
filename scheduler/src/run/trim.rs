//! What the scheduler's informers keep of each pod (client-go `SetTransform`, as upstream's
//! scheduler strips managedFields). Pending pods are the scheduler's biggest cache, so besides
//! managedFields it drops the container fields no plugin reads (env, commands, probes, mounts,
//! security contexts) and the container statuses. The scheduler never writes a cached pod back
//! whole (it binds through `pods/binding` and patches status), so nothing trimmed is lost.

use k8s_openapi::api::core::v1::{Container, EphemeralContainer, Pod};
use rudder_client::informer::strip_managed_fields;

/// Trims `pod` to what scheduling reads: identity, labels and annotations, owner references,
/// the spec minus per-container runtime details, and the status phase, conditions,
/// nominatedNodeName and startTime.
pub(crate) fn trim_pod(pod: &mut Pod) {
    strip_managed_fields(pod);
    if let Some(spec) = pod.spec.as_mut() {
        for c in spec.containers.iter_mut() {
            trim_container(c);
        }
        for c in spec.init_containers.iter_mut().flatten() {
            trim_container(c);
        }
        for c in spec.ephemeral_containers.iter_mut().flatten() {
            trim_ephemeral(c);
        }
    }
    if let Some(status) = pod.status.as_mut() {
        status.container_statuses = None;
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
    }
}

/// Keeps name, image, ports, resources and restartPolicy (sidecar init containers): what
/// NodeResourcesFit, NodePorts and ImageLocality read.
fn trim_container(c: &mut Container) {
    c.args = None;
    c.command = None;
    c.env = None;
    c.env_from = None;
    c.lifecycle = None;
    c.liveness_probe = None;
    c.readiness_probe = None;
    c.startup_probe = None;
    c.security_context = None;
    c.termination_message_path = None;
    c.termination_message_policy = None;
    c.volume_devices = None;
    c.volume_mounts = None;
    c.working_dir = None;
}

/// Ephemeral containers request no resources and take no ports: only their names stay.
fn trim_ephemeral(c: &mut EphemeralContainer) {
    *c = EphemeralContainer {
        name: std::mem::take(&mut c.name),
        image: c.image.take(),
        ..EphemeralContainer::default()
    };
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_what_scheduling_reads_and_drops_the_rest() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                "labels": {"app": "web"}, "annotations": {"a": "b"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {
                "schedulerName": "default-scheduler", "priority": 5,
                "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}],
                "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always",
                                    "command": ["sh"], "resources": {"requests": {"cpu": "50m"}}}],
                "containers": [{
                    "name": "c", "image": "nginx",
                    "command": ["nginx"], "args": ["-g"], "env": [{"name": "X", "value": "1"}],
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                    "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    "livenessProbe": {"exec": {"command": ["true"]}},
                    "terminationMessagePath": "/dev/termination-log"
                }]
            },
            "status": {
                "phase": "Pending", "nominatedNodeName": "n1",
                "conditions": [{"type": "PodScheduled", "status": "False"}],
                "containerStatuses": [{"name": "c", "image": "nginx", "imageID": "", "ready": false, "restartCount": 0}]
            }
        }))
        .expect("pod");
        trim_pod(&mut pod);

        assert!(pod.metadata.managed_fields.is_none());
        assert_eq!(pod.metadata.uid.as_deref(), Some("u"));
        assert_eq!(pod.metadata.resource_version.as_deref(), Some("7"));
        assert!(pod.metadata.labels.is_some() && pod.metadata.annotations.is_some());
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.priority, Some(5));
        assert!(spec.node_selector.is_some() && spec.tolerations.is_some() && spec.volumes.is_some());
        let c = &spec.containers[0];
        assert_eq!(c.image.as_deref(), Some("nginx"));
        assert!(c.ports.is_some() && c.resources.is_some());
        assert!(c.command.is_none() && c.args.is_none() && c.env.is_none());
        assert!(c.volume_mounts.is_none() && c.liveness_probe.is_none());
        assert!(c.termination_message_path.is_none());
        let init = &spec.init_containers.as_ref().expect("init")[0];
        assert_eq!(init.restart_policy.as_deref(), Some("Always"));
        assert!(init.resources.is_some() && init.command.is_none());
        let status = pod.status.as_ref().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        assert_eq!(status.nominated_node_name.as_deref(), Some("n1"));
        assert!(status.conditions.is_some());
        assert!(status.container_statuses.is_none());
    }
}
