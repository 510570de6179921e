//! Hot reload (file polling and SIGHUP) and the stop signals.
use crate::state::State;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{signal, SignalKind};

fn stamp(state: &State) -> Option<(SystemTime, u64)> {
    std::fs::metadata(&state.policy_path)
        .ok()
        .and_then(|m| m.modified().ok().map(|t| (t, m.len())))
}

/// Polls the policy file's modification time and size; reloads when either changes.
pub(crate) async fn watch_file(state: Arc<State>, interval_ms: u64) {
    if interval_ms == 0 {
        return;
    }
    let mut last = stamp(&state);
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = stamp(&state);
        if now != last {
            last = now;
            let st = state.clone();
            let _ = tokio::task::spawn_blocking(move || st.reload_from_file("file change")).await;
        }
    }
}

/// Returns on SIGTERM or SIGINT; reloads the policy on every SIGHUP meanwhile.
pub(crate) async fn wait_for_stop(state: Arc<State>) {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers; stopping");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || st.reload_from_file("SIGHUP")).await;
            }
        }
    }
}
