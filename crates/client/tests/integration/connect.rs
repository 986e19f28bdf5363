//! `connect` from a kubeconfig file.

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use rudder_client::ClientError;
use rudder_testkit::TestApiServer;

#[tokio::test]
async fn connects_with_a_kubeconfig_file() {
    let server = TestApiServer::start().await;
    let client = rudder_client::connect(Some(&server.kubeconfig))
        .await
        .expect("client from kubeconfig");
    let default = Api::<Namespace>::all(client)
        .get("default")
        .await
        .expect("get namespace through the new client");
    assert_eq!(default.metadata.name.as_deref(), Some("default"));
}

#[tokio::test]
async fn a_missing_kubeconfig_is_an_error_naming_the_file() {
    let path = std::path::Path::new("/nonexistent/rudder/kubeconfig");
    let Err(error) = rudder_client::connect(Some(path)).await else {
        panic!("a missing kubeconfig must fail");
    };
    assert!(matches!(error, ClientError::ReadKubeconfig { .. }), "{error:?}");
    assert!(
        error.to_string().contains("/nonexistent/rudder/kubeconfig"),
        "{error}"
    );
}
