use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::*;
use crate::config::{
    Aperture as ApertureConfig, Ewma as EwmaConfig, Heap as HeapConfig, P2c as P2cConfig,
    RoundRobin as RoundRobinConfig,
};

struct Ep {
    load: EndpointLoad,
    up: AtomicBool,
}

impl Ep {
    fn new(outstanding: usize, up: bool) -> Ep {
        let load = EndpointLoad::new(Duration::from_secs(10));
        for _ in 0..outstanding {
            std::mem::forget(load.start());
        }
        Ep {
            load,
            up: AtomicBool::new(up),
        }
    }
}

impl Load for Ep {
    fn load(&self) -> &EndpointLoad {
        &self.load
    }
    fn is_available(&self) -> bool {
        self.up.load(Relaxed)
    }
}

fn p2c() -> P2c {
    P2c {
        max_effort: 5,
        rng: Rng::seeded(7),
    }
}

fn counts(b: &impl Balancer, eps: &[Ep], n: usize) -> Vec<usize> {
    let mut c = vec![0; eps.len()];
    for _ in 0..n {
        c[b.pick(eps).unwrap()] += 1;
    }
    c
}

#[test]
fn p2c_prefers_the_less_loaded_of_two() {
    let eps = [Ep::new(5, true), Ep::new(0, true), Ep::new(9, true)];
    let c = counts(&p2c(), &eps, 3000);
    // Endpoint 1 wins every draw it is in (2/3 of draws); 2 never beats anyone.
    assert!(c[1] > 1800 && c[2] == 0, "{c:?}");
}

#[test]
fn every_kind_skips_dead_endpoints_and_answers_none_for_nothing() {
    let kinds = [
        LoadBalancer::P2c(P2cConfig {
            max_effort: 5,
            enable_probation: false,
        }),
        LoadBalancer::Ewma(EwmaConfig {
            max_effort: 5,
            decay_time_ms: 10_000,
            enable_probation: false,
        }),
        LoadBalancer::Aperture(ApertureConfig {
            max_effort: 5,
            smooth_window_ms: 5_000,
            low_load: 0.5,
            high_load: 2.0,
            min_aperture: 1,
            enable_probation: false,
        }),
        LoadBalancer::Heap(HeapConfig {
            enable_probation: false,
        }),
        LoadBalancer::RoundRobin(RoundRobinConfig {
            max_effort: 5,
            enable_probation: false,
        }),
    ];
    for config in &kinds {
        let b = AnyBalancer::from_config(config);
        let eps = [Ep::new(0, false), Ep::new(0, false), Ep::new(3, true)];
        assert!((0..200).all(|_| b.pick(&eps) == Some(2)), "{}", b.kind());
        assert_eq!(b.pick(&[Ep::new(0, false)]), None, "{}", b.kind());
        assert_eq!(b.pick(&[] as &[Ep]), None, "{}", b.kind());
        assert_eq!(b.pick(&[Ep::new(4, true)]), Some(0), "{}", b.kind());
    }
}

#[test]
fn heap_always_picks_the_least_loaded() {
    let eps = [
        Ep::new(2, true),
        Ep::new(1, true),
        Ep::new(0, false),
        Ep::new(3, true),
    ];
    assert!((0..100).all(|_| Heap.pick(&eps) == Some(1)));
}

#[test]
fn round_robin_takes_turns_and_skips_the_dead() {
    let b = RoundRobin::default();
    let eps = [Ep::new(9, true), Ep::new(0, true), Ep::new(0, true)];
    let picks: Vec<usize> = (0..6).map(|_| b.pick(&eps).unwrap()).collect();
    assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    eps[1].up.store(false, Relaxed);
    let picks: Vec<usize> = (0..4).map(|_| b.pick(&eps).unwrap()).collect();
    assert!(picks.iter().all(|&i| i != 1), "{picks:?}");
    assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 2, "{picks:?}");
}

#[test]
fn ewma_moves_traffic_away_from_a_slow_endpoint() {
    let b = AnyBalancer::from_config(&LoadBalancer::Ewma(EwmaConfig {
        max_effort: 5,
        decay_time_ms: 10_000,
        enable_probation: false,
    }));
    let eps = [Ep::new(0, true), Ep::new(0, true)];
    let now = Instant::now();
    eps[0].load.observe(Duration::from_millis(100), now);
    eps[1].load.observe(Duration::from_millis(1), now);
    let c = counts(&b, &eps, 100);
    assert_eq!(c, [0, 100]);
    // The peak is kept for a while, then decays: a fast answer does not erase it at once.
    eps[0].load.observe(Duration::from_millis(1), now);
    assert!(eps[0].load.ewma_cost(now) > eps[1].load.ewma_cost(now));
    // Outstanding requests multiply the cost.
    let slow_but_idle = Ep::new(0, true);
    slow_but_idle.load.observe(Duration::from_millis(10), now);
    let fast_but_busy = Ep::new(20, true);
    fast_but_busy.load.observe(Duration::from_millis(1), now);
    assert!(fast_but_busy.load.ewma_cost(now) > slow_but_idle.load.ewma_cost(now));
}

#[test]
fn ewma_penalises_an_endpoint_with_no_answer_yet() {
    let fresh = Ep::new(1, true);
    let known = Ep::new(1, true);
    let now = Instant::now();
    known.load.observe(Duration::from_millis(50), now);
    assert!(fresh.load.ewma_cost(now) > known.load.ewma_cost(now));
    let started = known.load.start();
    assert_eq!(known.load.outstanding(), 2);
    started.finish();
    assert_eq!(known.load.outstanding(), 1);
}

#[test]
fn aperture_grows_under_load_and_shrinks_when_idle() {
    let a = Aperture::new(5, Duration::from_millis(1), 0.5, 2.0, 1, Rng::seeded(3));
    let idle: Vec<Ep> = (0..8).map(|_| Ep::new(0, true)).collect();
    let mut t = 1_000_000u64;
    for _ in 0..20 {
        t += 10_000_000;
        a.pick_at(&idle, t).unwrap();
    }
    assert_eq!(a.size(), 1, "an idle balancer keeps the smallest window");
    let first = a.pick_at(&idle, t + 1).unwrap();
    assert!((0..20).all(|i| a.pick_at(&idle, t + 2 + i) == Some(first)));

    let busy: Vec<Ep> = (0..8).map(|_| Ep::new(10, true)).collect();
    for _ in 0..20 {
        t += 10_000_000;
        a.pick_at(&busy, t).unwrap();
    }
    assert_eq!(a.size(), 8, "a loaded balancer opens to every endpoint");
    let mut seen = [false; 8];
    for i in 0..400 {
        seen[a.pick_at(&busy, t + i).unwrap()] = true;
    }
    assert!(seen.iter().all(|&s| s), "{seen:?}");

    for _ in 0..20 {
        t += 10_000_000;
        a.pick_at(&idle, t).unwrap();
    }
    assert_eq!(a.size(), 1, "and closes again when the load goes");
}

#[test]
fn rng_draws_cover_their_range() {
    let rng = Rng::seeded(1);
    let mut seen = [false; 5];
    for _ in 0..1000 {
        seen[rng.below(5)] = true;
        let u = rng.unit();
        assert!((0.0..1.0).contains(&u));
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn weights_divide_load() {
    // Two requests on a weight-3 endpoint weigh less than one on a weight-1 endpoint.
    let heavy = Ep::new(2, true);
    heavy.load.set_weight(3.0);
    let light = Ep::new(1, true);
    assert_eq!(Heap.pick(&[heavy, light]), Some(0));
    let unweighted = [Ep::new(2, true), Ep::new(1, true)];
    assert_eq!(Heap.pick(&unweighted), Some(1));
    // p2c over the same two (with only two, every pick compares both).
    let heavy = Ep::new(2, true);
    heavy.load.set_weight(3.0);
    assert_eq!(p2c().pick(&[heavy, Ep::new(1, true)]), Some(0));
}
