//! The OS boundary: every iptables/nft/conntrack command goes through an [`Executor`], so the
//! backends are unit-tested against [`FakeExecutor`] and run for real on the host or inside a
//! network namespace ([`CommandExecutor::in_netns`]).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use parking_lot::Mutex;

/// A command failed to start or exited non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("starting {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} {args} exited with {code:?}: {stderr}")]
    Failed {
        program: String,
        args: String,
        code: Option<i32>,
        stderr: String,
    },
}

impl ExecError {
    /// The exit code, when the command ran and failed.
    pub fn code(&self) -> Option<i32> {
        match self {
            ExecError::Failed { code, .. } => *code,
            ExecError::Spawn { .. } => None,
        }
    }
}

/// Runs one program with arguments and optional stdin; returns stdout.
pub trait Executor: Send + Sync + std::fmt::Debug {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ExecError>;
}

/// Runs real commands, optionally inside a named network namespace (`ip netns exec NAME`).
#[derive(Clone, Debug, Default)]
pub struct CommandExecutor {
    netns: Option<String>,
}

impl CommandExecutor {
    /// Commands on this host's (current) network namespace.
    pub fn host() -> Self {
        Self { netns: None }
    }

    /// Commands inside `ip netns` namespace `name`.
    pub fn in_netns(name: impl Into<String>) -> Self {
        Self {
            netns: Some(name.into()),
        }
    }
}

impl Executor for CommandExecutor {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ExecError> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_err = |source| ExecError::Spawn {
            program: program.to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A child that exits early closes the pipe; its exit status tells the real story.
            let _ = pipe.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(ExecError::Failed {
                program: program.to_string(),
                args: args.join(" "),
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }
}

/// One recorded call of the [`FakeExecutor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<String>,
}

type Responder = Box<dyn Fn(&Call) -> Result<String, ExecError> + Send + Sync>;

/// Records every call; answers through a responder (default: success with empty output).
#[derive(Clone, Default)]
pub struct FakeExecutor {
    calls: Arc<Mutex<Vec<Call>>>,
    responder: Arc<Mutex<Option<Responder>>>,
}

impl std::fmt::Debug for FakeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeExecutor")
            .field("calls", &self.calls.lock().len())
            .finish()
    }
}

impl FakeExecutor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer every later call with `f`.
    pub fn respond(&self, f: impl Fn(&Call) -> Result<String, ExecError> + Send + Sync + 'static) {
        *self.responder.lock() = Some(Box::new(f));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    /// Stdin of every call to `program`, in order.
    pub fn inputs_of(&self, program: &str) -> Vec<String> {
        self.calls
            .lock()
            .iter()
            .filter(|c| c.program == program)
            .filter_map(|c| c.stdin.clone())
            .collect()
    }

    pub fn clear(&self) {
        self.calls.lock().clear();
    }
}

impl Executor for FakeExecutor {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ExecError> {
        let call = Call {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: stdin.map(str::to_string),
        };
        self.calls.lock().push(call.clone());
        match self.responder.lock().as_ref() {
            Some(f) => f(&call),
            None => Ok(String::new()),
        }
    }
}
