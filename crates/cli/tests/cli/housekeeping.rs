//! `loyalty housekeeping` end to end, on both backends: a dry run counts and changes
//! nothing, a pass removes what is past retention, `loyalty doctor` warns until it has
//! run, and a setting that would forget too early is refused with exit code 2.

use super::support::{command, loyalty, stderr, stdout};
use loyalty_testkit::both_backends;
use time::{Duration, OffsetDateTime};

fn rows(json: &serde_json::Value, kind: &str) -> u64 {
    json["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["kind"] == kind)
        .and_then(|k| k["rows"].as_u64())
        .expect("kind reported")
}

fn housekeeping(db: &loyalty_testkit::TestDb, dry: bool) -> serde_json::Value {
    let mut args = vec!["housekeeping", "--json"];
    if dry {
        args.push("--dry-run");
    }
    let out = loyalty(db, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("json")
}

fn housekeeping_check(db: &loyalty_testkit::TestDb) -> String {
    let out = loyalty(db, &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("doctor json");
    let check = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "database.housekeeping")
        .cloned()
        .expect("the housekeeping check runs");
    check["status"].as_str().expect("status").to_owned()
}

both_backends! {
    async fn a_dry_run_counts_a_pass_removes_and_the_doctor_sees_the_difference(db) {
        let long_ago = OffsetDateTime::now_utc() - Duration::days(30);
        assert!(db.store.try_lease("old-job", "gone", long_ago, long_ago + Duration::minutes(1)).await.expect("lease"));
        db.store.record_login_failure("addr:192.0.2.1", long_ago - Duration::minutes(15), long_ago).await.expect("throttle");
        assert_eq!(housekeeping_check(&db), "WARN", "rows far past retention are reported");

        let dry = housekeeping(&db, true);
        assert_eq!(dry["dry_run"], true);
        assert_eq!((rows(&dry, "job_leases"), rows(&dry, "login_throttle")), (1, 1), "{dry}");
        assert_eq!(rows(&housekeeping(&db, true), "job_leases"), 1, "a dry run removes nothing");

        let pass = housekeeping(&db, false);
        assert_eq!((rows(&pass, "job_leases"), rows(&pass, "login_throttle")), (1, 1), "{pass}");
        assert!(pass["tables"].as_array().expect("tables").iter().any(|t| t["table"] == "points_transactions"));
        assert_eq!(rows(&housekeeping(&db, true), "job_leases"), 0);
        assert_eq!(housekeeping_check(&db), "OK");

        let text = loyalty(&db, &["housekeeping"]);
        assert!(text.status.success(), "{}", stderr(&text));
        assert!(stdout(&text).contains("Removed 0 rows in total."), "{}", stdout(&text));
    }

    async fn settings_that_forget_too_early_are_refused_and_config_shows_the_defaults(db) {
        let out = command(&db.url)
            .env("LOYALTY_HOUSEKEEPING__IDEMPOTENCY_DAYS", "0")
            .args(["housekeeping"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("housekeeping.idempotency_days"), "{}", stderr(&out));
        let config = loyalty(&db, &["config"]);
        let shown = stdout(&config);
        assert!(shown.contains("[housekeeping]") && shown.contains("idempotency_days = 7") && shown.contains("duty_percent = 10"), "{shown}");
        let out = command(&db.url)
            .env("LOYALTY_HOUSEKEEPING__DUTY_PERCENT", "0")
            .args(["housekeeping"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("housekeeping.duty_percent"), "{}", stderr(&out));
    }

    async fn the_benchmark_runs_a_pass_beside_its_phases_and_the_ledger_holds(db) {
        let long_ago = OffsetDateTime::now_utc() - Duration::days(30);
        for i in 0..5 {
            assert!(db.store.try_lease(&format!("old-{i}"), "gone", long_ago, long_ago + Duration::minutes(1)).await.expect("lease"));
        }
        let out = loyalty(&db, &["bench", "--customers", "50", "--connections", "4", "--duration", "1", "--skip-pgbench", "--housekeeping", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("housekeeping: the pass ended during the benchmark"), "a pass over five rows ends at once: {text}");
        let json: serde_json::Value = serde_json::from_str(&text[text.find("\n{").expect("json") + 1..]).expect("json");
        assert_eq!(json["invariants"]["balance_mismatches"], 0, "{json}");
        assert_eq!(rows(&housekeeping(&db, true), "job_leases"), 0, "the pass removed the old leases");
    }
}
