//! Table tests of the individual checks, with upstream's details.

use serde_json::{Value, json};

use super::*;

fn run(f: CheckFn, spec: Value) -> Option<String> {
    f(&json!({}), &spec).map(|v| format!("{} ({})", v.reason, v.detail))
}

#[test]
fn baseline_checks_report_like_upstream() {
    let cases: Vec<(CheckFn, Value, Option<&str>)> = vec![
        (
            host_namespaces,
            json!({"hostPID": true, "hostNetwork": true}),
            Some("host namespaces (hostNetwork, hostPID)"),
        ),
        (host_namespaces, json!({"hostIPC": false}), None),
        (
            host_path_volumes,
            json!({"volumes": [{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "emptyDir": {}}]}),
            Some("hostPath volumes (volume \"a\")"),
        ),
        (
            host_ports,
            json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"hostPort": 9090}]},
            {"name": "b", "ports": [{"containerPort": 80}]}]}),
            Some("hostPort (container \"a\" uses hostPorts 8080, 9090)"),
        ),
        (
            privileged,
            json!({"initContainers": [{"name": "i", "securityContext": {"privileged": true}}],
            "containers": [{"name": "c", "securityContext": {"privileged": true}}]}),
            Some("privileged (containers \"i\", \"c\" must not set securityContext.privileged=true)"),
        ),
        (
            proc_mount,
            json!({"containers": [{"name": "c", "securityContext": {"procMount": "Unmasked"}}]}),
            Some("procMount (container \"c\" must not set securityContext.procMount to \"Unmasked\")"),
        ),
        (
            se_linux,
            json!({"securityContext": {"seLinuxOptions": {"type": "spc_t"}},
            "containers": [{"name": "c", "securityContext": {"seLinuxOptions": {"user": "root"}}}]}),
            Some(
                "seLinuxOptions (pod and container \"c\" set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user may not be set)",
            ),
        ),
        (
            sysctls,
            json!({"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced"}, {"name": "net.core.somaxconn"}]}}),
            Some("forbidden sysctls (net.core.somaxconn)"),
        ),
        (
            capabilities_baseline,
            json!({"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_TIME"]}}}]}),
            Some(
                "non-default capabilities (container \"c\" must not include \"NET_ADMIN\", \"SYS_TIME\" in securityContext.capabilities.add)",
            ),
        ),
        (
            seccomp_baseline,
            json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [{"name": "c"}]}),
            Some("seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")"),
        ),
        (
            windows_host_process,
            json!({"containers": [{"name": "c", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}),
            Some(
                "hostProcess (container \"c\" must not set securityContext.windowsOptions.hostProcess=true)",
            ),
        ),
    ];
    for (f, spec, want) in cases {
        assert_eq!(run(f, spec.clone()).as_deref(), want, "{spec}");
    }
    let meta = json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}});
    assert_eq!(
        app_armor(&meta, &json!({}))
            .map(|v| format!("{} ({})", v.reason, v.detail))
            .as_deref(),
        Some("forbidden AppArmor profile (container.apparmor.security.beta.kubernetes.io/c=\"unconfined\")")
    );
}

#[test]
fn restricted_checks_report_like_upstream() {
    let cases: Vec<(CheckFn, Value, Option<&str>)> = vec![
        (
            allow_privilege_escalation,
            json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {"allowPrivilegeEscalation": false}}]}),
            Some(
                "allowPrivilegeEscalation != false (container \"a\" must set securityContext.allowPrivilegeEscalation=false)",
            ),
        ),
        (
            capabilities_restricted,
            json!({"containers": [{"name": "a"},
            {"name": "b", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "NET_RAW"]}}}]}),
            Some(
                "unrestricted capabilities (container \"a\" must set securityContext.capabilities.drop=[\"ALL\"]; container \"b\" must not include \"NET_RAW\" in securityContext.capabilities.add)",
            ),
        ),
        (
            restricted_volumes,
            json!({"volumes": [{"name": "ok", "configMap": {"name": "x"}}, {"name": "h", "hostPath": {"path": "/"}},
            {"name": "n", "nfs": {"server": "s", "path": "/"}}]}),
            Some(
                "restricted volume types (volumes \"h\", \"n\" use restricted volume types \"hostPath\", \"nfs\")",
            ),
        ),
        (
            run_as_non_root,
            json!({"containers": [{"name": "a"}]}),
            Some("runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"),
        ),
        (
            run_as_non_root,
            json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]}),
            None,
        ),
        (
            run_as_non_root,
            json!({"securityContext": {"runAsNonRoot": false}, "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}]}),
            Some(
                "runAsNonRoot != true (pod and container \"a\" must not set securityContext.runAsNonRoot=false)",
            ),
        ),
        (
            run_as_user,
            json!({"containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]}),
            Some("runAsUser=0 (container \"a\" must not set runAsUser=0)"),
        ),
        (
            seccomp_restricted,
            json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}]}),
            Some(
                "seccompProfile (pod or container \"a\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
            ),
        ),
        (
            seccomp_restricted,
            json!({"securityContext": {"seccompProfile": {"type": "Localhost"}}, "containers": [{"name": "a"}]}),
            None,
        ),
    ];
    for (f, spec, want) in cases {
        assert_eq!(run(f, spec.clone()).as_deref(), want, "{spec}");
    }
}
