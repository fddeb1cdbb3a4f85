//! How long backup steps report progress: the caller says where it goes (a progress
//! bar on a terminal, plain lines in a log, nothing at all) by implementing
//! [`Progress`]; the backup code only counts bytes.

/// Where the progress of long steps goes.
pub trait Progress: Send + Sync {
    /// Starts a step that moves `total` bytes (unknown when `None`).
    fn task(&self, what: &str, total: Option<u64>) -> Box<dyn Task>;

    /// Starts a step that moves `total` rows rather than bytes (a move between
    /// backends); shown like [`Progress::task`] unless the caller counts rows apart.
    fn rows(&self, what: &str, total: Option<u64>) -> Box<dyn Task> {
        self.task(what, total)
    }

    /// A one-line note.
    fn note(&self, line: &str);
}

/// A step in progress.
pub trait Task: Send {
    /// `n` more bytes done.
    fn inc(&mut self, n: u64);

    /// Ends the step.
    fn finish(self: Box<Self>);
}

/// Progress nobody watches (a server job, a test).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn task(&self, _what: &str, _total: Option<u64>) -> Box<dyn Task> {
        Box::new(Silent)
    }

    fn note(&self, _line: &str) {}
}

impl Task for Silent {
    fn inc(&mut self, _n: u64) {}

    fn finish(self: Box<Self>) {}
}
