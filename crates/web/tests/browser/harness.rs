//! Chromedriver, a headless Chromium session and a served application.

use loyalty_core::clock::{Clock, SystemClock};
use loyalty_identity::BuiltinDirectory;
use loyalty_testkit::TestDb;
use loyalty_web::{AppState, Identity, WebConfig};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use thirtyfour::prelude::*;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser tests can run here; a missing browser fails the test (see
/// `loyalty_testkit::tools`).
pub fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    loyalty_testkit::tools::required(
        "browser",
        present,
        &format!("{CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)"),
        "apt-get install chromium chromium-driver",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Keeps every Content-Security-Policy violation and script error of the site's pages in
/// `localStorage` (it survives navigation), for [`problems`].
const WATCH: &str = r#"(function () {
  function keep(text) {
    try {
      var a = JSON.parse(localStorage.getItem("__problems") || "[]");
      a.push(text + " on " + location.pathname);
      localStorage.setItem("__problems", JSON.stringify(a));
    } catch (e) {}
  }
  document.addEventListener("securitypolicyviolation", function (e) {
    keep("CSP " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
      " (" + e.sourceFile + ":" + e.lineNumber + ") " +
      ((e.target && e.target.outerHTML) || "").slice(0, 300));
  });
  window.addEventListener("error", function (e) {
    keep("error " + (e.message || (e.target && (e.target.src || e.target.href)) || "?") +
      " " + ((e.target && e.target.outerHTML) || "").slice(0, 300));
  }, true);
})();"#;

/// The CSP violations and script errors seen on the current site since the last call.
pub async fn problems(d: &WebDriver) -> Vec<String> {
    let got = d
        .execute(
            "var a = localStorage.getItem('__problems') || '[]'; localStorage.removeItem('__problems'); return a;",
            Vec::new(),
        )
        .await
        .expect("reading the page watch");
    let text: String = got.convert().expect("a string");
    serde_json::from_str(&text).expect("a list")
}

/// Fails when a page of the site broke its Content-Security-Policy or threw an error.
pub async fn assert_no_problems(d: &WebDriver) {
    let seen = problems(d).await;
    assert!(
        seen.is_empty(),
        "CSP violations or script errors: {seen:#?}"
    );
}

/// A running chromedriver, killed when dropped.
pub struct Driver {
    child: Child,
    _profile: tempfile::TempDir,
    pub driver: Option<WebDriver>,
}

impl Driver {
    pub async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).unwrap();
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            "--lang=en-US",
        ] {
            caps.add_arg(arg).unwrap();
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .unwrap();
        let driver = WebDriver::new(url.as_str(), caps)
            .await
            .expect("a Chromium session starts");
        // Runs in every page before its own scripts, so no violation is missed.
        driver
            .cdp()
            .send_raw(
                "Page.addScriptToEvaluateOnNewDocument",
                serde_json::json!({ "source": WATCH }),
            )
            .await
            .expect("the page watch is installed");
        Driver {
            child,
            _profile: profile,
            driver: Some(driver),
        }
    }

    pub fn d(&self) -> &WebDriver {
        self.driver.as_ref().unwrap()
    }

    pub async fn quit(mut self) {
        if let Some(d) = self.driver.take() {
            let _ = d.quit().await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The application served on a free port.
pub struct Served {
    pub base: String,
    pub state: AppState,
    pub directory: BuiltinDirectory,
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The folder the XLSX exports make their private folders in (as `backup.dir`).
    pub scratch: tempfile::TempDir,
}

impl Served {
    pub async fn start(db: &TestDb) -> Served {
        Self::start_with_clock(db, Arc::new(SystemClock)).await
    }

    /// Served with a clock the test controls (a [`loyalty_core::clock::FixedClock`]).
    pub async fn start_with_clock(db: &TestDb, clock: Arc<dyn Clock>) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let scratch = tempfile::tempdir().unwrap();
        let directory = BuiltinDirectory::new(
            db.store.clone(),
            clock.clone(),
            &base,
            time::Duration::hours(72),
        );
        let state = AppState {
            store: db.store.clone(),
            directory: Arc::new(directory.clone()),
            clock,
            identity: Identity::Builtin(directory.clone()),
            config: Arc::new(WebConfig {
                public_url: base.clone(),
                scratch_dir: scratch.path().join("backups"),
                // The tests' webhook receivers listen on 127.0.0.1.
                webhooks_allow_private: true,
                ..WebConfig::default()
            }),
        };
        let addr = listener.local_addr().unwrap();
        let mut served = Served {
            base,
            state,
            directory,
            addr,
            stop: None,
            task: None,
            scratch,
        };
        served.serve(listener);
        served
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = self.state.clone();
        self.task = Some(tokio::spawn(async move {
            let _ = loyalty_web::serve(listener, s, async move {
                let _ = stopped.await;
            })
            .await;
        }));
        self.stop = Some(stop);
    }

    /// Stops the server: the port closes at once (requests already being answered
    /// finish), so the browser's next request fails as with a server that is down.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Serves again on the same address: the same origin, so the browser keeps its
    /// storage, session cookie and service worker.
    pub async fn restart(&mut self) {
        for _ in 0..100 {
            if let Ok(listener) = tokio::net::TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cannot listen on {} again", self.addr);
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Where screenshots go: `target/screenshots/` of the workspace.
pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until the element at `css` shows `text` (up to 10 s); returns its text.
pub async fn wait_text(d: &WebDriver, css: &str, text: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(el) = d.find(By::Css(css)).await
            && let Ok(t) = el.text().await
        {
            if t.contains(text) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = d
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let src = d.source().await.unwrap_or_default();
    panic!("{css} never showed {text:?} (last {last:?}) at {url}:\n{src}");
}

/// Waits until no element matches `css` (up to 10 s): the page a click submitted has
/// been replaced by the answer.
pub async fn wait_gone(d: &WebDriver, css: &str) {
    for _ in 0..100 {
        if d.find(By::Css(css)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = d
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    panic!("{css} is still on the page at {url}");
}

/// Types into the field with id `id` (clearing it first).
pub async fn fill(d: &WebDriver, id: &str, value: &str) {
    let el = d
        .find(By::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

/// Clicks the element at `css`.
pub async fn click(d: &WebDriver, css: &str) {
    d.find(By::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Lets the page download files into `dir` (headless Chromium refuses downloads until
/// told where they go) and returns the first finished file that appears there.
pub async fn download(d: &WebDriver, dir: &std::path::Path, link_css: &str) -> PathBuf {
    d.cdp()
        .send_raw(
            "Browser.setDownloadBehavior",
            serde_json::json!({ "behavior": "allow", "downloadPath": dir.to_str().unwrap() }),
        )
        .await
        .expect("downloads are allowed");
    click(d, link_css).await;
    for _ in 0..200 {
        let done = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.extension()
                    .is_some_and(|e| e != "crdownload" && e != "tmp")
            });
        if let Some(file) = done {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no file was downloaded into {} after clicking {link_css}",
        dir.display()
    );
}
