//! The whole conformance suite replayed with every engine keeping its limits and grants on a
//! real Redis server: the core's runner (`core/tests/conformance.rs`), included as a module,
//! with each case given a fresh key prefix so cases never share counters. Each engine reads
//! its own manual clock, which §11.3 allows: engines apply §5.4 with their own clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

#[path = "../../core/tests/conformance.rs"]
mod core_runner;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

static URL: Mutex<Option<String>> = Mutex::new(None);
static CASE: AtomicU64 = AtomicU64::new(0);

fn case_state() -> Option<Arc<dyn portcullis::StateBackend>> {
    let url = URL.lock().unwrap().clone()?;
    let n = CASE.fetch_add(1, Ordering::Relaxed);
    let state = portcullis_redis::RedisState::connect(&format!(
        "{url}?prefix=case-{}-{n}&timeout_ms=5000",
        std::process::id()
    ))
    .unwrap();
    Some(Arc::new(state))
}

#[test]
fn conformance_on_redis() {
    let server = common::Server::start(&[]);
    *URL.lock().unwrap() = Some(server.url());
    let (passed, failed) = core_runner::replay(false);
    println!("redis: {passed} passed, {failed} failed");
    let (vpassed, vfailed) = core_runner::replay(true);
    println!("redis verdict: {vpassed} passed, {vfailed} failed");
    *URL.lock().unwrap() = None;
    assert!(
        CASE.load(Ordering::Relaxed) > 700,
        "the cases did not run on Redis"
    );
    assert_eq!(failed + vfailed, 0, "conformance cases failed on Redis");
}
