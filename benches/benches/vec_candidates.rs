//! The vec lookup beside the concurrent maps and hashers it could have been built on: the
//! same lookup of two label values followed by an increment, with every map holding
//! `Arc<AtomicU64>` counters under a key joined from the values (built on the stack, as a
//! caller of a plain map would). One hot label set, then a thousand label sets in turn.
//!
//! Run with `cargo bench -p dynamo-benches --bench vec_candidates`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dynamo_benches::ours_endpoint;

type Foldhash = foldhash::fast::RandomState;
type Ahash = ahash::RandomState;

/// `a` and `b` joined by a separator no label value of the benchmark holds, on the stack.
struct Joined {
    bytes: [u8; 64],
    len: usize,
}

impl Joined {
    #[inline]
    fn new(a: &str, b: &str) -> Self {
        let mut bytes = [0u8; 64];
        let (a, b) = (a.as_bytes(), b.as_bytes());
        bytes[..a.len()].copy_from_slice(a);
        bytes[a.len()] = 0x1f;
        bytes[a.len() + 1..a.len() + 1 + b.len()].copy_from_slice(b);
        Self {
            bytes,
            len: a.len() + 1 + b.len(),
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// The label sets: one, or a thousand.
fn label_sets(count: usize) -> Vec<[String; 2]> {
    if count == 1 {
        return vec![["llama".into(), "7b".into()]];
    }
    (0..count)
        .map(|i| [format!("model-{}", i / 10), format!("size-{}", i % 10)])
        .collect()
}

fn joined_keys(sets: &[[String; 2]]) -> Vec<Box<str>> {
    sets.iter()
        .map(|[a, b]| Joined::new(a, b).as_str().into())
        .collect()
}

fn counter() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(0))
}

fn candidates(c: &mut Criterion) {
    let mut group = c.benchmark_group("vec_candidates");
    for count in [1usize, 1000] {
        let sets = label_sets(count);
        let keys = joined_keys(&sets);
        let mut i = 0usize;
        let mut next = move || {
            i = (i + 1) % count;
            i
        };

        let (_runtime, metrics) = ours_endpoint();
        let ours = metrics
            .create_intcountervec("requests_total", "Requests", &["model", "size"], &[])
            .unwrap();
        group.bench_function(BenchmarkId::new("ours", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                ours.with_label_values(black_box(&[m.as_str(), s.as_str()]))
                    .inc();
            })
        });

        let prom = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests_total", "Requests"),
            &["model", "size"],
        )
        .unwrap();
        group.bench_function(BenchmarkId::new("prometheus", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                prom.with_label_values(black_box(&[m.as_str(), s.as_str()]))
                    .inc();
            })
        });

        let papaya: papaya::HashMap<Box<str>, Arc<AtomicU64>, Foldhash> =
            papaya::HashMap::with_hasher(Foldhash::default());
        for key in &keys {
            papaya.pin().insert(key.clone(), counter());
        }
        group.bench_function(BenchmarkId::new("papaya_foldhash", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                let key = Joined::new(black_box(m), black_box(s));
                if let Some(c) = papaya.pin().get(key.as_str()) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            })
        });

        let index: scc::HashIndex<Box<str>, Arc<AtomicU64>, Foldhash> =
            scc::HashIndex::with_hasher(Foldhash::default());
        for key in &keys {
            let _ = index.insert_sync(key.clone(), counter());
        }
        group.bench_function(BenchmarkId::new("scc_hashindex_foldhash", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                let key = Joined::new(black_box(m), black_box(s));
                index.peek_with(key.as_str(), |_, c| c.fetch_add(1, Ordering::Relaxed));
            })
        });

        let dash: dashmap::DashMap<Box<str>, Arc<AtomicU64>, Foldhash> =
            dashmap::DashMap::with_hasher(Foldhash::default());
        for key in &keys {
            dash.insert(key.clone(), counter());
        }
        group.bench_function(BenchmarkId::new("dashmap_foldhash", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                let key = Joined::new(black_box(m), black_box(s));
                if let Some(c) = dash.get(key.as_str()) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            })
        });

        let locked_fold: RwLock<HashMap<Box<str>, Arc<AtomicU64>, Foldhash>> =
            RwLock::new(keys.iter().map(|k| (k.clone(), counter())).collect());
        group.bench_function(BenchmarkId::new("rwlock_hashmap_foldhash", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                let key = Joined::new(black_box(m), black_box(s));
                if let Some(c) = locked_fold.read().unwrap().get(key.as_str()) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            })
        });

        let locked_ahash: RwLock<HashMap<Box<str>, Arc<AtomicU64>, Ahash>> =
            RwLock::new(keys.iter().map(|k| (k.clone(), counter())).collect());
        group.bench_function(BenchmarkId::new("rwlock_hashmap_ahash", count), |b| {
            b.iter(|| {
                let [m, s] = &sets[next()];
                let key = Joined::new(black_box(m), black_box(s));
                if let Some(c) = locked_ahash.read().unwrap().get(key.as_str()) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, candidates);
criterion_main!(benches);
