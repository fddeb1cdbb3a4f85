//! Running the binary and a server against a test database.

use loyalty_testkit::{Kind, TestDb};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs `loyalty` with `DATABASE_URL` pointing at `db`, in a temporary working folder.
pub fn loyalty(db: &TestDb, args: &[&str]) -> Output {
    command(&db.url).args(args).output().expect("loyalty runs")
}

/// A `loyalty` command with a clean environment and this database.
pub fn command(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LOYALTY_")
            || k.starts_with("DATABASE_")
            || k.starts_with("SMTP_")
            || k == "AUTHENTIK_URL"
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        // Servers of tests run side by side: each its own metrics port.
        .env("LOYALTY_METRICS__LISTEN", "127.0.0.1:0")
        .current_dir(std::env::temp_dir());
    cmd
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A running `loyalty serve`, stopped with SIGTERM when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `http://127.0.0.1:PORT/metrics` of the metrics listener.
    pub metrics: String,
    /// Lines printed before it listened (the demo password, for example).
    pub banner: Vec<String>,
}

impl Server {
    /// Starts `loyalty serve` on a free port with extra arguments and waits until it listens.
    pub fn start(url: &str, extra: &[&str]) -> Result<Server, String> {
        Self::start_with_env(url, extra, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(
        url: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let mut child = command(url)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let out = child.stdout.take().expect("stdout");
        let mut banner = Vec::new();
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("loyalty listening on ") {
                let base = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let metrics = banner
                    .iter()
                    .find_map(|l: &String| l.strip_prefix("metrics on "))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                return Ok(Server {
                    child,
                    base,
                    metrics,
                    banner,
                });
            }
            banner.push(line);
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        Err(format!(
            "serve exited with {status} before listening: {err}"
        ))
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP client that does not follow redirects.
pub fn http() -> reqwest::Client {
    loyalty_identity::authentik::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Whether PostgreSQL tests are skipped on this machine.
pub fn skip(kind: Kind) -> bool {
    kind == Kind::Postgres && loyalty_testkit::skip_postgres()
}
