//! The one rule for tests that need a tool from outside Rust (a browser, an SMTP server,
//! a PDF reader, promtool, systemd-analyze, Node.js, PostgreSQL): a missing tool FAILS
//! the test, naming the tool and the command that installs it. `./scripts/test` installs
//! what it can first (`scripts/test-tools`). The only way to leave a part out is to name
//! it in `LOYALTY_TEST_SKIP` (comma-separated: `browser`, `smtp`, `webhooks`, `pdf`,
//! `promtool`, `systemd`, `node`, `postgres`), and `./scripts/test` then says so in its last line.

/// The variable that lists the parts of the suite left out on purpose.
pub const SKIP_VAR: &str = "LOYALTY_TEST_SKIP";

/// Whether `part` is listed in [`SKIP_VAR`].
pub fn left_out(part: &str) -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(part)))
}

/// Whether a test that needs `what` (of the suite's `part`) runs: `true` when the tool is
/// `present`; `false` when the part is left out on purpose (printed); otherwise the test
/// fails here with the install command.
pub fn required(part: &str, present: bool, what: &str, install: &str) -> bool {
    if present {
        return true;
    }
    if left_out(part) {
        eprintln!("LEFT OUT ({SKIP_VAR} names {part}): {what} is not installed");
        return false;
    }
    panic!(
        "{what} is missing. Install it with `{install}` (./scripts/test does this first), \
         or leave this part out on purpose with {SKIP_VAR}={part}"
    );
}

/// Whether `program` runs with `arg` (for example `--version`).
pub fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}
