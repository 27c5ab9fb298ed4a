//! Progress display: bars for work of known size, spinners otherwise. Both
//! are hidden with --quiet and when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Global;

fn target(g: &Global) -> ProgressDrawTarget {
    if g.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() }
}

/// A spinner with a message, for steps of unknown length.
pub struct Spinner(ProgressBar);

impl Spinner {
    pub fn new(g: &Global, msg: impl Into<String>) -> Self {
        let pb = ProgressBar::with_draw_target(None, target(g));
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap_or(ProgressStyle::default_spinner()),
        );
        pb.set_message(msg.into());
        pb.enable_steady_tick(Duration::from_millis(120));
        Spinner(pb)
    }
    pub fn set_message(&self, msg: impl Into<String>) {
        self.0.set_message(msg.into());
    }
    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// The application layer's progress, shown as a bar for steps of known size
/// and a spinner otherwise.
/// Each step's time is logged at debug level (`-vv`) when the next begins.
pub struct Bar {
    pb: ProgressBar,
    current: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl Bar {
    pub fn new(g: &Global) -> Self {
        Bar { pb: ProgressBar::with_draw_target(None, target(g)), current: std::sync::Mutex::new(None) }
    }
    fn log_previous(&self, next: Option<&str>) {
        if let Ok(mut cur) = self.current.lock() {
            if let Some((what, t)) = cur.take() {
                tracing::debug!(step = %what, secs = t.elapsed().as_secs_f64(), "step done");
            }
            *cur = next.map(|n| (n.to_string(), std::time::Instant::now()));
        }
    }
    pub fn finish(&self) {
        self.log_previous(None);
        self.pb.finish_and_clear();
    }
}

impl cnis_app::Progress for Bar {
    fn step(&self, what: &str, total: Option<u64>) {
        self.log_previous(Some(what));
        match total {
            Some(len) => {
                self.pb.disable_steady_tick();
                self.pb.set_style(
                    ProgressStyle::with_template("{msg:24} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                        .unwrap_or(ProgressStyle::default_bar()),
                );
                self.pb.set_length(len);
                self.pb.set_position(0);
            }
            None => {
                self.pb.set_style(
                    ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                        .unwrap_or(ProgressStyle::default_spinner()),
                );
                self.pb.enable_steady_tick(Duration::from_millis(120));
            }
        }
        self.pb.set_message(what.to_string());
    }
    fn at(&self, done: u64) {
        self.pb.set_position(done);
    }
}

/// A bar for reading a file of `len` bytes.
pub fn bytes(g: &Global, len: u64, msg: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), target(g));
    pb.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} [{elapsed}]")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    pb.set_message(msg.into());
    pb
}
