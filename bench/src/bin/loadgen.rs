//! An open-loop HTTP/1.1 load generator: a fixed total request rate spread evenly over N
//! keep-alive connections, each request's latency measured from the moment it was *meant*
//! to be sent. A slow response delays the requests scheduled behind it on its connection,
//! and that wait is counted against them, so a stall shows in the tail instead of quietly
//! lowering the rate (no coordinated omission; the method of Gil Tene's wrk2).
//!
//! ```text
//! loadgen [--rate 2000] [--connections 64] [--seconds 10] [--warmup 2]
//!         [--host web] [--path /] 127.0.0.1:18083
//! ```
//!
//! Prints one line of `key=value` pairs (latencies in microseconds) for `bench/http/run.sh`:
//! `loadgen rate=2000 connections=64 seconds=10 achieved_rps=1999.9 requests=20000
//! errors=0 non_2xx=0 p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=.. send_lag_p99_us=..`.
//! Exits 1 on bad arguments or when the first connections cannot be opened.
//!
//! One blocking thread per connection rather than tokio: tokio's timer wheel has 1 ms
//! resolution, so a task can wake up to 1 ms after its send time, and measured from the
//! intended time that lateness would swamp the ~100 µs a proxy adds. A thread sleeping in
//! `nanosleep` wakes within microseconds once the timer slack is lowered (below). At 2000
//! requests/s over 64 connections each thread sleeps ~97% of the time. `send_lag_p99_us`
//! reports how late sends went out: the generator's own floor, included in every latency.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use l5d_bench::http1::{get_request, read_response};

#[derive(Debug)]
struct Config {
    addr: SocketAddr,
    host: String,
    path: String,
    rate: f64,
    connections: u32,
    seconds: f64,
    warmup: f64,
}

/// What one connection measured inside the window.
#[derive(Default)]
struct Tally {
    /// Nanoseconds from intended send to the response's last byte, one per success.
    latency: Vec<u64>,
    /// Nanoseconds from intended to actual send.
    send_lag: Vec<u64>,
    errors: u64,
    non_2xx: u64,
    /// When the last measured response completed.
    last_done: Option<Instant>,
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            eprintln!(
                "usage: loadgen [--rate R] [--connections N] [--seconds S] [--warmup S] \
                 [--host H] [--path P] ADDR"
            );
            return ExitCode::from(1);
        }
    };
    // Timer slack (50 µs by default) is how late the kernel may fire a sleeper's timer to
    // batch wake-ups; threads inherit it from their creator. Best effort: where /proc is
    // read-only the sends are just later, and send_lag_p99_us says by how much.
    let _ = std::fs::write("/proc/self/timerslack_ns", "1000");

    let mut streams = Vec::new();
    for _ in 0..config.connections {
        match connect(config.addr) {
            Ok(s) => streams.push(s),
            Err(e) => {
                eprintln!("loadgen: connect to {}: {e}", config.addr);
                return ExitCode::from(1);
            }
        }
    }
    // A short gap so every thread is asleep before the first send is due.
    let start = Instant::now() + Duration::from_millis(50);
    let request = get_request(&config.host, &config.path);
    let threads: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            let (config, request) = (&config, request.clone());
            let schedule = Schedule::new(config, start, i as u32);
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn({
                    let addr = config.addr;
                    move || run_connection(addr, stream, &request, schedule)
                })
                .expect("spawning a load thread")
        })
        .collect();
    let mut total = Tally::default();
    for t in threads {
        let tally = t.join().expect("a load thread panicked");
        total.latency.extend(tally.latency);
        total.send_lag.extend(tally.send_lag);
        total.errors += tally.errors;
        total.non_2xx += tally.non_2xx;
        total.last_done = total.last_done.max(tally.last_done);
    }
    println!("{}", report(&config, start, total));
    ExitCode::SUCCESS
}

/// When one connection's requests are due: connection `i` of `n` sends at
/// `start + i/rate + k*n/rate`, so together the sends fall every `1/rate`.
struct Schedule {
    first: Instant,
    period: Duration,
    measure_from: Instant,
    end: Instant,
}

impl Schedule {
    fn new(config: &Config, start: Instant, i: u32) -> Self {
        let measure_from = start + Duration::from_secs_f64(config.warmup);
        Schedule {
            first: start + Duration::from_secs_f64(f64::from(i) / config.rate),
            period: Duration::from_secs_f64(f64::from(config.connections) / config.rate),
            measure_from,
            end: measure_from + Duration::from_secs_f64(config.seconds),
        }
    }
}

fn run_connection(
    addr: SocketAddr,
    stream: TcpStream,
    request: &[u8],
    schedule: Schedule,
) -> Tally {
    let mut tally = Tally::default();
    let mut conn = Some(stream);
    let mut buf = Vec::with_capacity(8192);
    for k in 0u32.. {
        let intended = schedule.first + schedule.period * k;
        if intended >= schedule.end {
            break;
        }
        let now = Instant::now();
        if intended > now {
            thread::sleep(intended - now);
        }
        let sent = Instant::now();
        let result = exchange(addr, &mut conn, &mut buf, request);
        let done = Instant::now();
        if intended < schedule.measure_from {
            continue;
        }
        match result {
            Ok(status) => {
                tally.latency.push(nanos(done - intended));
                tally.send_lag.push(nanos(sent - intended));
                tally.last_done = Some(done);
                if !(200..300).contains(&status) {
                    tally.non_2xx += 1;
                }
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

/// Sends one request and reads its response, reconnecting first if the last exchange
/// failed or the server closed. Returns the status code.
fn exchange(
    addr: SocketAddr,
    conn: &mut Option<TcpStream>,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> io::Result<u16> {
    let stream = match conn {
        Some(s) => s,
        None => {
            buf.clear();
            conn.insert(connect(addr)?)
        }
    };
    let result = stream
        .write_all(request)
        .and_then(|()| read_response(stream, buf));
    match result {
        Ok(r) if !r.close => Ok(r.status),
        Ok(r) => {
            *conn = None;
            Ok(r.status)
        }
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

fn report(config: &Config, start: Instant, mut t: Tally) -> String {
    t.latency.sort_unstable();
    t.send_lag.sort_unstable();
    let measure_from = start + Duration::from_secs_f64(config.warmup);
    // Over the time the measured responses took to arrive, so a target that falls behind
    // shows a rate below the one asked for.
    let elapsed = t
        .last_done
        .map_or(config.seconds, |d| (d - measure_from).as_secs_f64())
        .max(config.seconds);
    let us = |v: &[u64], q: f64| percentile(v, q) as f64 / 1000.0;
    format!(
        "loadgen rate={} connections={} seconds={} achieved_rps={:.1} requests={} errors={} \
         non_2xx={} p50_us={:.1} p90_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} \
         send_lag_p99_us={:.1}",
        config.rate,
        config.connections,
        config.seconds,
        t.latency.len() as f64 / elapsed,
        t.latency.len(),
        t.errors,
        t.non_2xx,
        us(&t.latency, 0.50),
        us(&t.latency, 0.90),
        us(&t.latency, 0.99),
        us(&t.latency, 0.999),
        us(&t.latency, 1.0),
        us(&t.send_lag, 0.99),
    )
}

/// The nearest-rank percentile of sorted `v`: the smallest value with at least `q` of the
/// values at or below it. 0 for no values.
fn percentile(v: &[u64], q: f64) -> u64 {
    let rank = (q * v.len() as f64).ceil() as usize;
    v.get(rank.saturating_sub(1)).copied().unwrap_or(0)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 80)),
        host: "web".into(),
        path: "/".into(),
        rate: 2000.0,
        connections: 64,
        seconds: 10.0,
        warmup: 2.0,
    };
    let mut addr = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or(format!("{arg}: not a number: {v:?}"))
        };
        match arg.as_str() {
            "--rate" => config.rate = number(value()?)?,
            "--seconds" => config.seconds = number(value()?)?,
            "--warmup" => config.warmup = number(value()?)?,
            "--connections" => {
                let v = value()?;
                config.connections = v.parse().map_err(|_| format!("{arg}: {v:?}"))?;
            }
            "--host" => config.host = value()?,
            "--path" => config.path = value()?,
            a if a.starts_with("--") => return Err(format!("unknown option {a}")),
            a => {
                let resolved = a.to_socket_addrs().map_err(|e| format!("{a}: {e}"))?;
                addr = resolved.into_iter().next();
            }
        }
    }
    config.addr = addr.ok_or("no address to load (e.g. 127.0.0.1:18083)")?;
    if config.rate <= 0.0 || config.connections == 0 || config.seconds <= 0.0 {
        return Err("rate, connections and seconds must be above zero".into());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Config, String> {
        parse_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500);
        assert_eq!(percentile(&v, 0.99), 990);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&v, 1.0), 1000);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.99), 0);
    }

    #[test]
    fn connections_interleave_into_one_even_rate() {
        let config = args("--rate 1000 --connections 4 --seconds 1 --warmup 0 127.0.0.1:1")
            .expect("valid arguments");
        let start = Instant::now();
        let mut sends: Vec<Duration> = (0..4)
            .flat_map(|i| {
                let s = Schedule::new(&config, start, i);
                (0u32..)
                    .map(move |k| s.first + s.period * k)
                    .take_while(move |t| *t < s.end)
            })
            .map(|t| t - start)
            .collect();
        sends.sort();
        assert_eq!(sends.len(), 1000);
        for (k, t) in sends.iter().enumerate() {
            let want = Duration::from_millis(k as u64);
            assert!(
                t.abs_diff(want) < Duration::from_micros(1),
                "send {k} at {t:?}"
            );
        }
    }

    #[test]
    fn arguments_default_and_refuse_nonsense() {
        let c = args("127.0.0.1:9").expect("an address alone is enough");
        assert_eq!(
            (c.rate, c.connections, c.host.as_str()),
            (2000.0, 64, "web")
        );
        assert!(args("").unwrap_err().contains("no address"));
        assert!(args("--rate 0 127.0.0.1:9")
            .unwrap_err()
            .contains("above zero"));
        assert!(args("--rate x 127.0.0.1:9")
            .unwrap_err()
            .contains("not a number"));
        assert!(args("--rate").unwrap_err().contains("needs a value"));
        assert!(args("--bogus 1 127.0.0.1:9")
            .unwrap_err()
            .contains("unknown option"));
    }
}
