//! Latency samples, percentiles and the side-by-side table with ratios against the server.

use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    pub fn push(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `percentile`th latency (nearest rank).
    pub fn p(&self, percentile: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.samples.clone();
        sorted.sort();
        let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

/// `clients` concurrent loops over `items` for `seconds` (client c takes items c, c + clients, …);
/// the latency of each call that succeeds is a sample. Returns samples and calls per second.
pub async fn drive<'a, T, F, Fut>(items: &'a [T], clients: usize, seconds: u64, call: F) -> (Latencies, f64)
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let call = &call;
    let runs = (0..clients).map(|c| async move {
        let mut latencies = Latencies::default();
        let mut n = c;
        while Instant::now() < deadline && !items.is_empty() {
            let item = &items[n % items.len()];
            n += clients;
            let started = Instant::now();
            if call(item).await {
                latencies.push(started.elapsed());
            }
        }
        latencies
    });
    let started = Instant::now();
    let all = futures_util::future::join_all(runs).await;
    merge(all, started.elapsed())
}

/// Join the clients' samples; throughput over the wall-clock time of the run.
pub fn merge(parts: Vec<Latencies>, elapsed: Duration) -> (Latencies, f64) {
    let mut all = Latencies::default();
    for part in parts {
        all.samples.extend(part.samples);
    }
    let rate = all.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    (all, rate)
}

pub fn ms(duration: Duration) -> String {
    ms_f64(duration.as_secs_f64())
}

pub fn ms_f64(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

/// CPU time (user + system, all threads) a process has used so far, from `/proc/{pid}/stat`
/// in clock ticks of 1/100 s (USER_HZ, 100 on Linux x86-64 and arm64); 0 when unreadable.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line; field 3 is the first after the name.
    let ticks = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Rows: (system, clients, latencies, queries/s). Ratios compare each row with the server at
/// the same number of clients: latency ratio = other / server (above 1: the server is faster),
/// throughput share = server / other.
pub fn print_table(rows: &[(String, usize, Latencies, f64)]) {
    println!("\nfiltered search (policy filter in every query; limit 20)");
    println!(
        "{:<26} {:>7} {:>10} {:>10} {:>10} {:>14} {:>14} {:>12}",
        "system", "clients", "p50", "p99", "queries/s", "p50 vs server", "p99 vs server", "server share"
    );
    for (system, clients, latencies, rate) in rows {
        let server = rows.iter().find(|(s, c, _, _)| s == "server over HTTP" && c == clients);
        let (p50_ratio, p99_ratio, share) = match server {
            Some((_, _, server_latencies, server_rate)) if !latencies.is_empty() => (
                ratio(latencies.p(50.0), server_latencies.p(50.0)),
                ratio(latencies.p(99.0), server_latencies.p(99.0)),
                format!("{:.0}%", 100.0 * server_rate / rate.max(f64::EPSILON)),
            ),
            _ => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<26} {:>7} {:>10} {:>10} {:>10.0} {:>14} {:>14} {:>12}",
            system,
            clients,
            ms(latencies.p(50.0)),
            ms(latencies.p(99.0)),
            rate,
            p50_ratio,
            p99_ratio,
            share
        );
    }
}

fn ratio(other: Duration, server: Duration) -> String {
    if server.is_zero() { "-".into() } else { format!("{:.2}×", other.as_secs_f64() / server.as_secs_f64()) }
}

/// What ranking among visible documents only costs: `raw` against `ceiling` (the same search
/// ranked over the whole index) at each number of clients.
pub fn print_security_cost(rows: &[(String, usize, Latencies, f64)], raw: &str, ceiling: &str) {
    for (system, clients, latencies, _) in rows.iter().filter(|(s, ..)| s == raw) {
        let Some((_, _, bound, _)) = rows.iter().find(|(s, c, ..)| s == ceiling && c == clients) else { continue };
        println!(
            "visible-only statistics at {clients} client(s): {system} / {ceiling} = {} at p50, {} at p99",
            ratio(latencies.p(50.0), bound.p(50.0)),
            ratio(latencies.p(99.0), bound.p(99.0))
        );
    }
}
