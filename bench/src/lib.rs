//! Benchmarks for linkerd. `naming` times the naming engine (run it with
//! `cargo run --release -p l5d-bench --bin naming`); `bench/http/run.sh` runs the HTTP
//! router side by side with a direct connection and nginx on one load (wrk, pinned cores)
//! and prints throughput, latency, CPU per request and peak RSS as ratios, then runs the
//! `loadgen` binary at a fixed rate for the added tail latency. [`http1`] is the few lines
//! of HTTP/1.1 that `loadgen` speaks.

#![warn(missing_docs)]

pub mod http1;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` repeatedly for about `budget` after a warm-up and returns the mean time per call.
pub fn time_per_call<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        black_box(f());
    }
    let mut iterations: u64 = 0;
    let start = Instant::now();
    let mut batch = 1u64;
    while start.elapsed() < budget {
        for _ in 0..batch {
            black_box(f());
        }
        iterations += batch;
        batch = (batch * 2).min(1 << 16);
    }
    start.elapsed() / u32::try_from(iterations).unwrap_or(u32::MAX)
}
