//! `rkind create cluster`: network, control plane, nodes, add-ons, then wait for every node to
//! be Ready. Every object is recorded in the cluster's state as it is made; if any step fails,
//! everything made so far is removed again before the error is returned.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::binaries::{self, Binaries};
use super::components as comp;
use super::layout::Layout;
use super::plan::{self, NetworkPlan};
use super::spec::ClusterSpec;
use super::state::{self, Proc, State};
use super::sys::{self, SysError, io_err, spawn_daemon, which};
use super::{RkindError, addons, identity, images, net, preflight, wait};

/// How to create.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Print progress lines on stderr.
    pub progress: bool,
    /// How long to wait for all nodes Ready.
    pub wait: Duration,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            progress: true,
            wait: Duration::from_secs(60),
        }
    }
}

/// As kind's node config: every node shares the host's disk with whatever else is on it, so
/// the kubelet's default `nodefs.available<10%` would taint all nodes with DiskPressure (and
/// leave every pod Pending) on a dev machine with less than a tenth of its disk free.
const EVICTION_HARD: &str =
    "evictionHard:\n  nodefs.available: \"0%\"\n  nodefs.inodesFree: \"0%\"\n  imagefs.available: \"0%\"\n";

struct Progress {
    on: bool,
    start: Instant,
}

impl Progress {
    fn step(&self, msg: &str) {
        if self.on {
            eprintln!(" • {msg} ({:.2}s)", self.start.elapsed().as_secs_f64());
        }
    }
}

/// Creates the cluster and returns its state once every node is Ready.
pub async fn create(spec: &ClusterSpec, opts: &CreateOptions) -> Result<State, RkindError> {
    preflight::check(spec)?;
    let progress = Progress {
        on: opts.progress,
        start: Instant::now(),
    };
    if state::exists(&spec.name) {
        return Err(RkindError::Exists(spec.name.clone()));
    }
    let bins = binaries::locate(&|m| progress.step(m))?;
    let archives = images::build(&bins)?;
    progress.step(&format!("binaries from {}, images built", bins.dir.display()));

    // Choose a free network and make it under the root lock, so parallel creations never pick
    // the same one.
    let mut st;
    let plan;
    {
        let _lock = state::lock_root()?;
        if state::exists(&spec.name) {
            return Err(RkindError::Exists(spec.name.clone()));
        }
        let mut taken = state::taken_indices();
        taken.extend(net::indices_in_use());
        let index = plan::free_index(&taken).ok_or(RkindError::NoFreeIndex(plan::MAX_CLUSTERS))?;
        plan = plan::plan(&spec.name, index, spec.nodes)?;
        let dir = state::cluster_dir(&spec.name);
        std::fs::create_dir_all(dir.join("logs")).map_err(io_err(&dir))?;
        st = State {
            name: spec.name.clone(),
            index,
            nodes: plan.nodes.iter().map(|n| n.name.clone()).collect(),
            proxy_mode: Some(spec.proxy_mode),
            etcd: spec.etcd,
            ..Default::default()
        };
        st.save()?;
        if let Err(e) = net::create(&plan, &mut st) {
            undo(&st).await;
            return Err(e.into());
        }
    }
    progress.step(&format!(
        "network: bridge {} {}/{}, {} node namespaces",
        plan.bridge, plan.host_ip, plan.prefix_len, spec.nodes
    ));
    match bring_up(spec, opts, &plan, &bins, &archives, &mut st, &progress).await {
        Ok(()) => Ok(st),
        Err(e) => {
            progress.step(&format!("failed ({e}); removing what was created"));
            undo(&st).await;
            Err(e)
        }
    }
}

async fn undo(st: &State) {
    // The record on disk is the one delete reads; keep it in sync first.
    let _ = st.save();
    let _ = super::delete::delete_state(st).await;
}

fn start(
    st: &mut State,
    role: &str,
    node: Option<&str>,
    program: &str,
    args: &[String],
    log: PathBuf,
) -> Result<Proc, RkindError> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let pid = spawn_daemon(cmd, &log)?;
    let p = Proc {
        role: role.into(),
        node: node.map(String::from),
        pid,
        log,
    };
    st.processes.push(p.clone());
    st.save()?;
    Ok(p)
}

fn random_token() -> Result<String, SysError> {
    let path = Path::new("/dev/urandom");
    let mut buf = [0u8; 16];
    use std::io::Read;
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(io_err(path))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write(path: &Path, body: &str) -> Result<(), SysError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    std::fs::write(path, body).map_err(io_err(path))
}

async fn bring_up(
    spec: &ClusterSpec,
    opts: &CreateOptions,
    plan: &NetworkPlan,
    bins: &Binaries,
    archives: &[PathBuf],
    st: &mut State,
    progress: &Progress,
) -> Result<(), RkindError> {
    let layout = Layout::new(&st.dir());
    let marker = st.dir().display().to_string();
    let cni_bin = preflight::cni_bin_dir().unwrap_or("/usr/lib/cni");

    // Files first: the DNS add-on's token, and each node's containerd and kubelet config.
    let token = random_token()?;
    write(
        &layout.tokens(),
        &format!(
            "{token},{},rkind-dns,\"system:serviceaccounts,system:serviceaccounts:kube-system\"\n",
            addons::DNS_USER
        ),
    )?;
    for (i, node) in plan.nodes.iter().enumerate() {
        let n = layout.node(i);
        write(
            &n.containerd_config(),
            &comp::containerd_config(&n, node, cni_bin),
        )?;
        write(
            &n.kubelet_config(),
            &format!("{}{EVICTION_HARD}", comp::kubelet_config(&n)),
        )?;
        std::fs::create_dir_all(n.cni_conf_dir()).map_err(io_err(&n.dir))?;
        st.cgroup_roots.push(comp::cgroup_root(&spec.name, i));
        st.cri_endpoints.push(n.cri_endpoint());
    }
    st.save()?;

    // Control plane storage and apiserver, and every node's containerd, all at once.
    let mut control = Vec::new();
    if spec.etcd {
        let etcd = which("etcd").unwrap_or_else(|| PathBuf::from("etcd"));
        control.push(start(
            st,
            "etcd",
            None,
            &etcd.display().to_string(),
            &comp::etcd_args(plan, &layout),
            layout.log("etcd"),
        )?);
        // The apiserver exits when its store is unreachable at start, so etcd answers first.
        let addr = std::net::SocketAddr::from((plan.host_ip, 2379));
        wait::until(
            "etcd",
            Duration::from_secs(30),
            &control,
            &marker,
            || async move { Ok(tokio::net::TcpStream::connect(addr).await.is_ok()) },
        )
        .await?;
        progress.step("etcd answering");
    }
    let apiserver = bins.path("kube-apiserver").display().to_string();
    control.push(start(
        st,
        "kube-apiserver",
        None,
        &apiserver,
        &comp::apiserver_args(plan, &layout, spec.etcd),
        layout.log("kube-apiserver"),
    )?);
    let containerd = which("containerd").unwrap_or_else(|| PathBuf::from("containerd"));
    let mut runtimes = Vec::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        let n = layout.node(i);
        let (prog, args) =
            comp::containerd_command(&node.netns, &node.name, &containerd, &n.containerd_config());
        runtimes.push(start(
            st,
            "containerd",
            Some(&node.name),
            &prog,
            &args,
            n.log("containerd"),
        )?);
    }
    progress.step("control plane and node runtimes starting");

    // Images go into every containerd while the apiserver comes up.
    let sockets: Vec<PathBuf> = (0..plan.nodes.len())
        .map(|i| layout.node(i).containerd_socket())
        .collect();
    wait::until("containerd", Duration::from_secs(30), &runtimes, &marker, || {
        let sockets = sockets.clone();
        async move { Ok(sockets.iter().all(|s| s.exists())) }
    })
    .await?;
    let imports: Vec<_> = sockets
        .iter()
        .map(|s| {
            let (s, a) = (s.clone(), archives.to_vec());
            tokio::task::spawn_blocking(move || import_when_up(&s, &a))
        })
        .collect();

    // Scheduler and controller-manager once the apiserver answers. Whatever happens, the image
    // imports are joined before returning, so no `ctr` outlives a failed creation.
    let up = async {
        let client = wait_apiserver(&layout, &control, &marker).await?;
        progress.step(&format!("kube-apiserver ready at {}", plan.apiserver_url()));
        identity::write_all(&layout, plan)?;
        let bound = wait_controller_roles(&client, &control, &marker).await?;
        progress.step(&format!(
            "component identities issued; {bound} controller roles bound to the controller-manager"
        ));
        control.push(start(
            st,
            "kube-scheduler",
            None,
            &bins.path("kube-scheduler").display().to_string(),
            &comp::scheduler_args(plan, &layout),
            layout.log("kube-scheduler"),
        )?);
        control.push(start(
            st,
            "kube-controller-manager",
            None,
            &bins.path("kube-controller-manager").display().to_string(),
            &comp::controller_manager_args(plan, &layout),
            layout.log("kube-controller-manager"),
        )?);
        Ok::<_, RkindError>(client)
    }
    .await;
    let mut imported = Ok(());
    for task in imports {
        let r = task.await.map_err(|e| SysError::Failed {
            cmd: "import images".into(),
            status: "task".into(),
            stderr: e.to_string(),
        });
        if imported.is_ok() {
            imported = r.and_then(|r| r);
        }
    }
    let client = up?;
    imported?;
    progress.step("images loaded into every node");

    let mut node_procs = runtimes.clone();
    for (i, node) in plan.nodes.iter().enumerate() {
        let (prog, args) = comp::in_node(
            &node.netns,
            &bins.path("kubelet"),
            &comp::kubelet_args(node, &spec.name, i, &layout),
        );
        node_procs.push(start(
            st,
            "kubelet",
            Some(&node.name),
            &prog,
            &args,
            layout.node(i).log("kubelet"),
        )?);
        let (prog, args) = comp::in_node(
            &node.netns,
            &bins.path("kube-proxy"),
            &comp::proxy_args(node, plan, &layout, spec.proxy_mode),
        );
        node_procs.push(start(
            st,
            "kube-proxy",
            Some(&node.name),
            &prog,
            &args,
            layout.node(i).log("kube-proxy"),
        )?);
    }
    progress.step("kubelets and kube-proxies starting");

    let ca_path = layout.pki().join("ca.crt");
    let ca = std::fs::read_to_string(&ca_path).map_err(io_err(&ca_path))?;
    addons::apply_dns(
        &client,
        &addons::dns_kubeconfig(&plan.apiserver_url(), &ca, &token),
    )
    .await?;
    progress.step("cluster DNS add-on applied (kube-system/rudder-dns, Service 10.96.0.10)");

    let all: Vec<Proc> = control.iter().chain(node_procs.iter()).cloned().collect();
    let names = st.nodes.clone();
    wait::until("all nodes Ready", opts.wait, &all, &marker, || {
        let (client, names) = (client.clone(), names.clone());
        async move { wait::nodes_ready(&client, &names).await.map(|(r, t)| r == t) }
    })
    .await?;
    if let Some(kubectl) = which("kubectl") {
        sys::run(
            Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(layout.kubeconfig())
                .args(["get", "nodes"]),
        )?;
    }
    progress.step(&format!("{} nodes Ready, kubectl get nodes answers", names.len()));
    st.ready = true;
    st.save()?;
    Ok(())
}

/// Binds the controller roles once the apiserver's default policy lists them (checked by one
/// a running cluster cannot do without: the replicaset controller's).
async fn wait_controller_roles(
    client: &kube::Client,
    control: &[Proc],
    marker: &str,
) -> Result<usize, RkindError> {
    let bound = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    wait::until(
        "default RBAC policy",
        Duration::from_secs(60),
        control,
        marker,
        || {
            let (client, bound) = (client.clone(), bound.clone());
            async move {
                let names = identity::bind_controller_roles(&client)
                    .await
                    .map_err(|e| e.to_string())?;
                bound.store(names.len(), std::sync::atomic::Ordering::SeqCst);
                Ok(names.iter().any(|n| n == "replicaset-controller"))
            }
        },
    )
    .await?;
    Ok(bound.load(std::sync::atomic::Ordering::SeqCst))
}

/// Waits for the apiserver's admin kubeconfig (written once its PKI exists), copies it for the
/// other components and users, and retries until a client built from the copy gets an answer.
async fn wait_apiserver(layout: &Layout, control: &[Proc], marker: &str) -> Result<kube::Client, RkindError> {
    let admin = layout.admin_kubeconfig();
    let kubeconfig = layout.kubeconfig();
    let client_slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    wait::until("kube-apiserver", Duration::from_secs(30), control, marker, || {
        let (admin, kubeconfig, slot) = (admin.clone(), kubeconfig.clone(), client_slot.clone());
        async move {
            if !admin.exists() {
                return Ok(false);
            }
            std::fs::copy(&admin, &kubeconfig).map_err(|e| e.to_string())?;
            let client = wait::client(&kubeconfig).await.map_err(|e| e.to_string())?;
            client.apiserver_version().await.map_err(|e| e.to_string())?;
            if let Ok(mut s) = slot.lock() {
                *s = Some(client);
            }
            Ok(true)
        }
    })
    .await?;
    client_slot
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| RkindError::Preflight("apiserver client lost".into()))
}

/// Imports once the socket answers (the socket file appears slightly before containerd serves).
fn import_when_up(socket: &Path, archives: &[PathBuf]) -> Result<(), SysError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match sys::cmd(
            "ctr",
            ["--address".as_ref(), socket.as_os_str(), "version".as_ref()],
        ) {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    images::import(socket, archives)
}
