//! The monitoring files in deploy/ against the running service: every metric the
//! Grafana dashboard and the Prometheus alerts query is one `/metrics` exports (so a
//! renamed metric breaks this test), the dashboard is well formed, and promtool accepts
//! the scrape config, the rules and the rules' unit tests.

use super::app::{CSRF, TestApp, Who};
use super::metrics::scrape;
use loyalty_core::domain::{CustomerId, Role};
use loyalty_testkit::{both_backends, fixed_clock_now};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Metrics of the mail outbox worker, which runs in `loyalty serve` (not in this
/// in-process app); the CLI's mail tests check that serve exports them.
const MAIL_METRICS: &[&str] = &[
    "loyalty_mail_outbox_pending",
    "loyalty_mail_sent_total",
    "loyalty_mail_failed_total",
];

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// `loyalty_*` metric names a PromQL expression mentions.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("loyalty_"))
        .map(str::to_owned)
        .collect()
}

/// Every string under an `expr`, `query` or `definition` key, anywhere in the JSON.
fn queries(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                        out.push(s.clone())
                    }
                    _ => queries(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| queries(i, out)),
        _ => {}
    }
}

/// Names in a scrape, with the series' labels dropped (histograms show as `_bucket`,
/// `_sum` and `_count`).
async fn exported_after_traffic(app: &TestApp) -> BTreeSet<String> {
    let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
    let r = app
        .post(
            &cashier,
            "/o/alpha/till/enroll",
            &[("csrf", CSRF), ("phone", "202-555-0100"), ("name", "Ana")],
        )
        .await;
    let customer_url = r.location().split('?').next().unwrap().to_owned();
    let preview = app
        .get(&cashier, &format!("{customer_url}/award?amount=12.50"))
        .await;
    let idem = super::app::hidden(&preview.body, "idem");
    let r = app
        .post(
            &cashier,
            &format!("{customer_url}/award"),
            &[("csrf", CSRF), ("idem", idem.as_str()), ("amount", "12.50")],
        )
        .await;
    assert!(r.location().contains("done=awarded"), "{}", r.location());
    let ctx = loyalty_core::service::points::Ctx {
        store: app.db.store.as_ref(),
        clock: &loyalty_testkit::fixed_clock(),
        org: &app.a,
        actor: loyalty_core::domain::ledger::Actor::system(),
        role: Role::Admin,
    };
    let id: CustomerId = customer_url.rsplit('/').next().unwrap().parse().unwrap();
    loyalty_testkit::till::redeem(&ctx, id, None, Some(5), "deploy-redeem")
        .await
        .unwrap();
    let body = super::app::form(&[
        ("username", "alpha_cashier"),
        ("password", "wrong"),
        ("next", "/"),
    ]);
    assert_eq!(
        app.send(
            &Who::anonymous(),
            "POST",
            "/login",
            Some(body),
            &[("origin", super::app::ORIGIN)]
        )
        .await
        .status,
        401
    );
    app.db
        .store
        .upsert_member(
            app.a.id,
            &loyalty_core::store::NewMember {
                identity_subject: cashier.uid.clone(),
                role: Role::Cashier,
                email: None,
                name: None,
                created_by: None,
            },
            fixed_clock_now(),
        )
        .await
        .unwrap();
    let body = super::app::form(&[
        ("username", "alpha_cashier"),
        ("password", "password-1234"),
        ("next", "/"),
    ]);
    assert_eq!(
        app.send(
            &Who::anonymous(),
            "POST",
            "/login",
            Some(body),
            &[("origin", super::app::ORIGIN)]
        )
        .await
        .status,
        303
    );
    loyalty_web::metrics::refresh_active_users(app.db.store.as_ref(), fixed_clock_now())
        .await
        .unwrap();
    loyalty_web::metrics::record_backup(Some(fixed_clock_now()));
    let _ = app.get(&Who::anonymous(), "/api/v1/orgs/ghost").await;
    scrape(app)
        .await
        .into_keys()
        .map(|k| k.split('{').next().unwrap_or_default().to_owned())
        .collect()
}

fn unknown(names: BTreeSet<String>, exported: &BTreeSet<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| !exported.contains(n) && !MAIL_METRICS.contains(&n.as_str()))
        .collect()
}

both_backends! {
    async fn the_dashboard_and_the_alerts_query_only_metrics_the_service_exports(db) {
        let app = TestApp::new(db).await;
        let exported = exported_after_traffic(&app).await;
        for name in ["loyalty_points_awarded_total", "loyalty_purchases_total", "loyalty_points_redeemed_total",
                     "loyalty_active_users", "loyalty_login_failures_total", "loyalty_db_pool_connections",
                     "loyalty_backup_last_success_timestamp_seconds", "loyalty_build_info", "loyalty_http_requests_total",
                     "loyalty_http_request_duration_seconds_bucket"] {
            assert!(exported.contains(name), "{name} is not exported: {exported:?}");
        }

        // The dashboard.
        let text = std::fs::read_to_string(deploy_dir().join("grafana/loyalty-system.json")).unwrap();
        let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(dash["title"], "Loyalty System");
        assert!(dash["uid"].as_str().is_some_and(|u| !u.is_empty() && u.len() <= 40));
        assert!(dash["schemaVersion"].as_i64().is_some_and(|v| v >= 36), "schemaVersion");
        let vars = dash["templating"]["list"].as_array().unwrap();
        assert!(vars.iter().any(|v| v["type"] == "datasource" && v["query"] == "prometheus"));
        let org = vars.iter().find(|v| v["name"] == "org").expect("an org variable");
        assert_eq!(org["definition"], "label_values(loyalty_active_users, org)", "organizations stay selectable after a restart");
        let panels = dash["panels"].as_array().unwrap();
        let mut ids = BTreeSet::new();
        let mut used = BTreeSet::new();
        for p in panels {
            let title = p["title"].as_str().unwrap_or_default();
            assert!(ids.insert(p["id"].as_i64().expect("every panel has a numeric id")), "panel id {} repeats", p["id"]);
            let g = &p["gridPos"];
            let (x, w, h) = (g["x"].as_i64().unwrap(), g["w"].as_i64().unwrap(), g["h"].as_i64().unwrap());
            assert!(g["y"].as_i64().is_some() && w > 0 && h > 0 && x + w <= 24, "panel {title:?} gridPos {g}");
            if p["type"] != "row" {
                let targets = p["targets"].as_array().unwrap_or_else(|| panic!("panel {title:?} has no targets"));
                assert!(!targets.is_empty(), "panel {title:?} has no queries");
                for t in targets {
                    let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel {title:?}: target without expr"));
                    let names = metric_names(expr);
                    assert!(!names.is_empty() || expr.contains("up{"), "panel {title:?} queries no loyalty metric: {expr}");
                    used.extend(names);
                }
            }
        }
        for title in ["Active users", "Points awarded", "Purchases", "Points redeemed", "API response time", "Error ratio",
                      "Requests per second by route", "Database pool", "Mail outbox", "Time since last backup"] {
            assert!(panels.iter().any(|p| p["title"].as_str().unwrap_or_default().starts_with(title)), "no panel {title:?}");
        }
        let api = panels.iter().find(|p| p["title"] == "API response time").unwrap().to_string();
        for q in ["0.50", "0.95", "0.99"] {
            assert!(api.contains(&format!("histogram_quantile({q}")), "p{q} missing");
        }
        let mut all = Vec::new();
        queries(&dash, &mut all);
        for q in &all {
            used.extend(metric_names(q));
        }
        let missing = unknown(used, &exported);
        assert!(missing.is_empty(), "the dashboard queries metrics the service does not export: {missing:?}");

        // The alert rules.
        let text = std::fs::read_to_string(deploy_dir().join("prometheus/alerts.yml")).unwrap();
        let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let mut alerts = BTreeSet::new();
        let mut used = BTreeSet::new();
        for group in rules["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                alerts.insert(rule["alert"].as_str().unwrap().to_owned());
                used.extend(metric_names(rule["expr"].as_str().unwrap()));
            }
        }
        assert_eq!(alerts.len(), 6, "{alerts:?}");
        let missing = unknown(used, &exported);
        assert!(missing.is_empty(), "alerts.yml queries metrics the service does not export: {missing:?}");
    }
}

/// promtool from the Debian package `prometheus`; a missing one fails the test (see
/// `loyalty_testkit::tools`).
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    let run = loyalty_testkit::tools::required(
        "promtool",
        found.is_some(),
        "promtool (Debian package prometheus)",
        "apt-get install --no-install-recommends prometheus",
    );
    found.filter(|_| run)
}

#[test]
fn promtool_accepts_the_scrape_config_the_rules_and_their_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let dir = deploy_dir().join("prometheus");
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "rules", "alerts.yml"],
        &["test", "rules", "alerts.test.yml"],
    ] {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_compose_file_matches_the_runbook_and_mounts_files_that_exist() {
    let dir = deploy_dir();
    let text = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    let compose: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let services = &compose["services"];
    let loyalty = &services["loyalty-service"];
    assert_eq!(loyalty["container_name"], "portfolio-loyalty");
    for var in [
        "DATABASE_HOST",
        "DATABASE_NAME",
        "DATABASE_USER",
        "DATABASE_PASSWORD",
        "AUTHENTIK_URL",
    ] {
        assert!(
            !loyalty["environment"][var].is_null(),
            "loyalty-service sets {var}"
        );
    }
    assert_eq!(
        loyalty["environment"]["DATABASE_HOST"],
        "portfolio-postgres"
    );
    assert_eq!(loyalty["environment"]["DATABASE_NAME"], "loyalty_db");
    // 8080 as the runbook says; LOYALTY_PORT moves it (scripts/container-check).
    assert_eq!(loyalty["ports"][0], "${LOYALTY_PORT:-8080}:8080");
    for dep in ["portfolio-postgres", "portfolio-authentik-server"] {
        assert_eq!(
            loyalty["depends_on"][dep]["condition"], "service_healthy",
            "{dep}"
        );
        assert!(
            !services[dep]["healthcheck"]["test"].is_null(),
            "{dep} has a healthcheck"
        );
    }
    for s in ["prometheus", "grafana"] {
        assert_eq!(services[s]["profiles"][0], "monitoring", "{s} is optional");
    }
    // Every file or folder mounted from the repository exists.
    for (name, service) in services.as_mapping().unwrap() {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with("./") {
                assert!(
                    dir.join(source).exists(),
                    "{name:?} mounts {source}, which does not exist"
                );
            }
        }
    }
    let prometheus = std::fs::read_to_string(dir.join("prometheus/prometheus.yml")).unwrap();
    assert!(
        prometheus.contains("loyalty-service:9464"),
        "Prometheus scrapes the compose service's metrics listener"
    );
    let loyalty = &services["loyalty-service"];
    assert_eq!(
        loyalty["environment"]["LOYALTY_METRICS__LISTEN"], "0.0.0.0:9464",
        "the metrics listener is reachable on the compose network"
    );
    let published = serde_yaml_ng::to_string(&loyalty["ports"]).unwrap();
    assert!(
        !published.contains("9464"),
        "the metrics port is not published: {published}"
    );

    let dockerfile = std::fs::read_to_string(dir.join("../Dockerfile")).unwrap();
    for needle in [
        "EXPOSE 8080",
        "USER loyalty",
        "HEALTHCHECK",
        "/health",
        "ENTRYPOINT [\"loyalty\"]",
        "CMD [\"serve\", \"--bind\", \"0.0.0.0:8080\"]",
        "postgresql-client",
        "ca-certificates",
    ] {
        assert!(dockerfile.contains(needle), "Dockerfile lacks {needle:?}");
    }
}
