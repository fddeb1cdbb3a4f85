//! `loyalty onboard` in Authentik mode against the schema-checking stand-in of
//! `loyalty-identity`'s tests (a stand-in, not Authentik itself), on both backends: the
//! refusal without a recovery flow, the permanent generated password, the checks that
//! end every onboarding (runbook step 6), the checklist's "admin password" item.

use crate::authentik::standin::{Recovery, StandIn, TOKEN};
use crate::support::{command, stderr, stdout};
use loyalty_identity::authentik::OidcAppPlan;
use loyalty_testkit::{TestDb, both_backends};
use std::process::Output;

const PUBLIC_URL: &str = "https://loyalty.example.com";

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
    "--country",
    "US",
];

/// `loyalty ARGS` in Authentik mode on the stand-in at `authentik_url`, configured as
/// `loyalty authentik setup` says (client `loyalty`, public URL).
async fn run(db: &TestDb, authentik_url: &str, args: &[&str]) -> Output {
    let (url, base) = (db.url.clone(), authentik_url.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        command(&url)
            .env("LOYALTY_IDENTITY__MODE", "authentik")
            .env("AUTHENTIK_URL", &base)
            .env("AUTHENTIK_API_TOKEN", TOKEN)
            .env("LOYALTY_IDENTITY__OIDC_CLIENT_ID", "loyalty")
            .env("LOYALTY_IDENTITY__OIDC_CLIENT_SECRET", "secret")
            .env("LOYALTY_SERVER__PUBLIC_URL", PUBLIC_URL)
            .args(&args)
            .output()
            .expect("run loyalty")
    })
    .await
    .expect("join")
}

async fn set_up(standin: &StandIn) {
    let plan = OidcAppPlan::new(PUBLIC_URL, None, None).expect("plan");
    standin
        .directory()
        .setup_oidc_application(&plan)
        .await
        .expect("setup");
}

fn org_count(db: &TestDb) -> usize {
    let out = crate::support::loyalty(db, &["org", "list", "--json"]);
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .expect("json")
        .len()
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

both_backends! {
    async fn onboarding_checks_itself_and_prints_every_check(db) {
        let standin = StandIn::start().await;
        standin.set_recovery(Recovery::NoFlow);
        set_up(&standin).await;
        // AUTHENTIK_URL written with the API path: the API and discovery both work.
        let out = run(&db, &format!("{}/api/v3/", standin.url), NEXTDOOR).await;
        assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("/if/flow/loyalty-recovery-flow/?flow_token="), "{text}");
        assert!(text.contains("group nextdoor-admins"), "{text}");
        assert!(!text.contains("{prefix}"), "{text}");
        for line in [
            "Checks (runbook step 6; again any time: loyalty doctor --org nextdoor --user nextdoor_admin):",
            "OK   Authentik reachable",
            "OK   OpenID discovery (",
            "OK   redirect URI registered (https://loyalty.example.com/auth/callback (strict))",
            "OK   organization nextdoor is active",
            "OK   nextdoor_admin is in a group of nextdoor (nextdoor-admins)",
            "OK   nextdoor_admin has a membership row in nextdoor (role admin)",
            "WARN nextdoor_admin can sign in with a password (no password chosen since the account was made",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
        assert!(!text.contains("FAIL "), "{text}");

        // The checklist's "admin password" item ticks once the admin chose a password.
        let list = run(&db, &standin.url, &["org", "checklist", "nextdoor", "--json"]).await;
        let items: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
        let item = |items: &serde_json::Value| items["items"].as_array().expect("items").iter().find(|i| i["item"] == "admin-password").cloned().expect("admin-password");
        assert_eq!(item(&items)["done"], false, "{items:#}");
        standin.choose_password("nextdoor_admin", "a password she chose");
        let list = run(&db, &standin.url, &["org", "checklist", "nextdoor", "--json"]).await;
        assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
        let items: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
        assert_eq!(item(&items)["done"], true, "{items:#}");
        let left: Vec<String> = standin.take_violations();
        assert!(left.is_empty(), "{left:#?}");
    }

    async fn a_failed_check_exits_1_with_its_fix_after_onboarding(db) {
        let standin = StandIn::start().await;
        set_up(&standin).await;
        // An admin changed the provider's redirect URI in Authentik.
        standin.edit_provider("loyalty", |p| {
            p["redirect_uris"] = serde_json::json!([{"matching_mode": "strict", "url": "https://old.example.com/auth/callback"}]);
        });
        let mut args = NEXTDOOR.to_vec();
        args.push("--json");
        let out = run(&db, &standin.url, &args).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(report["credential"]["kind"], "link", "the credential is shown all the same");
        let redirect = check(&report, "oidc.redirect_uri");
        assert_eq!(redirect["status"], "FAIL");
        assert!(redirect["fix"].as_str().expect("fix").contains("loyalty authentik setup --base-url https://loyalty.example.com"), "{redirect}");
        assert_eq!(check(&report, "user.group")["status"], "OK");
        assert!(stderr(&out).contains("1 check(s) failed"), "{}", stderr(&out));

        let out = run(&db, &standin.url, NEXTDOOR).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(stdout(&out).contains("FAIL redirect URI registered"), "{}", stdout(&out));
        assert!(stdout(&out).contains("     fix: run `loyalty authentik setup --base-url https://loyalty.example.com`"), "{}", stdout(&out));
        standin.take_violations();
    }

    async fn without_a_recovery_flow_onboarding_refuses_unless_a_permanent_password_is_asked_for(db) {
        let standin = StandIn::start().await;
        standin.set_recovery(Recovery::NoFlow);
        let out = run(&db, &standin.url, NEXTDOOR).await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("cannot issue one-time sign-in links"), "{err}");
        assert!(err.contains("run `loyalty authentik setup`"), "{err}");
        assert!(err.contains("--password-output"), "{err}");
        assert_eq!(org_count(&db), 0, "nothing written");
        assert!(standin.group_names().is_empty() && standin.usernames().is_empty());

        let mut args = NEXTDOOR.to_vec();
        args.push("--password-output");
        let out = run(&db, &standin.url, &args).await;
        let text = stdout(&out);
        assert!(text.contains("Generated password for nextdoor_admin (shown once):"), "{text}");
        assert!(text.contains("It is PERMANENT: Authentik does not make anyone change a password at first sign-in"), "{text}");
        assert!(!text.contains("must be changed at first sign-in"), "{text}");
        // No application was set up here: discovery and the redirect URI fail, and say how to fix them.
        assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
        assert!(text.contains("FAIL OpenID discovery"), "{text}");
        assert!(text.contains("loyalty authentik setup"), "{text}");
        assert_eq!(org_count(&db), 1);
        standin.take_violations();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentik_setup_prints_the_flows_and_the_brand_and_repairs_an_old_installation() {
    let db = TestDb::new(loyalty_testkit::Kind::Sqlite).await;
    let standin = StandIn::start().await;
    standin.set_recovery(Recovery::NoFlow);
    // What the old setup made: Authentik's provider invalidation flow, which keeps the
    // Authentik session at sign-out.
    let mut old = OidcAppPlan::new(PUBLIC_URL, None, None).expect("plan");
    old.invalidation_flow = "default-provider-invalidation-flow".into();
    standin
        .directory()
        .setup_oidc_application(&old)
        .await
        .expect("old setup");
    standin.set_recovery(Recovery::NoFlow);

    let setup = ["authentik", "setup", "--base-url", PUBLIC_URL];
    let out = run(&db, &standin.url, &setup).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "provider     loyalty: updated: invalidation flow -> loyalty-invalidation-flow",
        "sign-out     flow loyalty-invalidation-flow: created",
        "recovery     flow loyalty-recovery-flow: exists, unchanged",
        "brand        authentik-default: had no recovery flow; now loyalty-recovery-flow (one-time sign-in links work)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert_eq!(
        standin.provider_invalidation_flow("loyalty").as_deref(),
        Some("loyalty-invalidation-flow")
    );

    // --invalidation-flow on the existing provider is applied and reported as a change;
    // a flow without a User Logout stage is used with a warning.
    let mut other = setup.to_vec();
    other.extend_from_slice(&["--invalidation-flow", "default-provider-invalidation-flow"]);
    let out = run(&db, &standin.url, &other).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "provider     loyalty: updated: invalidation flow -> default-provider-invalidation-flow"
        ),
        "{text}"
    );
    assert!(
        text.contains("warning      the invalidation flow default-provider-invalidation-flow has no User Logout stage"),
        "{text}"
    );
    let out = run(&db, &standin.url, &setup).await;
    assert!(
        stdout(&out).contains("updated: invalidation flow -> loyalty-invalidation-flow"),
        "{}",
        stdout(&out)
    );
    let out = run(&db, &standin.url, &setup).await;
    assert!(
        stdout(&out).contains("provider     loyalty: exists, unchanged"),
        "{}",
        stdout(&out)
    );
    let left = standin.take_violations();
    assert!(left.is_empty(), "{left:#?}");
}

/// The `loyalty onboard` commands in ```bash blocks of a document, continuation lines
/// joined, split into words (double quotes kept together).
fn documented_onboards(doc: &str) -> Vec<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut commands = Vec::new();
    let mut in_bash = false;
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_bash = line.trim() == "```bash";
            continue;
        }
        if !in_bash {
            continue;
        }
        let line = line.split(" #").next().unwrap_or("").trim();
        if current.is_empty() && !line.starts_with("loyalty onboard") {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            let mut words = Vec::new();
            let mut word = String::new();
            let mut quoted = false;
            for c in current.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ' ' if !quoted => {
                        if !word.is_empty() {
                            words.push(std::mem::take(&mut word));
                        }
                    }
                    c => word.push(c),
                }
            }
            commands.push(words);
            current.clear();
        }
    }
    commands
}

#[test]
fn every_documented_onboarding_by_flags_gives_the_country() {
    for doc in ["docs/authentik.md", "docs/operations.md", "README.md"] {
        let commands = documented_onboards(doc);
        assert!(!commands.is_empty(), "{doc} shows no loyalty onboard");
        for words in commands.iter().filter(|w| w.iter().any(|a| a == "--name")) {
            assert!(
                words.iter().any(|a| a == "--country"),
                "{doc}: the till then refuses the phone format its own placeholder shows: {words:?}"
            );
        }
    }
}

both_backends! {
    async fn the_guides_onboarding_example_runs_as_written(db) {
        let standin = StandIn::start().await;
        standin.set_recovery(Recovery::NoFlow);
        set_up(&standin).await;
        let words = documented_onboards("docs/authentik.md").into_iter().next().expect("an example");
        let args: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        let out = run(&db, &standin.url, &args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}\n{}", stdout(&out), stderr(&out));
        let show = crate::support::loyalty(&db, &["org", "show", "nextdoor", "--json"]);
        let org: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
        assert_eq!(org["country"], "US", "{org}");
        let left = standin.take_violations();
        assert!(left.is_empty(), "{left:#?}");
    }
}
