//! The real OpenID provider of these tests: `node provider/server.js` (the npm package
//! `oidc-provider`), installed with `npm ci` on first use when `node_modules` is missing.
//! Without node or npm the tests fail naming them, unless `LOYALTY_TEST_SKIP` names
//! `node`, so no machine passes by running nothing.

use loyalty_identity::oidc::{OidcClient, OidcConfig, OidcOptions};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

/// Our client at the provider.
pub const CLIENT_ID: &str = "nextdoor-loyalty";
/// Its secret (with characters that HTTP Basic authentication must form-encode).
pub const CLIENT_SECRET: &str = "s3cret with spaces:and/colons";
/// Where the provider sends the browser back; nothing listens there: the browser stops
/// at the redirect.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";
/// The one account with claims.
pub const SUBJECT: &str = "5e982924df64d093d4828e8d7a5d3431660e81d84dbbd1f2c36dcca96c32917c";

/// Where the provider's claims go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsIn {
    /// In the ID token, with JWT access tokens that carry them too (like Authentik).
    IdToken,
    /// Only at the userinfo endpoint, with opaque access tokens.
    Userinfo,
}

#[derive(Deserialize)]
struct Hello {
    issuer: String,
    kid: String,
    private_key_pem: String,
    foreign_key_pem: String,
}

/// A running provider; killed when dropped.
pub struct Provider {
    /// `http://127.0.0.1:PORT` (as the provider announces it).
    pub issuer: String,
    /// Id of the key it signs with.
    pub kid: String,
    /// That key, PEM (PKCS#1).
    pub private_key_pem: String,
    /// A key it does not know, PEM.
    pub foreign_key_pem: String,
    _child: Child,
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider")
}

/// Node and npm are needed: their absence fails the test with the install command,
/// unless `LOYALTY_TEST_SKIP` names `node` (the suite's rule, `loyalty_testkit::tools`,
/// which this crate's tests cannot depend on: the testkit depends on this crate).
fn missing(what: &str) -> Option<Provider> {
    let left_out = std::env::var("LOYALTY_TEST_SKIP")
        .is_ok_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("node")));
    let message = format!("{what}; the OIDC tests need Node.js 20+ and npm");
    assert!(
        left_out,
        "{message}. Install them with `apt-get install nodejs npm` (./scripts/test does this \
         first), or leave this part out on purpose with LOYALTY_TEST_SKIP=node"
    );
    eprintln!("LEFT OUT (LOYALTY_TEST_SKIP names node): {message}");
    None
}

/// Installs `oidc-provider` from the lock file when it is not there yet. A file lock
/// keeps parallel test processes from running `npm ci` at the same time.
fn ensure_installed() -> Result<(), String> {
    let dir = provider_dir();
    let marker = dir.join("node_modules/oidc-provider/package.json");
    if marker.exists() {
        return Ok(());
    }
    let lock_path = std::env::temp_dir().join("loyalty-oidc-provider-npm.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    if marker.exists() {
        return Ok(());
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !status.success() {
        return Err(format!(
            "npm ci --prefix {} failed: {status}",
            dir.display()
        ));
    }
    Ok(())
}

/// Starts `node server.js`, its stderr collected in the background.
fn spawn(claims_in: ClaimsIn) -> (Child, Arc<Mutex<String>>) {
    let mut child = Command::new("node")
        .arg("server.js")
        .current_dir(provider_dir())
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", REDIRECT_URI)
        .env(
            "CLAIMS_IN",
            match claims_in {
                ClaimsIn::IdToken => "id_token",
                ClaimsIn::Userinfo => "userinfo",
            },
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let stderr_text = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().expect("stderr");
    let sink = stderr_text.clone();
    tokio::spawn(async move {
        let mut buf = String::new();
        let _ = stderr.read_to_string(&mut buf).await;
        sink.lock().unwrap().push_str(&buf);
    });
    (child, stderr_text)
}

impl Provider {
    /// Starts a provider, or `None` when `LOYALTY_TEST_SKIP` names `node` and node is missing.
    pub async fn start(claims_in: ClaimsIn) -> Option<Self> {
        loyalty_identity::authentik::install_crypto_provider();
        if std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_err()
        {
            return missing("node is not installed");
        }
        if let Err(e) = ensure_installed() {
            if std::process::Command::new("npm")
                .arg("--version")
                .output()
                .is_err()
            {
                return missing("npm is not installed");
            }
            panic!("installing oidc-provider: {e}");
        }
        // Node loads the provider in a few seconds alone, but a whole suite on two cores
        // can starve it for longer. A start that announces nothing in time is tried again
        // with a fresh process (once, in CI, node sat silent for minutes); a provider that
        // never starts still fails here, with what each try printed.
        let mut failures = Vec::new();
        let (child, first) = loop {
            let (mut child, stderr_text) = spawn(claims_in);
            let stdout = child.stdout.take().expect("stdout");
            let mut first = String::new();
            let read = tokio::time::timeout(
                Duration::from_secs(45),
                BufReader::new(stdout).read_line(&mut first),
            )
            .await;
            if matches!(read, Ok(Ok(n)) if n > 0) {
                break (child, first);
            }
            let _ = child.start_kill();
            tokio::time::sleep(Duration::from_millis(200)).await;
            failures.push(format!(
                "try {}: {read:?}\n{}",
                failures.len() + 1,
                stderr_text.lock().unwrap()
            ));
            assert!(
                failures.len() < 3,
                "the OIDC provider did not start:\n{}",
                failures.join("\n")
            );
        };
        let hello: Hello = serde_json::from_str(&first).expect("the provider's first line");
        Some(Self {
            issuer: hello.issuer,
            kid: hello.kid,
            private_key_pem: hello.private_key_pem,
            foreign_key_pem: hello.foreign_key_pem,
            _child: child,
        })
    }

    /// Our configuration for this provider.
    pub fn config(&self) -> OidcConfig {
        OidcConfig {
            issuer: Url::parse(&self.issuer).unwrap(),
            client_id: CLIENT_ID.into(),
            client_secret: SecretString::from(CLIENT_SECRET),
            redirect_url: Url::parse(REDIRECT_URI).unwrap(),
        }
    }

    /// Options for this provider: the `api` scope as well, which makes it issue JWT
    /// access tokens in [`ClaimsIn::IdToken`] mode.
    pub fn options(&self) -> OidcOptions {
        OidcOptions {
            scopes: ["openid", "email", "profile", "api"]
                .map(String::from)
                .to_vec(),
            ..OidcOptions::default()
        }
    }

    /// A discovered client with [`Self::options`].
    pub async fn client(&self) -> OidcClient {
        self.client_with(self.options()).await
    }

    /// A discovered client with `options`.
    pub async fn client_with(&self, options: OidcOptions) -> OidcClient {
        OidcClient::discover_with(self.config(), options)
            .await
            .expect("discovery")
    }

    /// How many times the JWKS was fetched so far.
    pub async fn jwks_fetches(&self) -> u32 {
        reqwest::get(format!("{}/test/jwks-fetches", self.issuer))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Makes the provider sign with a new key; returns its id.
    pub async fn rotate(&mut self) -> String {
        #[derive(Deserialize)]
        struct Rotated {
            kid: String,
            private_key_pem: String,
        }
        let r: Rotated = reqwest::Client::new()
            .post(format!("{}/test/rotate", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.kid = r.kid.clone();
        self.private_key_pem = r.private_key_pem;
        r.kid
    }
}
