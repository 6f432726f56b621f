//! BBS hub fan-out over the real HTTP endpoint on loopback, the server in a child process.
//!
//! The server (hub, SSE endpoint and an emitter thread) runs in a child process of this binary
//! (`--serve`), so that its CPU time and memory are its own accounting (`/proc/self/stat`,
//! `VmRSS`). The readers are raw sockets in this process that only split the stream into events
//! and read the emit stamp (wall-clock nanoseconds in the crash event's `since`) of one event in
//! `SAMPLE`; no flowgate client is in the loop, so the client's cost is not measured as the
//! server's.
//!
//! Reported: the RSS per idle subscriber; at 1,000 subscribers a step search over 250, 500,
//! 1,000, 2,000 and 4,000 events/s (stopping at the first step that loses an event), each step
//! with delivered/s, delivery %, p50/p99 emit-to-receive latency, subscribers cut off and server
//! CPU-seconds per million deliveries; and the same at 10,000 subscribers × 100 events/s (as
//! far as the descriptor limit allows). With `--baseline PATH`, the same figures for the server
//! of another build of this binary (e.g. before a hub change), in the same run, and the ratios.
//! `--quick` runs 100 subscribers (1,000 for the wide case) and 2 s steps; `--help` lists the
//! other options (rates, step length, repeats, the hub's notify interval).

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bbs_events::server::{Hub, Server};
use flowgate_benches::bbs::{stamp_of_base64, stamped_crash};
use flowgate_benches::report::Report;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;

/// One event in this many has its latency measured (decoding each would load the readers).
const SAMPLE: u64 = 16;
/// The step search's rates at 1,000 subscribers.
const RATES: [u64; 5] = [250, 500, 1_000, 2_000, 4_000];
/// The longest wait for the last events of a step to arrive, and how long delivery may make no
/// progress before the wait ends early.
const DRAIN: Duration = Duration::from_secs(15);
const STALLED: Duration = Duration::from_secs(1);

const USAGE: &str = "\
usage: scenario-bbs_fanout [--quick] [--baseline PATH] [--rates R,R,..] [--step-secs S]
                           [--repeat N] [--subscribers N] [--wide N] [--no-wide]
                           [--notify-interval-ms MS]

  --quick               100 subscribers (1,000 wide) and 2 s steps
  --baseline PATH       also measure the server of another build of this binary (e.g. of the
                        old hub), in the same run, and report the ratios
  --rates R,R,..        the step search's rates at the narrow count (250,500,1000,2000,4000)
  --step-secs S         seconds of emitting per step (5; 2 with --quick)
  --repeat N            run each step N times and report the median of each figure (1)
  --subscribers N       the step search's subscribers (1,000; 100 with --quick)
  --wide N              the wide run's subscribers at 100 ev/s (10,000; 1,000 with --quick)
  --no-wide             skip the wide run
  --notify-interval-ms  this build's hub notify interval (the hub's default otherwise)
";

/// The command line.
struct Options {
    baseline: Option<String>,
    rates: Vec<u64>,
    step: Duration,
    repeat: usize,
    narrow: usize,
    wide: Option<usize>,
    notify_interval_ms: Option<String>,
}

impl Options {
    fn parse() -> Options {
        let quick = flowgate_benches::report::quick();
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .map(|i| args.get(i + 1).cloned().unwrap_or_else(|| usage(name)))
        };
        let number =
            |name: &str| value(name).map(|v| v.parse::<u64>().unwrap_or_else(|_| usage(name)));
        let rates = value("--rates").map_or_else(
            || RATES.to_vec(),
            |v| {
                v.split(',')
                    .map(|r| r.trim().parse().unwrap_or_else(|_| usage("--rates")))
                    .collect()
            },
        );
        let wide = number("--wide").unwrap_or(if quick { 1_000 } else { 10_000 }) as usize;
        Options {
            baseline: value("--baseline"),
            rates,
            step: Duration::from_secs(number("--step-secs").unwrap_or(if quick { 2 } else { 5 })),
            repeat: number("--repeat").unwrap_or(1).max(1) as usize,
            narrow: number("--subscribers").unwrap_or(if quick { 100 } else { 1_000 }) as usize,
            wide: (!args.iter().any(|a| a == "--no-wide")).then_some(wide),
            notify_interval_ms: value("--notify-interval-ms"),
        }
    }
}

fn usage(option: &str) -> ! {
    eprint!("bad or missing value for {option}\n{USAGE}");
    std::process::exit(2);
}

fn main() {
    if std::env::args().any(|a| a == "--serve") {
        serve();
        return;
    }
    let options = Options::parse();
    let own = std::env::current_exe().expect("own path");
    println!(
        "bbs_fanout: server in a child process, raw socket readers, {:?} per step, {} run(s) \
         per step (median); descriptor limit {}",
        options.step,
        options.repeat,
        nofile_limit()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut report = Report::new("bbs_fanout");
    let mut servers = vec![Target {
        label: "",
        path: own.to_string_lossy().into_owned(),
        notify_interval_ms: options.notify_interval_ms.clone(),
    }];
    if let Some(path) = &options.baseline {
        servers.push(Target {
            label: "baseline: ",
            path: path.clone(),
            notify_interval_ms: None,
        });
    }
    let mut best = Vec::new();
    for target in &servers {
        let found = runtime.block_on(step_search(target, &options, &mut report));
        best.push(found);
        if let Some(wide) = options.wide {
            runtime.block_on(wide_run(target, &options, wide, &mut report));
        }
    }
    // Ratios only when the baseline delivered some step in full.
    if let [(new_rate, new_cpu), (old_rate @ 1.., old_cpu)] = best[..] {
        report.add(
            "highest rate at 100%: this / baseline",
            new_rate as f64 / old_rate.max(1) as f64,
            "x",
            "(report)",
        );
        report.add(
            "server CPU per delivery at it: baseline / this",
            old_cpu / new_cpu,
            "x",
            "(report)",
        );
    }
    report.write_json();
}

/// A server build to measure.
struct Target {
    label: &'static str,
    path: String,
    notify_interval_ms: Option<String>,
}

/// The step search at the narrow count; returns the highest rate delivered in full and the
/// server CPU per million deliveries at it.
async fn step_search(target: &Target, options: &Options, report: &mut Report) -> (u64, f64) {
    let label = target.label;
    let subscribers = options.narrow;
    let mut best = (0, f64::NAN);
    for (i, &rate) in options.rates.iter().enumerate() {
        let mut runs = Vec::new();
        for _ in 0..options.repeat {
            let mut run = Run::start(target, subscribers).await;
            if i == 0 && runs.is_empty() {
                report.add(
                    &format!("{label}server RSS per idle subscriber ({subscribers})"),
                    run.rss_per_subscriber,
                    "KiB",
                    "<= 16",
                );
            }
            runs.push(run.emit(rate, options.step).await);
            run.stop().await;
        }
        let figures = Figures::median(&runs);
        figures.report(report, &format!("{label}{subscribers} subs x {rate}/s: "));
        if figures.delivery < 100.0 || figures.cut_off > 0 {
            break;
        }
        best = (rate, figures.cpu_per_million);
    }
    report.add(
        &format!("{label}highest rate with 100% delivery ({subscribers} subs)"),
        best.0 as f64,
        "ev/s",
        ">= 2000",
    );
    best
}

async fn wide_run(target: &Target, options: &Options, subscribers: usize, report: &mut Report) {
    let label = target.label;
    let mut run = Run::start(target, subscribers).await;
    report.add(
        &format!("{label}server RSS per idle subscriber ({})", run.readers),
        run.rss_per_subscriber,
        "KiB",
        "<= 16",
    );
    let figures = run.emit(100, options.step).await;
    figures.report(report, &format!("{label}{} subs x 100/s: ", run.readers));
    run.stop().await;
}

/// One child server and its readers.
struct Run {
    child: Child,
    commands: ChildStdin,
    answers: BufReader<ChildStdout>,
    readers: usize,
    rss_per_subscriber: f64,
    counts: Arc<Counts>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    /// Streams that ended before the run stopped them: subscribers cut off.
    ended: AtomicUsize,
    histogram: Histogram,
}

#[derive(Clone, Copy)]
struct Figures {
    delivered_per_s: f64,
    delivery: f64,
    cut_off: usize,
    p50_ms: f64,
    p99_ms: f64,
    cpu_per_million: f64,
    /// The server's write system calls (`syscw` in `/proc/PID/io`) per delivery.
    writes_per_delivery: f64,
}

impl Figures {
    /// Each figure's median over `runs` (taken figure by figure).
    fn median(runs: &[Figures]) -> Figures {
        let of = |get: fn(&Figures) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(get).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Figures {
            delivered_per_s: of(|f| f.delivered_per_s),
            delivery: of(|f| f.delivery),
            cut_off: of(|f| f.cut_off as f64) as usize,
            p50_ms: of(|f| f.p50_ms),
            p99_ms: of(|f| f.p99_ms),
            cpu_per_million: of(|f| f.cpu_per_million),
            writes_per_delivery: of(|f| f.writes_per_delivery),
        }
    }

    fn report(&self, report: &mut Report, prefix: &str) {
        report.add(
            &format!("{prefix}delivered/s"),
            self.delivered_per_s,
            "ev/s",
            "(report)",
        );
        report.add(&format!("{prefix}delivered"), self.delivery, "%", "100");
        report.add(
            &format!("{prefix}cut off as slow"),
            self.cut_off as f64,
            "count",
            "0",
        );
        report.add(
            &format!("{prefix}latency p50"),
            self.p50_ms,
            "ms",
            "(report)",
        );
        report.add(&format!("{prefix}latency p99"), self.p99_ms, "ms", "< 100");
        report.add(
            &format!("{prefix}server CPU per 1M deliveries"),
            self.cpu_per_million,
            "CPU-s",
            "<= 0.3",
        );
        report.add(
            &format!("{prefix}server write syscalls per delivery"),
            self.writes_per_delivery,
            "count",
            "(report)",
        );
    }
}

impl Run {
    async fn start(target: &Target, subscribers: usize) -> Run {
        let mut command = Command::new(&target.path);
        command.arg("--serve");
        if let Some(ms) = &target.notify_interval_ms {
            command.args(["--notify-interval-ms", ms]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let commands = child.stdin.take().expect("stdin");
        let answers = BufReader::new(child.stdout.take().expect("stdout"));
        let mut run = Run {
            child,
            commands,
            answers,
            readers: 0,
            rss_per_subscriber: f64::NAN,
            counts: Arc::default(),
            tasks: Vec::new(),
        };
        let addr = run.ask("addr");
        let rss_before: f64 = run.ask("rss").parse().expect("rss");
        for _ in 0..subscribers {
            let Ok(stream) = tokio::net::TcpStream::connect(&addr).await else {
                // Descriptors ran out: measure with the readers there are.
                break;
            };
            let counts = Arc::clone(&run.counts);
            run.tasks.push(tokio::spawn(read_events(stream, counts)));
            run.readers += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while run.ask("count").parse::<usize>().expect("count") < run.readers {
            assert!(
                Instant::now() < deadline,
                "subscribers did not connect in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rss_after: f64 = run.ask("rss").parse().expect("rss");
        run.rss_per_subscriber = (rss_after - rss_before) / run.readers.max(1) as f64 / 1024.0;
        run
    }

    /// Sends a command to the server process and returns its one-line answer.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.commands, "{command}").expect("command");
        self.commands.flush().expect("command");
        let mut line = String::new();
        self.answers.read_line(&mut line).expect("answer");
        line.trim().to_owned()
    }

    async fn emit(&mut self, rate: u64, duration: Duration) -> Figures {
        let cpu_before: f64 = self.ask("cpu").parse().expect("cpu");
        let writes_before = self.write_syscalls();
        let delivered_before = self.counts.delivered.load(Ordering::Relaxed);
        let start = Instant::now();
        let emitted: u64 = self
            .ask(&format!("emit {rate} {}", duration.as_millis()))
            .parse()
            .expect("emitted");
        let ended_before_drain = self.counts.ended.load(Ordering::Relaxed);
        let target = emitted * (self.readers - ended_before_drain) as u64;
        let drain_until = Instant::now() + DRAIN;
        let mut last = Instant::now();
        let mut seen = 0;
        loop {
            let delivered = self.counts.delivered.load(Ordering::Relaxed) - delivered_before;
            if delivered > seen {
                seen = delivered;
                last = Instant::now();
            }
            let now = Instant::now();
            if delivered >= target || now >= drain_until || now - last >= STALLED {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = last
            .max(start + duration)
            .duration_since(start)
            .as_secs_f64();
        let cpu_after: f64 = self.ask("cpu").parse().expect("cpu");
        let writes = self.write_syscalls() - writes_before;
        let delivered = self.counts.delivered.load(Ordering::Relaxed) - delivered_before;
        let h = &self.counts.histogram;
        Figures {
            delivered_per_s: delivered as f64 / elapsed,
            delivery: 100.0 * delivered as f64 / (emitted as f64 * self.readers as f64),
            cut_off: self.counts.ended.load(Ordering::Relaxed),
            p50_ms: h.quantile_ms(0.50),
            p99_ms: h.quantile_ms(0.99),
            cpu_per_million: (cpu_after - cpu_before) / (delivered.max(1) as f64 / 1e6),
            writes_per_delivery: writes / delivered.max(1) as f64,
        }
    }

    /// The server process's write system calls so far (the kernel's count, `syscw`).
    fn write_syscalls(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/io", self.child.id()))
            .ok()
            .and_then(|io| {
                io.lines()
                    .find_map(|l| l.strip_prefix("syscw:"))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(f64::NAN)
    }

    async fn stop(mut self) {
        let _ = self.ask("quit");
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let _ = self.child.wait();
    }
}

/// A raw reader: sends the subscription request, then counts `id:` lines and reads the stamp
/// of every `SAMPLE`th event's `data:` line. Chunk framing lines (sizes, CRLF) are skipped as
/// lines that are neither; events may arrive one per chunk or many per chunk.
async fn read_events(mut stream: tokio::net::TcpStream, counts: Arc<Counts>) {
    let request =
        b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        counts.ended.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    // The start of a line that a read cut off.
    let mut carry = Vec::with_capacity(1024);
    let mut sampled = false;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let data = &buf[..n];
        let mut events = 0;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            let line = if carry.is_empty() {
                &data[start..end]
            } else {
                carry.extend_from_slice(&data[start..end]);
                &carry[..]
            };
            start = end + 1;
            if let Some(id) = line.strip_prefix(b"id: ") {
                events += 1;
                let id = std::str::from_utf8(id)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok());
                sampled = id.is_some_and(|id| id % SAMPLE == 0);
            } else if sampled {
                if let Some(b64) = line.strip_prefix(b"data: ") {
                    sampled = false;
                    if let Some(stamp) = stamp_of_base64(b64) {
                        let micros = (now_nanos() - stamp).max(0) / 1000;
                        counts.histogram.record(micros as u64);
                    }
                }
            }
            carry.clear();
        }
        carry.extend_from_slice(&data[start..]);
        counts.delivered.fetch_add(events, Ordering::Relaxed);
    }
    counts.ended.fetch_add(1, Ordering::Relaxed);
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Latency histogram: 10 µs buckets up to 10 s, then one overflow bucket.
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 1_000_000;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    fn record(&self, micros: u64) {
        let i = ((micros / BUCKET_US) as usize).min(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let target = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        f64::INFINITY
    }
}

fn nofile_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The server process: a hub, the SSE endpoint and an emitter thread, driven by one-line
/// commands on stdin (`addr`, `rss`, `cpu`, `count`, `emit RATE MILLIS`, `quit`), each answered
/// with one line on stdout.
fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().collect();
    let mut hub = Hub::builder();
    if let Some(ms) = args
        .iter()
        .position(|a| a == "--notify-interval-ms")
        .and_then(|i| args.get(i + 1)?.parse::<u64>().ok())
    {
        hub = hub.notify_interval(Duration::from_millis(ms));
    }
    let hub = hub.build();
    let shutdown = CancellationToken::new();
    let server = runtime.block_on(async {
        Server::builder(hub.clone())
            .max_connections(50_000)
            .max_subscribers(50_000)
            .bind("127.0.0.1:0")
            .await
            .expect("bind")
    });
    let addr = server.local_addr();
    let running = runtime.spawn(server.run(shutdown.clone()));
    let mut seq = 0u64;
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["addr"] => addr.to_string(),
            ["rss"] => rss_bytes().to_string(),
            ["cpu"] => cpu_seconds().to_string(),
            ["count"] => hub.subscriber_count().to_string(),
            ["emit", rate, millis] => {
                let rate: u64 = rate.parse().expect("rate");
                let millis: u64 = millis.parse().expect("millis");
                let emitted = emit_for(&hub, &mut seq, rate, Duration::from_millis(millis));
                emitted.to_string()
            }
            ["quit"] => break,
            _ => "unknown command".to_owned(),
        };
        println!("{answer}");
    }
    hub.close();
    shutdown.cancel();
    let _ = runtime.block_on(running);
    println!("stopped");
}

/// Emits `rate` stamped events per second for `duration` from this (non-runtime) thread, as an
/// application would; returns how many.
fn emit_for(hub: &Hub, seq: &mut u64, rate: u64, duration: Duration) -> u64 {
    let start = Instant::now();
    let mut emitted = 0;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while emitted < due {
            if hub.emit(stamped_crash(*seq, now_nanos())).is_err() {
                return emitted;
            }
            *seq += 1;
            emitted += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    emitted
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The process's user and system CPU time, from `/proc/self/stat` (in clock ticks of 1/100 s,
/// Linux's fixed `USER_HZ`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 (from 0) after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}
