//! Progress of long steps on standard error: a progress bar on a terminal, one plain
//! line per step otherwise (logs, cron, CI).

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Where progress goes.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    terminal: bool,
}

impl Progress {
    /// Bars when standard error is a terminal, plain lines otherwise.
    pub fn detect() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Starts a step that moves `total` bytes (unknown when `None`).
    pub fn task(&self, what: &str, total: Option<u64>) -> Task {
        let bar = if self.terminal {
            let bar = match total {
                Some(t) => {
                    let bar = ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template(
                        "{msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    ) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar
                }
                None => {
                    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template(
                        "{spinner} {msg:30} {bytes} {bytes_per_sec} {elapsed}",
                    ) {
                        bar.set_style(style);
                    }
                    bar
                }
            };
            bar.set_message(what.to_owned());
            Some(bar)
        } else {
            eprintln!("{what} ...");
            None
        };
        Task {
            bar,
            what: what.to_owned(),
            started: Instant::now(),
            done: 0,
        }
    }

    /// A one-line note.
    pub fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// A step in progress.
pub struct Task {
    bar: Option<ProgressBar>,
    what: String,
    started: Instant,
    done: u64,
}

impl Task {
    /// `n` more bytes done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the step with a summary line.
    pub fn finish(self) {
        let secs = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.done > 0 {
            eprintln!(
                "{}: done, {} in {secs:.1} s",
                self.what,
                HumanBytes(self.done)
            );
        } else {
            eprintln!("{}: done in {secs:.1} s", self.what);
        }
    }
}
