//! `make bench-scheduler`: scheduling throughput and memory at scale.
//!
//! 1. An in-process kube-apiserver on the embedded store (rudder-testkit) gets N Node objects
//!    (default 5,000; 32 cpu / 128 GiB / 110 pods each) and M pending pods (default 30,000;
//!    100m cpu / 128 MiB), created concurrently.
//! 2. Decision rate: the scheduling algorithm alone (default profile, PreFilter → Filter over
//!    the sampled nodes → Score → pick, then assume into the cache and refresh the snapshot, as
//!    the scheduling loop does) over the same nodes and pods, in this process, without API writes.
//! 3. End to end: the release `kube-scheduler` binary runs as a child process against that
//!    apiserver (`--leader-elect=false --secure-port=0`, client QPS/burst 5000 as upstream's
//!    scheduler_perf); a watch counts pods bound. Reported from the child's start (incl. its
//!    initial list of every pod) and from first to last bind.
//! 4. The child's peak RSS (VmHWM from /proc) — the scheduler's own memory, not the apiserver's.
//!
//! Knobs: `RUDDER_BENCH_NODES`, `RUDDER_BENCH_PODS`, `RUDDER_BENCH_TIMEOUT_SECS` (default 600).
//! The child is killed by PID at the end (also on failure).

#[path = "scheduler/decide.rs"]
mod decide;
#[path = "scheduler/process.rs"]
mod process;
#[path = "scheduler/setup.rs"]
mod setup;

use std::time::{Duration, Instant};

use anyhow::Context;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "NOT MET" }
}

fn main() -> anyhow::Result<()> {
    let nodes = env_usize("RUDDER_BENCH_NODES", 5_000);
    let pods = env_usize("RUDDER_BENCH_PODS", 30_000);
    let timeout = Duration::from_secs(env_usize("RUDDER_BENCH_TIMEOUT_SECS", 600) as u64);
    let binary = process::scheduler_binary()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        println!("bench-scheduler: {nodes} nodes, {pods} pending pods");
        let server = rudder_testkit::TestApiServer::start().await;
        let t = Instant::now();
        setup::create_nodes(&server.client, nodes).await?;
        println!("  created {nodes} nodes in {:.1}s", t.elapsed().as_secs_f64());
        let t = Instant::now();
        setup::create_pods(&server.client, pods).await?;
        println!("  created {pods} pods in {:.1}s", t.elapsed().as_secs_f64());

        let decision = decide::measure(&server.client).await?;
        println!(
            "  decision: {} pods in {:.2}s ({} feasible-node checks/pod on average)",
            decision.pods,
            decision.elapsed.as_secs_f64(),
            decision.avg_evaluated
        );

        let e2e = process::run_end_to_end(&binary, &server, pods, timeout).await?;

        let rate = decision.pods as f64 / decision.elapsed.as_secs_f64();
        let rss_mb = e2e.peak_rss_kib as f64 / 1024.0;
        println!();
        println!("{:<58} {:>12} {:>10}  verdict", "figure", "value", "target");
        println!(
            "{:<58} {:>12.0} {:>10}  {}",
            "decision rate, algorithm only (pods/s)",
            rate,
            ">= 1000",
            verdict(rate >= 1000.0)
        );
        println!(
            "{:<58} {:>12.0} {:>10}  {}",
            "end-to-end bound via apiserver, first to last bind (pods/s)",
            e2e.steady_rate,
            ">= 500",
            verdict(e2e.steady_rate >= 500.0)
        );
        println!(
            "{:<58} {:>12.0} {:>10}  {}",
            "end-to-end incl. scheduler start and initial list (pods/s)",
            e2e.total_rate,
            ">= 500",
            verdict(e2e.total_rate >= 500.0)
        );
        println!(
            "{:<58} {:>12.1} {:>10}  {}",
            "kube-scheduler peak RSS, separate process (MB)",
            rss_mb,
            "< 150",
            verdict(rss_mb < 150.0)
        );
        println!(
            "  ({} of {pods} pods bound; scheduler log: {} lines)",
            e2e.bound, e2e.log_lines
        );
        anyhow::Ok(())
    })
}
