//! Crash safety: a child process writes with many concurrent writers and reports every
//! acknowledged write; it is killed with SIGKILL mid-stream, the store is reopened, and every
//! acknowledged write must be there, with revisions intact. Repeated on the same directory.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use bytes::Bytes;
use futures::StreamExt;
use rudder_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rudder_store::{ListOptions, Store};

const CHILD_ENV: &str = "RUDDER_CRASH_CHILD_DIR";
const WRITERS: usize = 16;

/// Runs only as the child of `acknowledged_writes_survive_sigkill`, which sets `CHILD_ENV`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "child process of acknowledged_writes_survive_sigkill; runs only when it spawns it"]
async fn crash_child() {
    let dir = std::env::var(CHILD_ENV).expect("run by the crash test");
    let store = EmbeddedStore::open(&dir, EmbeddedOptions::default()).expect("open");
    let tasks = (0..WRITERS).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for seq in 0u64.. {
                let key = format!("/crash/{w}/{}", seq % 8);
                let value = Bytes::from(format!("{w}-{seq}-{}", "p".repeat(200)));
                let kv = match store.get(&key, None).await.expect("get") {
                    Some(kv) => store.update(&key, value, kv.mod_revision).await.expect("update"),
                    None => store.create(&key, value).await.expect("create"),
                };
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "ACK {key} {} {}",
                    kv.mod_revision,
                    String::from_utf8_lossy(&kv.value)
                )
                .and_then(|()| out.flush())
                .expect("report");
            }
        })
    });
    futures::future::join_all(tasks).await;
}

struct Ack {
    revision: i64,
    value: String,
}

fn run_child_until_killed(dir: &std::path::Path, acks_before_kill: usize) -> HashMap<String, Ack> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut latest: HashMap<String, Ack> = HashMap::new();
    let mut seen = 0;
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let mut parts = line.splitn(4, ' ');
        if parts.next() != Some("ACK") {
            continue;
        }
        // A line cut short by the kill fails to parse and is not an acknowledgement we saw.
        let (Some(key), Some(rev), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(revision) = rev.parse() else { continue };
        let entry = latest.entry(key.to_string()).or_insert(Ack {
            revision: 0,
            value: String::new(),
        });
        if revision > entry.revision {
            *entry = Ack {
                revision,
                value: value.to_string(),
            };
        }
        seen += 1;
        if seen == acks_before_kill && !killed {
            child.kill().expect("SIGKILL the child");
            killed = true;
        }
    }
    child.wait().expect("reap child");
    assert!(killed, "child exited after only {seen} acknowledged writes");
    latest
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let acked = run_child_until_killed(dir.path(), 1500 + round * 500);
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("reopen after kill");
        let current = store.current_revision().await.unwrap();
        for (key, ack) in &acked {
            let kv = store
                .get(key, None)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{key} lost in round {round}"));
            assert!(
                kv.mod_revision >= ack.revision,
                "{key}: acknowledged revision {} lost",
                ack.revision
            );
            if kv.mod_revision == ack.revision {
                assert_eq!(
                    String::from_utf8_lossy(&kv.value),
                    ack.value,
                    "{key}: value differs"
                );
            }
            assert!(current >= ack.revision, "revision counter went back");
        }
        // The history is whole: one event per revision, no gaps, nothing half-written.
        let mut watch = store.watch("/", 0).await.unwrap();
        for expected in 1..=current {
            let event = watch.next().await.unwrap().unwrap();
            assert_eq!(event.revision(), expected, "round {round}: history has a gap");
        }
        let listed = store.list("/crash/", ListOptions::default()).await.unwrap();
        assert_eq!(
            listed.items.len(),
            WRITERS * 8,
            "round {round}: every key present once"
        );
    }
}
