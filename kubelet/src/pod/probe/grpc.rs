//! gRPC probes: the gRPC health checking protocol (`grpc.health.v1.Health/Check`) against the
//! pod's IP, plain text, as upstream's pkg/probe/grpc. Success only for SERVING; every other
//! outcome is a failure with upstream's message.

use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Checks `service` ("" for the server as a whole) at `host:port` within `timeout`.
/// Err carries the probe's failure message.
pub async fn check(host: &str, port: u16, service: &str, timeout: Duration) -> Result<(), String> {
    let authority = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| format!("failed to connect service {authority:?} within {timeout:?}: {e}"))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(format!("kube-probe/{}", super::PROBE_VERSION))
        .map_err(|e| format!("failed to connect service {authority:?} within {timeout:?}: {e}"))?;
    let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Err(format!(
                "failed to connect service {authority:?} within {timeout:?}: {e}"
            ));
        }
        Err(_) => {
            return Err(format!(
                "failed to connect service {authority:?} within {timeout:?}: timed out"
            ));
        }
    };
    let request = HealthCheckRequest {
        service: service.to_string(),
    };
    let mut client = HealthClient::new(channel);
    let call = client.check(request);
    let response = match tokio::time::timeout(timeout, call).await {
        Err(_) => return Err(format!("timeout: health rpc did not complete within {timeout:?}")),
        Ok(Err(status)) => {
            return Err(match status.code() {
                tonic::Code::Unimplemented => format!(
                    "this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
                    status.message()
                ),
                tonic::Code::DeadlineExceeded => {
                    format!("timeout: health rpc did not complete within {timeout:?}")
                }
                _ => format!("error: health rpc probe failed: {status}"),
            });
        }
        Ok(Ok(r)) => r.into_inner(),
    };
    let status = ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown);
    if status == ServingStatus::Serving {
        Ok(())
    } else {
        Err(format!(
            "service unhealthy (responded with {:?})",
            status.as_str_name()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::ServingStatus as Reported;

    /// A real gRPC health server on 127.0.0.1; returns its port and reporter.
    async fn server() -> (u16, tonic_health::server::HealthReporter) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (port, reporter)
    }

    #[tokio::test]
    async fn serving_not_serving_unknown_service_and_no_server() {
        let (port, reporter) = server().await;
        let t = Duration::from_secs(2);
        assert_eq!(check("127.0.0.1", port, "", t).await, Ok(()), "server as a whole");
        reporter.set_service_status("app", Reported::Serving).await;
        assert_eq!(check("127.0.0.1", port, "app", t).await, Ok(()));
        reporter.set_service_status("app", Reported::NotServing).await;
        assert_eq!(
            check("127.0.0.1", port, "app", t).await,
            Err("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
        let unknown = check("127.0.0.1", port, "nope", t).await.unwrap_err();
        assert!(
            unknown.starts_with("error: health rpc probe failed:")
                && unknown.contains("service not registered"),
            "{unknown}"
        );
        // Nothing listens: a connect failure.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = check("127.0.0.1", closed_port, "", t).await.unwrap_err();
        assert!(err.starts_with("failed to connect service"), "{err}");
    }

    #[tokio::test]
    async fn a_server_without_the_health_service() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // A gRPC server with no services: every method, Check included, is Unimplemented.
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_routes(tonic::service::Routes::default())
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let err = check("127.0.0.1", port, "", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            err.starts_with("this server does not implement the grpc health protocol"),
            "{err}"
        );
    }
}
