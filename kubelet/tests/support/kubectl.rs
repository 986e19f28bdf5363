//! Stock kubectl as the kubelet's streaming tests drive it: the versioned binaries beside the
//! `kubectl` on PATH, run against a test apiserver with a private cache directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Kubectl {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
    pub cache: tempfile::TempDir,
    pub version: &'static str,
}

pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn of(out: std::process::Output) -> Out {
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Kubectl {
    pub fn new(bin: PathBuf, kubeconfig: &Path, version: &'static str) -> Kubectl {
        Kubectl {
            bin,
            kubeconfig: kubeconfig.to_path_buf(),
            cache: tempfile::tempdir().expect("cache dir"),
            version,
        }
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs to completion (30 s at most) with `stdin` as input, written while the output is
    /// read so that a large input does not wait on it.
    pub async fn run(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> Out {
        let mut child = self.command(args).spawn().expect("spawn kubectl");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.as_ref().to_vec();
        let writer = tokio::spawn(async move {
            let _ = input.write_all(&data).await;
        });
        let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {} {args:?} did not finish", self.version))
            .expect("kubectl output");
        let _ = writer.await;
        Out::of(out)
    }

    /// Runs `args` (a shell word list) under `script`, so that kubectl's stdin and stdout are
    /// a terminal; `None` where util-linux `script` is missing.
    pub async fn run_in_terminal(&self, args: &str) -> Option<Out> {
        let script = Path::new("/usr/bin/script");
        if !script.is_file() {
            eprintln!("SKIPPED exec -it: util-linux script is not installed");
            return None;
        }
        let line = format!(
            "{} --kubeconfig {} --cache-dir {} {args}",
            self.bin.display(),
            self.kubeconfig.display(),
            self.cache.path().display()
        );
        let mut cmd = tokio::process::Command::new(script);
        cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {} {args} in a terminal did not finish", self.version))
            .expect("script output");
        Some(Out::of(out))
    }

    /// Starts a long-running command and reads its stdout until `until` holds for what was
    /// read; returns it and kills the command.
    pub async fn read_until(&self, args: &[&str], until: impl Fn(&str) -> bool) -> String {
        let mut child = self.command(args).spawn().expect("spawn kubectl");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 4096];
        while !until(&seen) {
            match tokio::time::timeout_at(deadline, stdout.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                other => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(2), e.read_to_string(&mut err)).await;
                    }
                    panic!(
                        "kubectl {} {args:?}: stdout ended ({other:?}) after {seen:?}; stderr: {err}",
                        self.version
                    );
                }
            }
        }
        let _ = child.kill().await;
        seen
    }
}

/// The local port in kubectl port-forward's "Forwarding from 127.0.0.1:41234 -> 8080".
pub fn forwarded_port(line: &str) -> Option<u16> {
    line.split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// A plain HTTP/1.0 GET to a forwarded port on loopback; the whole answer (20 s at most).
pub async fn http_get(port: u16, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the forwarded port");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .expect("send request");
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_string(&mut out)).await;
    out
}
