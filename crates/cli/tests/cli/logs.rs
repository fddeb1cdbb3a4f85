//! Log lines on standard error: plain text without colour codes when standard error is
//! not a terminal (a pipe, a file, the journal), JSON lines with `LOYALTY_LOG_FORMAT=json`,
//! and a clear error for a format that does not exist.

use crate::support::{command, stderr};
use loyalty_testkit::{Kind, TestDb};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

/// Runs `loyalty serve` until it listens, stops it, and returns what it logged. Without
/// `NO_COLOR`, so only the terminal check keeps colour codes out.
fn serve_log(db: &TestDb, env: &[(&str, &str)]) -> String {
    let mut child = command(&db.url)
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let out = child.stdout.take().expect("stdout");
    // Kept open until the end: a closed pipe would end the server on its next line.
    let mut lines = BufReader::new(out).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("loyalty listening on "));
    assert!(listening, "serve did not start");
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    drop(lines);
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("read stderr");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let db = TestDb::new(Kind::Sqlite).await;
    let log = serve_log(&db, &[]);
    assert!(log.contains("loyalty listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe: {log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loyalty_log_format_json_gives_one_json_object_a_line() {
    let db = TestDb::new(Kind::Sqlite).await;
    let log = serve_log(&db, &[("LOYALTY_LOG_FORMAT", "json")]);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "loyalty listening"),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "{log:?}");

    let out = command(&db.url)
        .env("LOYALTY_LOG_FORMAT", "xml")
        .args(["config"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("log.format"),
        "names the setting: {}",
        stderr(&out)
    );
}
