//! The printed report: one table (a column per backend), then the ratio lines and any problems.

use std::fmt::Write as _;
use std::time::Duration;

use crate::load::Cell;
use crate::{BackendResult, ROW_API_64, ROW_API_64_PER_CLIENT, ROW_H2_64, ROW_RAW_64, ROWS, Settings};

const STARTUP_TARGET: Duration = Duration::from_millis(200);
const IDLE_RSS_TARGET_MIB: f64 = 30.0;
const PODS_RSS_TARGET_MIB: f64 = 100.0;
const WATCH_P99_TARGET: Duration = Duration::from_millis(100);
const RATIO_TARGET: f64 = 0.70;
/// Server-side apply may cost at most this many times a plain update.
const APPLY_COST_TARGET: f64 = 2.0;

const METRIC: usize = 50;
const VALUE: usize = 28;

/// Load from other processes: the load average and Linux PSI "some" (avg10/avg60) for CPU and
/// I/O. On a busy machine the apiserver waits for a CPU and fsync is slow, so figures are noisy.
pub(crate) fn machine_load() -> String {
    let psi = |what: &str| -> Option<String> {
        let text = std::fs::read_to_string(format!("/proc/pressure/{what}")).ok()?;
        let some = text.lines().find(|line| line.starts_with("some "))?;
        let field = |name: &str| {
            some.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name))?
                .parse::<f64>()
                .ok()
        };
        Some(format!(
            "{what} {:.0}%/{:.0}%",
            field("avg10=")?,
            field("avg60=")?
        ))
    };
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok();
    let loadavg = loadavg
        .as_deref()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    let parts: Vec<String> = [
        loadavg.map(|l| format!("load average {l}")),
        psi("cpu"),
        psi("io"),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(", ")
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn memory(m: Option<(u64, u64)>) -> String {
    m.map_or_else(
        || "-".into(),
        |(rss, hwm)| format!("{:.1} MiB (peak {:.1})", mib(rss), mib(hwm)),
    )
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "MET",
        Some(false) => "NOT MET",
        None => "n/a",
    }
}

fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}

fn create_cell(cell: Option<&Cell>) -> String {
    match cell {
        Some(c) if !c.latencies.is_empty() => {
            format!("{:.0}/s  {}/{} ms", c.throughput(), ms(c.p(0.50)), ms(c.p(0.99)))
        }
        _ => "-".into(),
    }
}

fn cpu_cell(cell: Option<&Cell>) -> String {
    cell.and_then(Cell::cpu_per_op).map_or_else(
        || "-".into(),
        |[api, bench, etcd]| {
            format!(
                "{}|{}|{} us",
                api.as_micros(),
                bench.as_micros(),
                etcd.as_micros()
            )
        },
    )
}

/// apiserver creates/s over the raw store's at 64 writers, for the row `row`.
fn ratio(result: &BackendResult, row: usize) -> Option<f64> {
    let raw = result.cells.get(ROW_RAW_64)?.throughput();
    let api = result.cells.get(row)?.throughput();
    (raw > 0.0 && api > 0.0).then(|| api / raw)
}

pub(crate) fn render(
    settings: &Settings,
    load: &[String; 2],
    results: &[BackendResult],
    took: Duration,
) -> String {
    let mut out = String::new();
    let o = &mut out;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "rudder kube-apiserver benchmark: {} as a child process on 127.0.0.1; {cores} CPU(s) shared by the apiserver, etcd and this client; run took {:.0} s",
        crate::short_path(&settings.bin),
        took.as_secs_f64()
    );
    let _ = writeln!(
        o,
        "creates: ~1 KiB ConfigMaps, closed loop per client, {:.1} s per cell in {} slices alternating apiserver / raw store, each after {} ms warm-up; fsync on everywhere",
        settings.measure.as_secs_f64(),
        crate::ROUNDS,
        crate::SLICE_WARMUP.as_millis()
    );
    let _ = writeln!(
        o,
        "raw store = EmbeddedStore in a temp dir (in this process) / EtcdStore on the same etcd; kube-rs speaks HTTP/1.1 (one TLS connection per in-flight request)"
    );
    let _ = writeln!(
        o,
        "machine load (PSI some avg10/avg60) before the run: {}",
        load[0]
    );
    let _ = writeln!(o, "                                  after the run:  {}", load[1]);
    let _ = writeln!(o);

    let line = "-".repeat(METRIC + results.len() * (VALUE + 3) + 34);
    let row = |o: &mut String, metric: &str, values: Vec<String>, target: &str| {
        let _ = write!(o, "{metric:<METRIC$}");
        for v in values {
            let _ = write!(o, " | {v:<VALUE$}");
        }
        let _ = writeln!(o, " | {target}");
    };
    let each = |f: &dyn Fn(&BackendResult) -> String| results.iter().map(f).collect::<Vec<_>>();
    let verdicts = |f: &dyn Fn(&BackendResult) -> Option<bool>| {
        results
            .iter()
            .map(|r| verdict(f(r)))
            .collect::<Vec<_>>()
            .join(" / ")
    };

    let names: Vec<String> = results.iter().map(|r| r.name.to_string()).collect();
    row(o, "metric", names, "target (verdict per backend)");
    let _ = writeln!(o, "{line}");
    row(
        o,
        &format!("spawn -> /readyz 200: median of {} (max)", crate::STARTS),
        each(&|r| match (median(&r.startups), r.startups.iter().max()) {
            (Some(med), Some(max)) => format!("{:.3} s ({:.3})", med.as_secs_f64(), max.as_secs_f64()),
            _ => "-".into(),
        }),
        &format!(
            "median < {:.1} s: {}",
            STARTUP_TARGET.as_secs_f64(),
            verdicts(&|r| median(&r.startups).map(|m| m < STARTUP_TARGET))
        ),
    );
    row(
        o,
        "RSS idle after start",
        each(&|r| memory(r.idle_memory)),
        &format!(
            "RSS < {IDLE_RSS_TARGET_MIB:.0} MiB: {}",
            verdicts(&|r| r.idle_memory.map(|(rss, _)| mib(rss) < IDLE_RSS_TARGET_MIB))
        ),
    );
    row(
        o,
        &format!("RSS after {} pods", settings.pods),
        each(&|r| memory(r.pods_memory)),
        &format!(
            "RSS < {PODS_RSS_TARGET_MIB:.0} MiB: {}",
            verdicts(&|r| r
                .pods_memory
                .map(|(rss, _)| mib(rss) < PODS_RSS_TARGET_MIB && r.pods.created == settings.pods))
        ),
    );
    row(
        o,
        &format!("  pods created with {} clients", crate::POD_CONCURRENCY),
        each(&|r| {
            let secs = r.pods.elapsed.as_secs_f64();
            let rate = if secs > 0.0 {
                r.pods.created as f64 / secs
            } else {
                0.0
            };
            format!("{} in {secs:.1} s ({rate:.0}/s)", r.pods.created)
        }),
        "",
    );
    for (i, label) in ROWS.iter().enumerate() {
        row(
            o,
            &format!("create/s, p50/p99: {label}"),
            each(&|r| create_cell(r.cells.get(i))),
            "",
        );
    }
    for (label, i) in [
        ("api x64 shared", ROW_API_64),
        ("api x64 raw HTTP/2", ROW_H2_64),
        ("raw store x64", ROW_RAW_64),
    ] {
        row(
            o,
            &format!("  cpu/create {label} (api|bench|etcd)"),
            each(&|r| cpu_cell(r.cells.get(i))),
            "",
        );
    }
    for (i, plan) in settings.watches.iter().enumerate() {
        row(
            o,
            &format!(
                "watch: {} watchers, {}/s x {} s, {} B data: p50/p99 from commit",
                plan.watchers, plan.rate, plan.secs, plan.data_bytes
            ),
            each(&|r| match r.watches.get(i) {
                Some(w) if !w.from_commit.is_empty() => format!(
                    "{}/{} ms (max {})",
                    ms(w.p_commit(0.50)),
                    ms(w.p_commit(0.99)),
                    ms(w.p_commit(1.0))
                ),
                _ => "-".into(),
            }),
            &format!(
                "p99 < {} ms, all delivered: {}",
                WATCH_P99_TARGET.as_millis(),
                verdicts(&|r| r.watches.get(i).and_then(|w| {
                    let p99 = w.p_commit(0.99)?;
                    Some(
                        p99 < WATCH_P99_TARGET
                            && w.latencies.len() == w.expected
                            && w.from_commit.len() == w.expected
                            && w.expected > 0,
                    )
                }))
            ),
        );
        row(
            o,
            "  p50/p99 from the create call (write path included)",
            each(&|r| match r.watches.get(i) {
                Some(w) if !w.latencies.is_empty() => {
                    format!("{}/{} ms (max {})", ms(w.p(0.50)), ms(w.p(0.99)), ms(w.p(1.0)))
                }
                _ => "-".into(),
            }),
            "",
        );
        row(
            o,
            "  deliveries received / expected",
            each(&|r| {
                r.watches.get(i).map_or_else(
                    || "-".into(),
                    |w| format!("{} / {}", w.latencies.len(), w.expected),
                )
            }),
            "",
        );
        row(
            o,
            "  the creates' own latency p50/p99",
            each(&|r| {
                r.watches.get(i).map_or_else(
                    || "-".into(),
                    |w| {
                        let p = |q| crate::load::percentile(&w.write_latencies, q);
                        format!("{}/{} ms", ms(p(0.50)), ms(p(0.99)))
                    },
                )
            }),
            "",
        );
        row(
            o,
            "  write rate, bytes/event, watch setup time",
            each(&|r| {
                r.watches.get(i).map_or_else(
                    || "-".into(),
                    |w| {
                        let rate = w.writes_ok as f64 / w.writing.as_secs_f64().max(1e-9);
                        let per = w.bytes / (w.latencies.len() as u64).max(1);
                        format!("{rate:.0}/s, {per} B, {:.1} s", w.setup.as_secs_f64())
                    },
                )
            }),
            "",
        );
        row(
            o,
            "  cpu while writing+delivering (api|bench|etcd)",
            each(&|r| {
                r.watches.get(i).map_or_else(
                    || "-".into(),
                    |w| {
                        let wall = w.wall.as_secs_f64().max(1e-9);
                        let [a, b, e] = w.cpu.0.map(|d| d.as_secs_f64() / wall);
                        format!("{a:.2}|{b:.2}|{e:.2} cores, {wall:.1} s")
                    },
                )
            }),
            "",
        );
        // What one delivery costs the apiserver: unlike the latencies, hardly changed by other
        // processes taking the CPUs.
        row(
            o,
            "  apiserver CPU per delivery (writes included)",
            each(&|r| {
                r.watches.get(i).map_or_else(
                    || "-".into(),
                    |w| {
                        let deliveries = w.latencies.len().max(1) as f64;
                        format!("{:.2} us", w.cpu.0[0].as_secs_f64() * 1e6 / deliveries)
                    },
                )
            }),
            "",
        );
    }
    if settings.runs("apply") {
        apply_rows(o, results, &row, &verdicts);
    }
    row(o, "RSS at the end", each(&|r| memory(r.final_memory)), "");
    let _ = writeln!(o, "{line}");

    let _ = writeln!(
        o,
        "apiserver / raw store creates/s at 64 clients (target >= {:.0}%):",
        RATIO_TARGET * 100.0
    );
    for r in results {
        let pct = |row: usize| ratio(r, row).map_or_else(|| "-".into(), |x| format!("{:.0}%", x * 100.0));
        let _ = writeln!(
            o,
            "  {:<9} kube-rs shared Client {} {} ({:.0} vs {:.0}/s); one Client per writer {}; raw HTTP/2 {}",
            format!("{}:", r.name),
            pct(ROW_API_64),
            verdict(ratio(r, ROW_API_64).map(|x| x >= RATIO_TARGET)),
            r.cells.get(ROW_API_64).map_or(0.0, Cell::throughput),
            r.cells.get(ROW_RAW_64).map_or(0.0, Cell::throughput),
            pct(ROW_API_64_PER_CLIENT),
            pct(ROW_H2_64),
        );
    }

    if settings.runs("apply") {
        let _ = writeln!(
            o,
            "server-side apply / update of the same Deployment (target: apply costs <= {APPLY_COST_TARGET:.0}x):"
        );
        for r in results {
            let line = match r.apply.as_ref().and_then(crate::apply::cost_ratios) {
                Some((throughput, p99, cpu)) => format!(
                    "update/apply writes/s {throughput:.2}x, apply/update p99 {p99:.2}x, apiserver CPU per write {} {}",
                    cpu.map_or_else(|| "-".into(), |c| format!("{c:.2}x")),
                    verdict(apply_met(r))
                ),
                None => "-".into(),
            };
            let _ = writeln!(o, "  {:<9} {line}", format!("{}:", r.name));
        }
    }

    let mut problems = Vec::new();
    for r in results {
        problems.extend(r.problems.iter().map(|p| format!("{}: {p}", r.name)));
        if let Some(err) = &r.pods.first_error {
            problems.push(format!(
                "{}: pods: {} errors, first: {err}",
                r.name, r.pods.errors
            ));
        }
        for (label, cell) in ROWS.iter().zip(&r.cells) {
            if let Some(err) = &cell.first_error {
                problems.push(format!(
                    "{}: {label}: {} errors, first: {err}",
                    r.name, cell.errors
                ));
            }
        }
        if let Some(a) = &r.apply {
            for (label, cell) in [("apply", &a.apply), ("update", &a.update)] {
                if let Some(err) = &cell.first_error {
                    problems.push(format!(
                        "{}: {label}: {} errors, first: {err}",
                        r.name, cell.errors
                    ));
                }
            }
        }
        for (w, plan) in r.watches.iter().zip(&settings.watches) {
            let label = format!("watch {} B", plan.data_bytes);
            problems.extend(w.problems.iter().map(|p| format!("{}: {label}: {p}", r.name)));
        }
    }
    if !problems.is_empty() {
        let _ = writeln!(o, "\nproblems:");
        for p in problems {
            let _ = writeln!(o, "  {p}");
        }
    }
    out
}

/// Whether apply cost at most [`APPLY_COST_TARGET`] times an update, in throughput and p99.
fn apply_met(r: &BackendResult) -> Option<bool> {
    let a = r.apply.as_ref()?;
    let (throughput, p99, _) = crate::apply::cost_ratios(a)?;
    let clean = a.apply.errors == 0 && a.update.errors == 0;
    Some(clean && throughput <= APPLY_COST_TARGET && p99 <= APPLY_COST_TARGET)
}

type RowFn<'a> = dyn Fn(&mut String, &str, Vec<String>, &str) + 'a;
type VerdictsFn<'a> = dyn Fn(&dyn Fn(&BackendResult) -> Option<bool>) -> String + 'a;

/// The server-side apply rows (issue 4).
fn apply_rows(o: &mut String, results: &[BackendResult], row: &RowFn<'_>, verdicts: &VerdictsFn<'_>) {
    let each = |f: &dyn Fn(&crate::apply::ApplyOutcome) -> String| {
        results
            .iter()
            .map(|r| r.apply.as_ref().map_or_else(|| "-".into(), f))
            .collect::<Vec<_>>()
    };
    let fields = results
        .iter()
        .find_map(|r| r.apply.as_ref().map(|a| a.fields))
        .unwrap_or_default();
    let writers = crate::apply::WRITERS;
    row(
        o,
        &format!("apply (SSA) x{writers}, {fields}-field Deployment"),
        each(&|a| create_cell(Some(&a.apply))),
        &format!(
            "<= {APPLY_COST_TARGET:.0}x update: {}",
            verdicts(&|r| apply_met(r))
        ),
    );
    row(
        o,
        &format!("update (PUT) x{writers}, same Deployment"),
        each(&|a| create_cell(Some(&a.update))),
        "",
    );
    row(
        o,
        "  cpu/write apply (api|bench|etcd)",
        each(&|a| cpu_cell(Some(&a.apply))),
        "",
    );
    row(
        o,
        "  cpu/write update (api|bench|etcd)",
        each(&|a| cpu_cell(Some(&a.update))),
        "",
    );
}
