//! Benchmark: validate a generated 10,000-entry plan (`cargo bench --bench validate`).
//!
//! Prints the plan size, the median and worst wall time of several runs, the peak heap in use during one
//! validation (counted by a wrapping global allocator) and the process's peak RSS (`VmHWM`). Targets:
//! under 200 ms and under 100 MiB on one core. Figures are recorded in `docs/performance.md`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ENTRIES: usize = 10_000;
const RUNS: usize = 11;

/// A realistic plan: ids, id lists, selectors, long-form gates and `after` chains.
fn generate() -> String {
    let mut text = String::from(
        "# yaml-language-server: $schema=../schemas/plan.schema.json\nversion: 1\n\
         account_id: \"111122223333\"\nregion: us-east-1\nreason: \"bench: 10k entries\"\n\
         poll_interval: 10s\ntimeout: 30m\nlimits:\n  concurrency: 64\n  rate_limit: 50\n  poll_rate_limit: 100\njobs:\n",
    );
    for i in 0..ENTRIES {
        let id = format!("{i:08x}-8b4d-4c2e-9f1a-2b7d6e5c4a01");
        match i % 4 {
            0 => text.push_str(&format!(
                "  - name: confirm-{i}\n    job_id: \"{id}\"\n    wait_for: Suspended\n    set: Ready\n"
            )),
            1 => text.push_str(&format!(
                "  - name: confirm-{i}\n    job_ids: [\"{id}\", \"{i:08x}-0000-4c2e-9f1a-2b7d6e5c4a02\"]\n    \
                 after: [confirm-{}]\n    wait_for:\n      job: \"{id}\"\n      status: [Complete]\n      \
                 timeout: 2h\n    set: Ready\n    reason: \"entry {i}\"\n",
                i - 1
            )),
            2 => text.push_str(&format!(
                "  - name: cancel-{i}\n    select:\n      status: [Active, Suspended]\n      \
                 description: \"reindex-{i}-*\"\n      created_after: 2026-11-28T00:00:00Z\n      \
                 created_before: 2026-11-29T00:00:00Z\n      priority: {{ min: 0, max: 10 }}\n      \
                 tags: {{ team: search }}\n    max_jobs: 200\n    set: Cancelled\n"
            )),
            _ => text.push_str(&format!(
                "  - name: lower-{i}\n    job_id: \"{id}\"\n    priority: {}\n",
                i % 1000
            )),
        }
    }
    text
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds on a CPU). Wall time
/// on a shared machine includes waiting for a core; this is the cost "on one core".
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let text = generate();
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut cpu: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut peak_heap = 0;
    for _ in 0..RUNS {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let start = Instant::now();
        let cpu_start = cpu_time();
        let loaded = s3plan::plan::load_str("bench.yaml", &text);
        let elapsed = start.elapsed();
        if let (Some(before), Some(after)) = (cpu_start, cpu_time()) {
            cpu.push(after - before);
        }
        peak_heap = peak_heap.max(PEAK.load(Ordering::Relaxed) - before);
        match loaded {
            Ok(plan) => assert_eq!(plan.plan.entries().count(), ENTRIES),
            Err(error) => panic!("the generated plan is invalid: {:?}", error.diagnostics),
        }
        times.push(elapsed);
    }
    times.sort();
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "validate: {ENTRIES} entries, {:.2} MiB of YAML, {RUNS} runs",
        mib(text.len())
    );
    println!(
        "  wall: median {:?}, worst {:?}",
        times[RUNS / 2],
        times[RUNS - 1]
    );
    cpu.sort();
    if let (Some(median), Some(worst)) = (cpu.get(cpu.len() / 2), cpu.last()) {
        println!("  cpu (one core): median {median:?}, worst {worst:?}");
    }
    println!(
        "  peak heap during one validation: {:.1} MiB",
        mib(peak_heap)
    );
    if let Some(hwm) = vm_hwm_kib() {
        println!("  process peak RSS (VmHWM): {:.1} MiB", hwm as f64 / 1024.0);
    }
}
