//! Failure accrual: marking an endpoint dead after failures and bringing it back after a
//! backoff (Finagle's `FailureAccrualFactory`, Linkerd 1's `client.failureAccrual`).
//!
//! An endpoint starts alive. Each answer is reported as a success or a failure; when the
//! policy says so, the endpoint is marked dead for the next backoff step and balancers
//! skip it. When the step has passed it may take requests again: the next answer is the
//! probe, a success revives it (and resets the backoff), a failure marks it dead for the
//! following, longer step. State is atomics only, so reporting and checking cost no lock.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::balance::Rng;
use crate::config::{AccrualPolicy, Backoff, FailureAccrual};

/// What a report changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing.
    None,
    /// The endpoint was marked dead for this long.
    Removed(Duration),
    /// A dead endpoint's probe failed: it stays dead for this long.
    StillDead(Duration),
    /// A dead endpoint's probe succeeded: it is alive again.
    Revived,
}

/// The policy of one client, shared by its endpoints.
#[derive(Debug)]
pub struct Policy {
    kind: Kind,
    backoff: Backoff,
    rng: Rng,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    None,
    Consecutive(u32),
    /// Success rate below `threshold` as an exponential moving average over `window`
    /// requests (count based) or `window` milliseconds (time based).
    Rate {
        threshold: f64,
        window: f64,
        timed: bool,
    },
}

impl Policy {
    /// The policy `config` describes.
    pub fn new(config: &FailureAccrual) -> Policy {
        let kind = match &config.policy {
            AccrualPolicy::None => Kind::None,
            AccrualPolicy::ConsecutiveFailures(c) => Kind::Consecutive(c.failures.max(1)),
            AccrualPolicy::SuccessRate(s) => Kind::Rate {
                threshold: s.success_rate,
                window: f64::from(s.requests.max(1)),
                timed: false,
            },
            AccrualPolicy::SuccessRateWindowed(s) => Kind::Rate {
                threshold: s.success_rate,
                window: (s.window.max(1) * 1000) as f64,
                timed: true,
            },
        };
        Policy {
            kind,
            backoff: config.backoff.clone(),
            rng: Rng::from_entropy(),
        }
    }

    /// The name of the policy, for `/client_state.json`-style reports.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::None => "none",
            Kind::Consecutive(_) => "io.l5d.consecutiveFailures",
            Kind::Rate { timed: false, .. } => "io.l5d.successRate",
            Kind::Rate { timed: true, .. } => "io.l5d.successRateWindowed",
        }
    }

    /// How long the `step`th consecutive removal lasts.
    fn wait(&self, step: u32) -> Duration {
        let ms = match &self.backoff {
            Backoff::Constant(c) => c.ms,
            Backoff::Jittered(j) => {
                // Equal jitter: the base doubles from min to max, and the wait is half
                // the base plus a random share of the other half. The first wait is min.
                let base = j
                    .min_ms
                    .saturating_mul(1u64 << step.min(32))
                    .min(j.max_ms.max(j.min_ms));
                if step == 0 {
                    j.min_ms
                } else {
                    let half = base / 2;
                    half + (self.rng.unit() * (base - half) as f64) as u64
                }
            }
        };
        Duration::from_millis(ms)
    }
}

/// Milliseconds on the process clock (never 0, which marks an endpoint alive).
fn now_ms() -> u64 {
    crate::clock::now().as_millis() as u64 + 1
}

/// One endpoint's accrual state.
#[derive(Debug, Default)]
pub struct Accrual {
    /// When the endpoint may take requests again (ms on [`now_ms`]'s clock); 0 when alive.
    dead_until: AtomicU64,
    /// Whether the endpoint was marked dead and has not answered well since.
    removed: AtomicBool,
    /// Removals in a row (the backoff step).
    step: AtomicU32,
    /// Failures in a row.
    consecutive: AtomicU32,
    /// The moving success rate, as f64 bits (starts at 1).
    rate: AtomicU64,
    /// Answers seen (count policy) or the last answer's time (time policy).
    seen: AtomicU64,
}

impl Accrual {
    /// A live endpoint.
    pub fn new() -> Accrual {
        Accrual {
            rate: AtomicU64::new(1f64.to_bits()),
            ..Accrual::default()
        }
    }

    /// Whether the endpoint may take requests: alive, or its removal has expired (the
    /// next request is its probe).
    pub fn is_available(&self) -> bool {
        let until = self.dead_until.load(Relaxed);
        until == 0 || now_ms() >= until
    }

    /// Whether the endpoint is marked dead (removed and not revived), even if its probe
    /// is due.
    pub fn is_removed(&self) -> bool {
        self.removed.load(Relaxed)
    }

    /// Records a successful answer.
    pub fn success(&self, policy: &Policy) -> Transition {
        self.consecutive.store(0, Relaxed);
        self.update_rate(policy, 1.0);
        if self.removed.swap(false, Relaxed) {
            self.dead_until.store(0, Relaxed);
            self.step.store(0, Relaxed);
            return Transition::Revived;
        }
        Transition::None
    }

    /// Records a failed answer (a connection failure or a failure by the classifier).
    pub fn failure(&self, policy: &Policy) -> Transition {
        let consecutive = self.consecutive.fetch_add(1, Relaxed).saturating_add(1);
        let rate = self.update_rate(policy, 0.0);
        let probe_failed = self.removed.load(Relaxed) && self.is_available();
        let dead = match policy.kind {
            Kind::None => false,
            Kind::Consecutive(n) => consecutive >= n,
            Kind::Rate {
                threshold, window, ..
            } => {
                // A rate is only meaningful once the window has filled.
                let filled = match policy.kind {
                    Kind::Rate { timed: false, .. } => self.seen.load(Relaxed) as f64 >= window,
                    _ => true,
                };
                filled && rate < threshold
            }
        };
        if !(dead || probe_failed) || !self.is_available() {
            return Transition::None;
        }
        let step = self.step.fetch_add(1, Relaxed);
        let wait = policy.wait(step);
        self.dead_until
            .store(now_ms() + wait.as_millis() as u64, Relaxed);
        let was_removed = self.removed.swap(true, Relaxed);
        self.consecutive.store(0, Relaxed);
        if matches!(policy.kind, Kind::Rate { .. }) {
            // A revived endpoint starts over rather than dying again on old history.
            self.rate.store(1f64.to_bits(), Relaxed);
            self.seen.store(0, Relaxed);
        }
        if was_removed {
            Transition::StillDead(wait)
        } else {
            Transition::Removed(wait)
        }
    }

    fn update_rate(&self, policy: &Policy, outcome: f64) -> f64 {
        let Kind::Rate { window, timed, .. } = policy.kind else {
            return 1.0;
        };
        let alpha = if timed {
            let now = now_ms();
            let last = self.seen.swap(now, Relaxed);
            let elapsed = now.saturating_sub(last) as f64;
            if last == 0 {
                1.0 / window.max(1.0)
            } else {
                1.0 - (-elapsed.max(1.0) / window).exp()
            }
        } else {
            self.seen.fetch_add(1, Relaxed);
            1.0 / window
        };
        let old = f64::from_bits(self.rate.load(Relaxed));
        let new = old + alpha * (outcome - old);
        self.rate.store(new.to_bits(), Relaxed);
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConsecutiveFailures, ConstantBackoff, SuccessRate};

    fn consecutive(n: u32, ms: u64) -> Policy {
        Policy::new(&FailureAccrual {
            policy: AccrualPolicy::ConsecutiveFailures(ConsecutiveFailures { failures: n }),
            backoff: Backoff::Constant(ConstantBackoff { ms }),
        })
    }

    #[test]
    fn consecutive_failures_remove_and_a_success_in_between_resets() {
        let p = consecutive(3, 60_000);
        let a = Accrual::new();
        assert_eq!(a.failure(&p), Transition::None);
        assert_eq!(a.failure(&p), Transition::None);
        assert_eq!(a.success(&p), Transition::None);
        assert_eq!(a.failure(&p), Transition::None);
        assert_eq!(a.failure(&p), Transition::None);
        assert!(a.is_available());
        assert_eq!(
            a.failure(&p),
            Transition::Removed(Duration::from_millis(60_000))
        );
        assert!(!a.is_available());
        assert!(a.is_removed());
    }

    #[test]
    fn an_expired_removal_lets_a_probe_through_which_revives_or_removes_again() {
        let p = consecutive(1, 0);
        let a = Accrual::new();
        assert!(matches!(a.failure(&p), Transition::Removed(_)));
        // A zero backoff has expired at once: the endpoint takes its probe.
        assert!(a.is_available());
        assert!(matches!(a.failure(&p), Transition::StillDead(_)));
        assert_eq!(a.success(&p), Transition::Revived);
        assert!(!a.is_removed());
        assert_eq!(a.success(&p), Transition::None);
    }

    #[test]
    fn jittered_backoff_grows_between_its_bounds() {
        let p = Policy::new(&FailureAccrual::default());
        assert_eq!(p.wait(0), Duration::from_secs(5));
        for step in 1..20 {
            let w = p.wait(step);
            assert!(w >= Duration::from_millis(2_500), "{w:?}");
            assert!(w <= Duration::from_secs(300), "{w:?}");
        }
        assert!(p.wait(10) >= Duration::from_secs(150));
    }

    #[test]
    fn success_rate_removes_once_the_window_is_full_and_the_rate_is_low() {
        let p = Policy::new(&FailureAccrual {
            policy: AccrualPolicy::SuccessRate(SuccessRate {
                success_rate: 0.5,
                requests: 10,
            }),
            backoff: Backoff::Constant(ConstantBackoff { ms: 60_000 }),
        });
        let a = Accrual::new();
        let mut removed = None;
        for i in 0..40 {
            if let Transition::Removed(_) = a.failure(&p) {
                removed = Some(i);
                break;
            }
        }
        let i = removed.expect("a failing endpoint is removed");
        assert!(i >= 9, "not before the window filled: {i}");
        let healthy = Accrual::new();
        for _ in 0..100 {
            healthy.success(&p);
            assert_eq!(healthy.failure(&p), Transition::None);
            healthy.success(&p);
        }
    }

    #[test]
    fn none_never_removes() {
        let p = Policy::new(&FailureAccrual {
            policy: AccrualPolicy::None,
            backoff: Backoff::Constant(ConstantBackoff { ms: 1 }),
        });
        let a = Accrual::new();
        for _ in 0..100 {
            assert_eq!(a.failure(&p), Transition::None);
        }
        assert!(a.is_available());
    }
}
