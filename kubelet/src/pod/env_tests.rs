use super::*;
use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

fn node() -> NodeFacts {
    NodeFacts {
        name: "n".into(),
        ip: "10.0.0.1".parse().unwrap(),
        allocatable_cpu_milli: 2000,
        allocatable_memory: 1 << 30,
    }
}

#[test]
fn expansion() {
    let vars = HashMap::from([("A".to_string(), "x".to_string())]);
    assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
}

#[test]
fn env_in_upstream_order() {
    let mut pod = Pod::default();
    pod.metadata.name = Some("p".into());
    pod.metadata.namespace = Some("ns".into());
    pod.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    let c = Container {
        name: "c".into(),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "cm".into(),
                optional: None,
            }),
            prefix: Some("CM_".into()),
            secret_ref: None,
        }]),
        env: Some(vec![
            EnvVar {
                name: "LIT".into(),
                value: Some("v-$(CM_k)".into()),
                value_from: None,
            },
            EnvVar {
                name: "KEY".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    config_map_key_ref: Some(ConfigMapKeySelector {
                        name: "cm".into(),
                        key: "k".into(),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
            EnvVar {
                name: "NAME".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.name".into(),
                        api_version: None,
                    }),
                    ..Default::default()
                }),
            },
            EnvVar {
                name: "APP".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.labels['app']".into(),
                        api_version: None,
                    }),
                    ..Default::default()
                }),
            },
            EnvVar {
                name: "IP".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "status.podIP".into(),
                        api_version: None,
                    }),
                    ..Default::default()
                }),
            },
            EnvVar {
                name: "MEM".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    resource_field_ref: Some(ResourceFieldSelector {
                        resource: "limits.memory".into(),
                        divisor: Some(Quantity("1Mi".into())),
                        container_name: None,
                    }),
                    ..Default::default()
                }),
            },
            EnvVar {
                name: "CPU".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    resource_field_ref: Some(ResourceFieldSelector {
                        resource: "requests.cpu".into(),
                        divisor: Some(Quantity("1m".into())),
                        container_name: None,
                    }),
                    ..Default::default()
                }),
            },
        ]),
        resources: Some(ResourceRequirements {
            requests: Some([("cpu".to_string(), Quantity("250m".into()))].into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cm = ConfigMap {
        data: Some([("k".to_string(), "val".to_string())].into()),
        ..Default::default()
    };
    let svc: Service = serde_json::from_value(serde_json::json!({"metadata": {"name": "my-svc"},
        "spec": {"clusterIP": "10.96.0.7", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}))
    .unwrap();
    let src = Sources {
        config_maps: HashMap::from([("cm".to_string(), Some(cm))]),
        secrets: HashMap::new(),
        services: vec![svc],
        claims: HashMap::new(),
        tokens: HashMap::new(),
    };
    let env = environment(&pod, &c, &src, &node(), "10.1.1.1").unwrap();
    let got: HashMap<_, _> = env.iter().cloned().collect();
    assert_eq!(env[0].0, "CM_k");
    assert_eq!(got["LIT"], "v-val");
    assert_eq!(got["KEY"], "val");
    assert_eq!(got["NAME"], "p");
    assert_eq!(got["APP"], "web");
    assert_eq!(got["IP"], "10.1.1.1");
    assert_eq!(got["MEM"], "1024", "limit defaults to node allocatable");
    assert_eq!(got["CPU"], "250");
    assert_eq!(got["MY_SVC_SERVICE_HOST"], "10.96.0.7");
    assert_eq!(got["MY_SVC_SERVICE_PORT_HTTP"], "80");
    assert_eq!(got["MY_SVC_PORT"], "tcp://10.96.0.7:80");
    assert_eq!(got["MY_SVC_PORT_80_TCP_ADDR"], "10.96.0.7");

    let missing = Sources::default();
    let err = environment(&pod, &c, &missing, &node(), "").unwrap_err();
    assert_eq!(err, "configmap \"cm\" not found");
}
