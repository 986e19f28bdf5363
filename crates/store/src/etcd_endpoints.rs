//! Failover between the members of an etcd cluster.
//!
//! etcd-client balances over all endpoints with tonic's balanced channel, which keeps picking a
//! member whose connection fails: with one member of three down, a third of the requests failed
//! with "tcp connect error" (etcd-client issue #39). Upstream's clientv3 instead pins one member
//! and moves to the next when a request fails with a transport error; we do the same: one client
//! per endpoint, a pinned index, and a retry on the next member for requests that are safe to
//! repeat.

use std::sync::atomic::{AtomicUsize, Ordering};

use etcd_client::{Client, ConnectOptions};
use tracing::warn;

/// One client per etcd member, and which member requests go to.
pub(crate) struct Endpoints {
    members: Vec<Member>,
    pinned: AtomicUsize,
}

struct Member {
    url: String,
    client: Client,
}

/// Whether a failed request may be sent again to another member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and watches: repeating them changes nothing.
    Always,
    /// Writes: only when the request never reached etcd (the connection could not be made), since
    /// a conditional write that did apply would fail its comparison the second time.
    IfUnsent,
}

/// How a request failed, as far as failover is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The member could not be reached: the request was not sent.
    Unreachable,
    /// The member or the connection failed after the request may have been sent (timeout, reset,
    /// "etcdserver: no leader").
    Broken,
    /// etcd answered: the member works, the error is the request's own.
    Answered,
}

impl Outcome {
    /// Classifies an error of etcd-client.
    pub(crate) fn of(err: &etcd_client::Error) -> Outcome {
        match err {
            etcd_client::Error::TransportError(_) => Outcome::Unreachable,
            etcd_client::Error::GRpcStatus(status) => {
                Outcome::of_status(i32::from(status.code()), status.message())
            }
            etcd_client::Error::IoError(_) => Outcome::Broken,
            _ => Outcome::Answered,
        }
    }

    /// `code` is the numeric gRPC status code (the crate does not re-export tonic's `Code`).
    fn of_status(code: i32, message: &str) -> Outcome {
        match code {
            // tonic reports a failed dial as Unavailable "tcp connect error" / "error trying to
            // connect"; anything else Unavailable came over a broken connection or from a member
            // without a leader.
            UNAVAILABLE if is_connect_failure(message) => Outcome::Unreachable,
            UNAVAILABLE | DEADLINE_EXCEEDED | CANCELLED => Outcome::Broken,
            // A connection torn down mid-request ("transport error", "connection reset").
            UNKNOWN | INTERNAL if message.contains("transport") => Outcome::Broken,
            _ => Outcome::Answered,
        }
    }

    /// Whether to send the request to the next member.
    pub(crate) fn retry(self, retry: Retry) -> bool {
        match (self, retry) {
            (Outcome::Answered, _) => false,
            (Outcome::Unreachable, _) => true,
            (Outcome::Broken, Retry::Always) => true,
            (Outcome::Broken, Retry::IfUnsent) => false,
        }
    }
}

// gRPC status codes.
const CANCELLED: i32 = 1;
const UNKNOWN: i32 = 2;
const DEADLINE_EXCEEDED: i32 = 4;
const INTERNAL: i32 = 13;
const UNAVAILABLE: i32 = 14;

fn is_connect_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "connect error",
        "error trying to connect",
        "connection refused",
        "no route to host",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl Endpoints {
    /// Builds a client per endpoint. No connection is made yet: an unreachable member does not
    /// stop the others from serving.
    pub(crate) async fn connect(
        urls: &[String],
        options: &ConnectOptions,
    ) -> Result<Endpoints, etcd_client::Error> {
        let mut members = Vec::with_capacity(urls.len());
        for url in urls {
            let client = Client::connect([url.as_str()], Some(options.clone())).await?;
            members.push(Member {
                url: url.clone(),
                client,
            });
        }
        Ok(Endpoints {
            members,
            pinned: AtomicUsize::new(0),
        })
    }

    /// How many members there are: the most attempts one request makes.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The pinned member: its index (for [`Endpoints::failed`]), URL and client.
    pub(crate) fn pinned(&self) -> (usize, &str, &Client) {
        let index = self.pinned.load(Ordering::Relaxed) % self.members.len();
        let member = &self.members[index];
        (index, &member.url, &member.client)
    }

    /// Moves requests off member `index` after it failed. Requests that failed concurrently on
    /// the same member move the pin once, not once each.
    pub(crate) fn failed(&self, index: usize) {
        if self.members.len() < 2 {
            return;
        }
        let next = (index + 1) % self.members.len();
        if self
            .pinned
            .compare_exchange(index, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            warn!(
                failed = %self.members[index].url,
                next = %self.members[next].url,
                "etcd member failed; switching to the next one"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVALID_ARGUMENT: i32 = 3;
    const PERMISSION_DENIED: i32 = 7;
    const OUT_OF_RANGE: i32 = 11;

    #[test]
    fn outcomes_of_grpc_statuses() {
        let cases = [
            (
                UNAVAILABLE,
                "tcp connect error: Connection refused (os error 111)",
                Outcome::Unreachable,
            ),
            (
                UNAVAILABLE,
                "error trying to connect: tcp connect error",
                Outcome::Unreachable,
            ),
            (UNAVAILABLE, "etcdserver: no leader", Outcome::Broken),
            (UNAVAILABLE, "connection reset", Outcome::Broken),
            (
                DEADLINE_EXCEEDED,
                "etcdserver: request timed out",
                Outcome::Broken,
            ),
            (UNKNOWN, "transport error", Outcome::Broken),
            (
                INVALID_ARGUMENT,
                "etcdserver: key is not provided",
                Outcome::Answered,
            ),
            (
                OUT_OF_RANGE,
                "etcdserver: mvcc: required revision has been compacted",
                Outcome::Answered,
            ),
            (
                PERMISSION_DENIED,
                "etcdserver: permission denied",
                Outcome::Answered,
            ),
        ];
        for (code, message, want) in cases {
            assert_eq!(Outcome::of_status(code, message), want, "{code} {message}");
        }
    }

    #[test]
    fn writes_are_repeated_only_when_they_were_not_sent() {
        assert!(Outcome::Unreachable.retry(Retry::IfUnsent));
        assert!(!Outcome::Broken.retry(Retry::IfUnsent));
        assert!(Outcome::Broken.retry(Retry::Always));
        assert!(!Outcome::Answered.retry(Retry::Always));
    }

    #[tokio::test]
    async fn a_failure_moves_the_pin_once_and_wraps_around() {
        let urls = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"].map(String::from);
        let endpoints = Endpoints::connect(&urls, &ConnectOptions::new()).await.unwrap();
        assert_eq!(endpoints.pinned().0, 0);
        endpoints.failed(0);
        endpoints.failed(0); // a concurrent failure of the same member
        assert_eq!(endpoints.pinned().1, "http://127.0.0.1:2");
        endpoints.failed(1);
        endpoints.failed(2);
        assert_eq!(endpoints.pinned().0, 0);
    }
}
