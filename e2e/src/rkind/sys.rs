//! Running host tools (`ip`, `ctr`, ...) and the cluster's long-lived processes: started in their
//! own process group with output to a log file, and stopped by their recorded PID only after
//! checking the PID still belongs to this cluster (its command line names the cluster's dir).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("{cmd}: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("{cmd} failed ({status}): {stderr}")]
    Failed {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SysError + '_ {
    move |source| SysError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion; its stdout on success, a typed error with stderr otherwise.
pub fn run(cmd: &mut Command) -> Result<String, SysError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| SysError::Spawn {
            cmd: describe(cmd),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(SysError::Failed {
            cmd: describe(cmd),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// `run` of a program with arguments.
pub fn cmd<I, S>(program: &str, args: I) -> Result<String, SysError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run(Command::new(program).args(args))
}

/// Like `cmd` but ignores failure (teardown of things that may already be gone).
pub fn cmd_quiet<I, S>(program: &str, args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let _ = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether `bin` is on PATH (or is an existing absolute path).
pub fn which(bin: &str) -> Option<PathBuf> {
    if bin.starts_with('/') {
        return Path::new(bin).exists().then(|| PathBuf::from(bin));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.is_file())
}

/// Starts a long-lived process detached from rkind (own process group, so rkind's exit or a
/// Ctrl-C in its terminal does not reach it), stdout and stderr appended to `log`.
pub fn spawn_daemon(mut command: Command, log: &Path) -> Result<u32, SysError> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(log))?;
    let err = file.try_clone().map_err(io_err(log))?;
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0);
    let child = command.spawn().map_err(|source| SysError::Spawn {
        cmd: describe(&command),
        source,
    })?;
    // The child is reaped by init once rkind exits; while rkind runs, `alive` treats a zombie as
    // gone. Dropping `Child` does not kill it.
    Ok(child.id())
}

/// Whether `pid` is a live (non-zombie) process whose command line mentions `marker`.
pub fn owned_and_alive(pid: u32, marker: &str) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // The state field follows the parenthesised command name.
    let zombie = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        .unwrap_or(false);
    if zombie {
        reap(pid);
        return false;
    }
    // A live process reads an empty command line while `execve` has switched to the new image
    // but not yet laid out its arguments (our processes exec through nsenter, unshare and sh):
    // read again until the arguments are there or the process is gone.
    for _ in 0..EXEC_RETRIES {
        match std::fs::read(proc_dir.join("cmdline")) {
            Ok(c) if c.is_empty() => std::thread::sleep(Duration::from_millis(1)),
            Ok(c) => return String::from_utf8_lossy(&c).contains(marker),
            Err(_) => return false,
        }
    }
    false
}

/// How often an empty command line is read again (a millisecond apart) before the process
/// counts as not ours.
const EXEC_RETRIES: usize = 200;

/// Collects our own exited child, if it is one (harmless otherwise).
fn reap(pid: u32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
    }
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Stops the processes (SIGTERM, then SIGKILL after `grace`) that still belong to the cluster.
pub fn stop_all(pids: &[u32], marker: &str, grace: Duration) {
    let ours: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| owned_and_alive(*p, marker))
        .collect();
    for p in &ours {
        signal(*p, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && ours.iter().any(|p| owned_and_alive(*p, marker)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in &ours {
        if owned_and_alive(*p, marker) {
            signal(*p, rustix::process::Signal::KILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && ours.iter().any(|p| owned_and_alive(*p, marker)) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// PIDs of processes whose command line mentions `marker` (containerd shims, which containerd
/// starts and which outlive it, name the node's socket under the cluster dir).
pub fn pids_mentioning(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| *pid != me && owned_and_alive(*pid, marker))
        .collect()
}

/// PIDs in the cgroup v1/v2 trees under `root` (the node's pods).
pub fn pids_in_cgroups(root: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    for c in controllers.flatten() {
        collect_procs(&c.path().join(root.trim_start_matches('/')), &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn collect_procs(dir: &Path, out: &mut Vec<u32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_procs(&e.path(), out);
            }
        }
    }
}

/// SIGKILLs the given PIDs (processes of this cluster's pods and shims).
pub fn kill_now(pids: &[u32]) {
    for p in pids {
        signal(*p, rustix::process::Signal::KILL);
    }
}

/// Removes `<controller>/<root>` and everything below it in every cgroup hierarchy.
pub fn remove_cgroups(root: &str) {
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for c in controllers.flatten() {
        let top = c.path().join(root.trim_start_matches('/'));
        if top.exists() {
            rmdir_tree(&top);
        }
    }
}

fn rmdir_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Lazily unmounts everything mounted under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .map(|p| p.replace("\\040", " "))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    for p in points {
        let _ = rustix::mount::unmount(p.as_str(), rustix::mount::UnmountFlags::DETACH);
    }
}

/// Whether we run as root (everything rkind does needs it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_stopped_only_when_they_carry_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let marker = dir.path().display().to_string();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30; :", &marker]);
        let pid = spawn_daemon(cmd, &log).unwrap();
        assert!(owned_and_alive(pid, &marker));
        assert!(
            !owned_and_alive(pid, "/some/other/cluster"),
            "another cluster's marker"
        );
        // Not ours: nothing is signalled.
        stop_all(&[pid], "/some/other/cluster", Duration::from_millis(100));
        assert!(owned_and_alive(pid, &marker));
        stop_all(&[pid], &marker, Duration::from_secs(2));
        assert!(!owned_and_alive(pid, &marker), "stopped (and reaped)");
        assert!(log.exists());
    }

    /// While a process is between `execve`'s switch to the new image and its argument setup, its
    /// `/proc/PID/cmdline` reads empty; a chain of execs (nsenter, unshare, sh, containerd) must
    /// not look like an exit.
    #[test]
    fn a_process_inside_exec_is_still_owned() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().display().to_string();
        let script = dir.path().join("chain.sh");
        std::fs::write(
            &script,
            "n=$2; if [ \"$n\" -gt 0 ]; then exec /bin/sh \"$0\" \"$1\" $((n - 1)); fi; exec /bin/sh -c 'sleep 0.2; :' \"$1\"\n",
        )
        .unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args([script.display().to_string(), marker.clone(), "300".into()]);
        let pid = spawn_daemon(cmd, &dir.path().join("chain.log")).unwrap();
        let started = Instant::now();
        while owned_and_alive(pid, &marker) {
            assert!(started.elapsed() < Duration::from_secs(60), "chain never ended");
        }
        // Only the end of the chain may end ownership: the process must be gone by now.
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        let running = state
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
        assert!(!running, "reported gone while alive: {state}");
    }

    #[test]
    fn failed_commands_carry_stderr() {
        let err = cmd("sh", ["-c", "echo nope >&2; exit 4"]).unwrap_err();
        assert!(
            matches!(&err, SysError::Failed { stderr, .. } if stderr == "nope"),
            "{err}"
        );
        assert_eq!(cmd("sh", ["-c", "echo yes"]).unwrap(), "yes\n");
    }
}
