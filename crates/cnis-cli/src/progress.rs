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

/// A bar over bytes read, for loading files.
pub fn bytes_bar(g: &Global, len: u64, msg: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), target(g));
    pb.set_style(
        ProgressStyle::with_template("{msg:24} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    pb.set_message(msg.into());
    pb
}
