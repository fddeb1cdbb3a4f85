//! Progress of long steps on standard error: a progress bar on a terminal, one plain
//! line per step otherwise (logs, cron, CI). The operations report through
//! [`loyalty_ops::backup::Progress`]; this is the command line's way of showing it.

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use loyalty_ops::backup::{Progress, Task};
use std::io::IsTerminal;
use std::time::Instant;

/// Progress on standard error.
#[derive(Debug, Clone, Copy)]
pub struct StderrProgress {
    terminal: bool,
}

impl StderrProgress {
    /// Bars when standard error is a terminal, plain lines otherwise.
    pub fn detect() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for StderrProgress {
    fn task(&self, what: &str, total: Option<u64>) -> Box<dyn Task> {
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
        Box::new(StderrTask {
            bar,
            what: what.to_owned(),
            started: Instant::now(),
            done: 0,
            rows: false,
        })
    }

    fn rows(&self, what: &str, total: Option<u64>) -> Box<dyn Task> {
        let bar = if self.terminal {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:30} [{bar:30}] {human_pos}/{human_len} rows {per_sec} {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_owned());
            Some(bar)
        } else {
            eprintln!("{what} ...");
            None
        };
        Box::new(StderrTask {
            bar,
            what: what.to_owned(),
            started: Instant::now(),
            done: 0,
            rows: true,
        })
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// A step in progress on standard error.
struct StderrTask {
    bar: Option<ProgressBar>,
    what: String,
    started: Instant,
    done: u64,
    /// Counts rows, not bytes.
    rows: bool,
}

impl Task for StderrTask {
    fn inc(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the step with a summary line.
    fn finish(self: Box<Self>) {
        let secs = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.rows {
            eprintln!("{}: done, {} rows in {secs:.1} s", self.what, self.done);
        } else if self.done > 0 {
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
