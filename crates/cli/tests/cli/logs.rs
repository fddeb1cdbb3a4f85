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

/// A person's values that must never reach a log line.
const PERSONAL: [&str; 8] = [
    "Zelda Logline-Quixote",
    "zelda.logline@example.net",
    "2025550188",
    // A mistyped address is still the person's: an error about it names the field only.
    "zelda.logline@@example.net",
    // The imported person.
    "Otto Importado",
    "otto.importado@example.net",
    "2025550199",
    "1993-04-17",
];

loyalty_testkit::both_backends! {
    async fn a_customer_s_personal_values_never_reach_a_log_line(db) {
        use loyalty_core::service::orgs;
        use std::time::Duration;

        let dir = tempfile::tempdir().expect("dir");
        let onboard = command(&db.url)
            .args(["onboard", "--name", "Padaria Zelda", "--slug", "padaria", "--admin-email", "dona@padaria.example.com", "--admin-name", "Dona Admin"])
            .current_dir(dir.path())
            .output()
            .expect("onboard runs");
        assert!(onboard.status.success(), "{}", stderr(&onboard));
        // A second person comes from a customer file, with a birth date and a bad row.
        let file = dir.path().join("clientes.csv");
        std::fs::write(&file, "name,email,phone,birth_date,opening_balance\nOtto Importado,otto.importado@example.net,+12025550199,1993-04-17,10\nOtto Importado,otto.importado@@example.net,,,\n").expect("csv");
        let import = command(&db.url)
            .env("RUST_LOG", "trace")
            .args(["import", "customers", "--org", "padaria", "--skip-invalid"])
            .arg(&file)
            .current_dir(dir.path())
            .output()
            .expect("import runs");
        assert!(import.status.success(), "{}", stderr(&import));
        let import_log = stderr(&import);
        let org = orgs::get(db.store.as_ref(), "padaria").await.expect("org");
        let secret_value = format!("lyt_{}", loyalty_core::secret::random_token());
        let actor = loyalty_core::domain::ledger::Actor { member_id: None, label: "setup".into(), role: "admin".into(), request_id: None };
        db.store
            .insert_api_token(org.id, "back office", loyalty_core::domain::Role::Admin, &loyalty_core::secret::hash_token(&secret_value), &actor, time::OffsetDateTime::now_utc())
            .await
            .expect("token");

        // The most talkative server there is: every crate at every level.
        let log_path = dir.path().join("serve.log");
        let log_file = std::fs::File::create(&log_path).expect("log file");
        let mut child = command(&db.url)
            .env("RUST_LOG", "trace")
            .env("LOYALTY_BACKUP__DIR", dir.path().join("backups"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("serve starts");
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("loyalty listening on ").map(|r| r.split_whitespace().next().unwrap_or_default().to_owned()))
            .expect("serve listens");
        let api = format!("{base}/api/v1/orgs/padaria");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let auth = format!("Bearer {secret_value}");
        let send = |req: reqwest::RequestBuilder| {
            let auth = auth.clone();
            async move {
                let resp = req
                    .header("authorization", auth)
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .send()
                    .await
                    .expect("request");
                let status = resp.status().as_u16();
                (status, resp.json::<serde_json::Value>().await.unwrap_or_default())
            }
        };

        // Refused input first: a mistyped email and a duplicate.
        let (status, body) = send(http.post(format!("{api}/customers")).json(&serde_json::json!({"name": PERSONAL[0], "email": PERSONAL[3]}))).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = send(http.post(format!("{api}/customers")).json(&serde_json::json!({"name": PERSONAL[0], "email": PERSONAL[1], "phone": format!("+1{}", PERSONAL[2])}))).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let card = body["card_number"].as_str().expect("card").to_owned();
        let (status, body) = send(http.post(format!("{api}/customers")).json(&serde_json::json!({"name": PERSONAL[0], "email": PERSONAL[1]}))).await;
        assert_eq!(status, 409, "{body}");

        // Look-ups by every personal key, an award, the data package, then the erasure.
        for q in [PERSONAL[1].to_owned(), format!("+1{}", PERSONAL[2]), card.clone()] {
            let (status, body) = send(http.get(reqwest::Url::parse_with_params(&format!("{api}/customers"), &[("q", q.as_str())]).expect("url"))).await;
            assert_eq!(status, 200, "{q}: {body}");
        }
        let (status, body) = send(http.post(format!("{api}/purchases")).json(&serde_json::json!({"customer_id": id, "amount": "25.50"}))).await;
        assert_eq!(status, 201, "{body}");
        let export = http.get(format!("{api}/customers/{id}/export")).header("authorization", &auth).send().await.expect("export");
        assert_eq!(export.status().as_u16(), 200);
        assert!(!export.bytes().await.expect("package").is_empty());
        let (status, body) = send(http.post(format!("{api}/customers/{id}/erase")).json(&serde_json::json!({"confirm": "ERASE"}))).await;
        assert_eq!(status, 200, "{body}");

        let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let status = child.wait().expect("wait");
        drop(lines);
        assert_eq!(status.code(), Some(0));
        let log = std::fs::read_to_string(&log_path).expect("read log") + &import_log;
        // The log did see all of it: the requests, by path and customer id.
        assert!(log.contains(&format!("/customers/{id}/erase")), "the requests are logged: {log}");
        assert!(log.contains(" DEBUG "), "the debug level is logged too: {log}");
        for value in PERSONAL.iter().copied().chain([card.as_str()]) {
            let line = log.lines().find(|l| l.contains(value));
            assert!(line.is_none(), "{value:?} in a log line: {}", line.unwrap_or_default());
        }
    }
}
