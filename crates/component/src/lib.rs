//! rudder-component: what every Rudder binary shares: logging set-up, graceful shutdown, TLS
//! serving of an axum router (HTTP/1.1 and HTTP/2, optional client certificates), x509
//! identities, and issuing certificates.

mod any_server_cert;
pub mod certs;
pub mod serve;
pub mod shutdown;
pub mod systemd;
pub mod telemetry;
pub mod tls;
pub mod websocket_token;

pub use shutdown::{Shutdown, ShutdownTrigger};
