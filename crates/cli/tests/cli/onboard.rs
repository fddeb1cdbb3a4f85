//! `loyalty onboard` and `loyalty org` from the command line: the operator's name in the
//! audit log, output into a pipe that closes early.

use super::support::{command, loyalty, stderr, stdout};
use loyalty_testkit::{TestDb, both_backends};
use std::process::Stdio;

const RUNBOOK_YAML: &str = r#"
Organization:
  name: "NextDoorMarket"
  slug: "nextdoor"  # Lowercase, no spaces, used in group names
  country: "US"
  timezone: "America/New_York"

Admin Contact:
  name: "Jane Smith"
  email: "jane.smith@nextdoormarket.com"
  phone: "+1 555-123-4567"
  language: "en-US"

Business Details:
  plan: "basic" | "premium"
  deployment_type: "multi-tenant" | "single-tenant"
  contract_start: "2025-01-01"
  users_estimate: 100  # Number of expected users

Technical:
  custom_domain: "app.nextdoormarket.com" # Optional
  smtp_provider: "sendgrid" | "ses" | "smtp"
  backup_schedule: "daily" | "weekly"
"#;

fn org_count(db: &TestDb) -> usize {
    let out = loyalty(db, &["org", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .expect("json")
        .len()
}

const NEXTDOOR: &[&str] = &[
    "onboard",
    "--name",
    "NextDoor Market",
    "--slug",
    "nextdoor",
    "--admin-email",
    "jane.smith@nextdoormarket.com",
    "--admin-name",
    "Jane Smith",
];

both_backends! {
    async fn onboarding_from_flags_prints_the_summary_and_a_second_run_changes_nothing(db) {
        let out = loyalty(&db, NEXTDOOR);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        for expected in ["Onboarded NextDoor Market (nextdoor)", "nextdoor-admins, nextdoor-cashiers, nextdoor-customers", "nextdoor_admin", "/auth/set-password?token=", "Login URL"] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        // The steps name the real groups; the checks of runbook step 6 follow.
        for expected in ["group nextdoor-admins ", "group nextdoor-cashiers ", "group nextdoor-customers ", "Checks (runbook step 6", "OK   organization nextdoor is active", "OK   nextdoor has an admin (nextdoor_admin)", "OK   nextdoor_admin has a membership row in nextdoor (role admin)", "WARN nextdoor_admin can sign in with a password (no password set yet"] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert!(!text.contains("{prefix}"), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
        let again = loyalty(&db, NEXTDOOR);
        assert_eq!(again.status.code(), Some(0));
        assert!(stdout(&again).contains("already onboarded; nothing changed"), "{}", stdout(&again));
        assert!(!stdout(&again).contains("token="), "no new link on a re-run");
        assert_eq!(org_count(&db), 1);

        let show = loyalty(&db, &["org", "show", "nextdoor", "--json"]);
        let org: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
        assert_eq!(org["status"], "active");
        assert_eq!(org["currency"], "USD");
    }

    async fn every_bad_flag_exits_2_naming_the_flag_and_writes_nothing(db) {
        let cases: &[(&[&str], &str)] = &[
            (&["--slug", "Next Door"], "--slug"),
            (&["--slug", "admin"], "--slug"),
            (&["--name", "  "], "--name"),
            (&["--admin-email", "jane-at-nextdoor"], "--admin-email"),
            (&["--admin-name", ""], "--admin-name"),
        ];
        for (override_args, field) in cases {
            let mut args: Vec<&str> = NEXTDOOR.to_vec();
            let at = args.iter().position(|a| *a == override_args[0]).expect("flag present");
            args[at + 1] = override_args[1];
            let out = loyalty(&db, &args);
            assert_eq!(out.status.code(), Some(2), "{override_args:?}: {}", stderr(&out));
            assert!(stderr(&out).contains(&format!("{field}:")), "{override_args:?}: {}", stderr(&out));
        }
        for (extra, field) in [(["--plan", "gold"], "--plan"), (["--country", "USA"], "--country"), (["--timezone", "America/Gotham"], "--timezone"), (["--language", "english please"], "--language"), (["--currency", "DOGE"], "--currency")] {
            let mut args: Vec<&str> = NEXTDOOR.to_vec();
            args.extend_from_slice(&extra);
            let out = loyalty(&db, &args);
            assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
            assert!(stderr(&out).contains(&format!("{field}:")), "{extra:?}: {}", stderr(&out));
        }
        let missing = loyalty(&db, &["onboard", "--slug", "nextdoor"]);
        assert_eq!(missing.status.code(), Some(2));
        for f in ["--name: is required", "--admin-email: is required", "--admin-name: is required"] {
            assert!(stderr(&missing).contains(f), "{}", stderr(&missing));
        }
        assert_eq!(org_count(&db), 0, "nothing written");
    }

    async fn the_runbook_yaml_as_written_is_refused_and_once_filled_in_onboards(db) {
        let dir = tempfile::tempdir().expect("dir");
        let template = dir.path().join("client.yaml");
        std::fs::write(&template, RUNBOOK_YAML).expect("write");
        let out = loyalty(&db, &["onboard", "--file", template.to_str().expect("path")]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("Business Details.plan: still holds the template's choices"), "{err}");
        assert!(err.contains("Technical.backup_schedule"), "{err}");
        assert_eq!(org_count(&db), 0);

        let filled = RUNBOOK_YAML
            .replace(r#""basic" | "premium""#, r#""premium""#)
            .replace(r#""multi-tenant" | "single-tenant""#, r#""multi-tenant""#)
            .replace(r#""sendgrid" | "ses" | "smtp""#, r#""ses""#)
            .replace(r#""daily" | "weekly""#, r#""daily""#);
        std::fs::write(&template, filled).expect("write");
        let out = loyalty(&db, &["onboard", "--file", template.to_str().expect("path"), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(report["organization"]["plan"], "premium");
        assert_eq!(report["organization"]["custom_domain"], "app.nextdoormarket.com");
        assert_eq!(report["organization"]["contract_start"], "2025-01-01");
        assert_eq!(report["credential"]["kind"], "link");
    }

    async fn password_output_prints_a_generated_password(db) {
        let mut args = NEXTDOOR.to_vec();
        args.extend_from_slice(&["--password-output", "--json"]);
        let out = loyalty(&db, &args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(report["credential"]["kind"], "password");
        assert_eq!(report["credential"]["password"].as_str().map(str::len), Some(24));
    }

    async fn suspend_and_activate_report_what_changed(db) {
        assert!(loyalty(&db, NEXTDOOR).status.success());
        let s1 = loyalty(&db, &["org", "suspend", "nextdoor"]);
        assert!(stdout(&s1).contains("suspended"), "{}", stdout(&s1));
        let s2 = loyalty(&db, &["org", "suspend", "nextdoor"]);
        assert!(stdout(&s2).contains("already suspended; nothing changed"), "{}", stdout(&s2));
        let list = loyalty(&db, &["org", "list"]);
        assert!(stdout(&list).contains("suspended"), "{}", stdout(&list));
        let a = loyalty(&db, &["org", "activate", "nextdoor", "--json"]);
        let change: serde_json::Value = serde_json::from_slice(&a.stdout).expect("json");
        assert_eq!((change["changed"].as_bool(), change["org"]["status"].as_str()), (Some(true), Some("active")));
        let unknown = loyalty(&db, &["org", "show", "nobody"]);
        assert_eq!(unknown.status.code(), Some(2));
        assert!(stderr(&unknown).contains("organization \"nobody\" not found"), "{}", stderr(&unknown));
    }

    async fn the_operators_name_goes_into_the_audit_log(db) {
        let onboarded = command(&db.url).args(NEXTDOOR).args(["--by", "olga"]).output().expect("runs");
        assert!(onboarded.status.success(), "{}", stderr(&onboarded));
        assert!(loyalty(&db, &["org", "suspend", "nextdoor", "--by", "sam"]).status.success());
        let activated = command(&db.url).args(["org", "activate", "nextdoor"]).env("USER", "uma").output().expect("runs");
        assert!(activated.status.success(), "{}", stderr(&activated));
        let ticked = command(&db.url).args(["org", "checklist", "nextdoor", "--done", "walkthrough"]).env("USER", "uma").output().expect("runs");
        assert!(ticked.status.success(), "{}", stderr(&ticked));
        assert!(loyalty(&db, &["org", "checklist", "nextdoor", "--undo", "walkthrough", "--by", "sam"]).status.success());

        let org = loyalty_core::service::orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let mut records = db.store.audit_log(org.id, None, 100).await.expect("audit");
        records.reverse();
        let got: Vec<(&str, &str, &str)> = records
            .iter()
            .filter(|r| r.action.starts_with("org.") || r.action.starts_with("checklist."))
            .filter(|r| r.actor != "loyalty")
            .map(|r| (r.actor.as_str(), r.actor_role.as_str(), r.action.as_str()))
            .collect();
        assert_eq!(got, vec![
            ("olga", "operator", "org.onboard"),
            ("sam", "operator", "org.suspend"),
            ("uma", "operator", "org.reactivate"),
            ("uma", "operator", "checklist.tick"),
            ("sam", "operator", "checklist.untick"),
        ]);
    }

    async fn a_reader_that_goes_away_early_ends_the_output_quietly(db) {
        assert!(loyalty(&db, NEXTDOOR).status.success());
        for args in [&["org", "list"][..], &["org", "list", "--json"], &["org", "show", "nextdoor"], &["config"]] {
            // The reading end is closed before loyalty writes anything, as `| head -c1`
            // does after its byte: every write finds a broken pipe.
            let mut child = command(&db.url)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            drop(child.stdout.take());
            let out = child.wait_with_output().expect("wait");
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
            assert!(!err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"), "{args:?}: {err}");
        }
    }

    async fn four_concurrent_runs_of_one_slug_give_one_password_and_three_clear_refusals(db) {
        // The test holds the organizations table so that the four runs all look for the
        // slug, find nothing and queue on creating it: the worst case for a
        // check-then-create.
        let gate = Gate::close(&db).await;
        let runs: Vec<_> = (0..4)
            .map(|_| {
                command(&db.url)
                    .args(NEXTDOOR)
                    .arg("--password-output")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("loyalty starts")
            })
            .collect();
        let pids: Vec<u32> = runs.iter().map(|c| c.id()).collect();
        gate.open(&db, &pids).await;
        let outs: Vec<_> = runs.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
        let (won, lost): (Vec<_>, Vec<_>) = outs.iter().partition(|o| o.status.success());
        let all = || outs.iter().map(|o| format!("{}\n{}", stdout(o), stderr(o))).collect::<Vec<_>>().join("\n----\n");
        assert_eq!(won.len(), 1, "exactly one run succeeds:\n{}", all());
        assert!(stdout(won[0]).contains("Generated password for"), "{}", all());
        for o in &lost {
            assert_eq!(o.status.code(), Some(2), "{}", all());
            let err = stderr(o);
            assert!(err.contains("organization nextdoor is being onboarded by another run"), "{err}");
            assert!(!stdout(o).contains("Generated password"), "{}", all());
        }
        assert_eq!(org_count(&db), 1);
        // The password that was shown is the one that works.
        let password = stdout(won[0])
            .lines()
            .skip_while(|l| !l.contains("Generated password for"))
            .nth(1)
            .expect("password line")
            .trim()
            .to_owned();
        let who = db.directory(std::sync::Arc::new(loyalty_core::clock::SystemClock));
        let signed_in = who.authenticate("nextdoor_admin", &password.into()).await;
        assert!(signed_in.is_ok(), "the shown password signs in");
    }
}

/// Holds the organizations table against writes (reads go on) until opened.
enum Gate {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Gate {
    async fn close(db: &TestDb) -> Self {
        use sqlx::Connection;
        match db.kind {
            loyalty_testkit::Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
                sqlx::raw_sql("BEGIN; LOCK TABLE organizations IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut c)
                    .await
                    .expect("lock");
                Gate::Postgres(c)
            }
            loyalty_testkit::Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url)
                    .await
                    .expect("connect");
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .expect("lock");
                Gate::Sqlite(c)
            }
        }
    }

    /// Opens once the runs `pids` wait on it: PostgreSQL shows them waiting; on SQLite,
    /// once each has the database open, a second more lets each reach its write, where
    /// it waits (up to 10 s).
    async fn open(self, db: &TestDb, pids: &[u32]) {
        match self {
            Gate::Postgres(mut c) => {
                use sqlx::Connection;
                let mut watch = sqlx::PgConnection::connect(&db.url).await.expect("connect");
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                loop {
                    let waiting: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .fetch_one(&mut watch)
                    .await
                    .expect("waiting");
                    if waiting >= 4 || std::time::Instant::now() > deadline {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                sqlx::raw_sql("COMMIT")
                    .execute(&mut c)
                    .await
                    .expect("unlock");
            }
            Gate::Sqlite(mut c) => {
                let file = db.url.trim_start_matches("sqlite://").to_owned();
                let has_open = |pid: &u32| {
                    std::fs::read_dir(format!("/proc/{pid}/fd"))
                        .into_iter()
                        .flatten()
                        .flatten()
                        .any(|fd| {
                            std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy() == file)
                        })
                };
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
                while !pids.iter().all(has_open) && std::time::Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                sqlx::raw_sql("COMMIT")
                    .execute(&mut c)
                    .await
                    .expect("unlock");
            }
        }
    }
}
