//! `loyalty onboard`: the runbook's steps 2-4 in one command, safe to re-run.

use crate::UserError;
use crate::app::{App, Schema};
use crate::backup;
use crate::config::Config;
use crate::config::IdentityMode;
use crate::doctor::{self, Status};
use crate::output::when;
use crate::progress::StderrProgress;
use anyhow::Context;
use loyalty_core::directory::Outcome;
use loyalty_core::service::onboard::{
    self, Credential, CredentialMode, NoHooks, OnboardInput, OnboardReport,
};
use loyalty_core::service::onboard_file;
use secrecy::ExposeSecret;
use std::path::PathBuf;

/// Onboard a client organization.
///
/// Creates the organization, its groups {slug}-admins, {slug}-cashiers and
/// {slug}-customers, the first admin ({slug}_admin) in the admins group, and prints a
/// one-time sign-in link. Everything is checked before anything is written. If a run
/// fails half-way, run the same command again: it finishes the remaining steps. Running
/// it after success reports "already onboarded" and changes nothing.
///
/// It ends by checking its work (runbook step 6), as `loyalty doctor --org SLUG --user
/// ADMIN` would: the organization, its groups and admin, and with Authentik the
/// connection, OpenID discovery, the redirect URI and the admin's group. A failed check
/// is printed with its fix and the command exits 1.
///
/// With Authentik, the link needs a recovery flow on the brand (`loyalty authentik
/// setup` makes one); without it onboarding refuses, unless --password-output is given.
///
/// Example (runbook step 3.1, option B):
///   loyalty onboard --name "NextDoor Market" --slug nextdoor \
///     --admin-email jane.smith@nextdoormarket.com --admin-name "Jane Smith" \
///     --country US
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Organization name, as customers see it.
    #[arg(long)]
    name: Option<String>,
    /// Short name for URLs and groups: lowercase letters, digits, single hyphens.
    #[arg(long)]
    slug: Option<String>,
    /// First admin's email address.
    #[arg(long)]
    admin_email: Option<String>,
    /// First admin's full name.
    #[arg(long)]
    admin_name: Option<String>,
    /// basic or premium [default: basic].
    #[arg(long)]
    plan: Option<String>,
    /// ISO 3166 country code, such as US or BR.
    #[arg(long)]
    country: Option<String>,
    /// IANA time zone, such as America/New_York [default: UTC].
    #[arg(long)]
    timezone: Option<String>,
    /// BCP 47 language, such as en-US or pt-BR [default: en-US].
    #[arg(long)]
    language: Option<String>,
    /// ISO 4217 currency [default: the country's, else USD].
    #[arg(long)]
    currency: Option<String>,
    /// The runbook's pre-onboarding YAML (Organization / Admin Contact / Business
    /// Details / Technical). Flags given as well override the file.
    #[arg(long, value_name = "client.yaml")]
    file: Option<PathBuf>,
    /// Give the admin a generated password (shown once) instead of a one-time link.
    /// Built-in accounts must change it at first sign-in; Authentik does not enforce
    /// that, so there it stays until the admin changes it.
    #[arg(long)]
    password_output: bool,
    /// Print the result as JSON (includes the link or password: handle it as a secret).
    #[arg(long)]
    json: bool,
    /// Take a labelled backup set before (pre-onboard-{slug}) and after
    /// (post-onboard-{slug}) onboarding, as the runbook's backup appendix asks.
    #[arg(long)]
    backup: bool,
    /// Who onboards, for the audit log (default: the USER environment variable).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
}

/// Runs the command.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let mut input = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UserError(format!("--file {}: {e}", path.display())))?;
            onboard_file::parse(&text)?
        }
        None => OnboardInput::default(),
    };
    let overrides = [
        (&args.name, &mut input.name),
        (&args.slug, &mut input.slug),
        (&args.admin_email, &mut input.admin_email),
        (&args.admin_name, &mut input.admin_name),
        (&args.plan, &mut input.plan),
        (&args.country, &mut input.country),
        (&args.timezone, &mut input.timezone),
        (&args.language, &mut input.language),
        (&args.currency, &mut input.currency),
    ];
    for (flag, field) in overrides {
        if flag.is_some() {
            field.clone_from(flag);
        }
    }
    if args.file.is_none() {
        input.field_names = [
            "name",
            "slug",
            "admin_email",
            "admin_name",
            "plan",
            "country",
            "timezone",
            "language",
            "currency",
        ]
        .into_iter()
        .map(|f| (f, format!("--{}", f.replace('_', "-"))))
        .collect();
    }
    // Validate everything before touching the database.
    let mut plan = input.validate()?;
    plan.operator = crate::commands::org::operator(args.by.clone()).label;
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let progress = StderrProgress::detect();
    let before = if args.backup {
        let label = format!("pre-onboard-{}", plan.org.slug);
        Some(
            backup::create(&config, Some(&label), &progress)
                .await
                .context("taking the backup before onboarding; nothing was onboarded")?,
        )
    } else {
        None
    };
    let mode = if args.password_output {
        CredentialMode::Password
    } else {
        CredentialMode::Link
    };
    let report = onboard::onboard(
        app.store.as_ref(),
        app.directory.as_ref(),
        app.clock.as_ref(),
        &plan,
        mode,
        &NoHooks,
    )
    .await?;
    // The report carries the admin's one-time credential: print it whatever happens to
    // the backup after onboarding, then report that failure.
    let (after, after_error) = if args.backup {
        let label = format!("post-onboard-{}", plan.org.slug);
        match backup::create(&config, Some(&label), &progress).await {
            Ok(set) => (Some(set), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    let authentik = config.identity.mode == IdentityMode::Authentik;
    // Runbook step 6: the new organization and its admin, as the doctor sees them.
    let checks = doctor::onboarded(
        &config,
        app.store.clone(),
        report.org.slug.as_str(),
        &report.admin_username,
    )
    .await;
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if args.json {
        let mut value = json_report(&report, &app.login_url(), authentik);
        if let Some(map) = value.as_object_mut() {
            map.insert("checks".into(), serde_json::to_value(&checks)?);
        }
        if let (Some(b), Some(map)) = (&before, value.as_object_mut()) {
            map.insert(
                "backups".into(),
                serde_json::json!({"before": b.set.name, "after": after.as_ref().map(|a| &a.set.name)}),
            );
        }
        outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        out!("{}", human_report(&report, &app.login_url(), authentik));
        if let (Some(b), Some(a)) = (&before, &after) {
            outln!(
                "\nBackups: {} before onboarding (label pre-onboard-{slug}), {} after (label post-onboard-{slug}); restore with `loyalty backup restore SET`.",
                b.set.name,
                a.set.name,
                slug = plan.org.slug
            );
        }
    }
    if !args.json {
        outln!(
            "\nChecks (runbook step 6; again any time: loyalty doctor --org {} --user {}):",
            report.org.slug,
            report.admin_username
        );
        for check in &checks {
            outln!("  {}", check.render().replace('\n', "\n  "));
        }
    }
    if let Some(e) = after_error {
        return Err(e.context(format!(
            "onboarding succeeded (the report above holds the admin's sign-in credential), but the backup after it failed; run `loyalty backup create --label post-onboard-{}`",
            plan.org.slug
        )));
    }
    if failed > 0 {
        anyhow::bail!(
            "onboarding of {} finished, but {failed} check(s) failed; fix what each names, then run `loyalty doctor --org {} --user {}`",
            report.org.slug,
            report.org.slug,
            report.admin_username
        );
    }
    Ok(())
}

fn json_report(r: &OnboardReport, login_url: &str, authentik: bool) -> serde_json::Value {
    let credential = match &r.credential {
        Some(Credential::Link { url, expires_at }) => serde_json::json!({
            "kind": "link", "url": url.expose_secret(), "expires_at": expires_at.map(|t| t.unix_timestamp()),
        }),
        Some(Credential::Password(p)) => {
            serde_json::json!({"kind": "password", "password": p.expose_secret(), "permanent": authentik})
        }
        Some(Credential::Existing) => serde_json::json!({"kind": "existing_account"}),
        None => serde_json::Value::Null,
    };
    serde_json::json!({
        "already_onboarded": r.already_onboarded,
        "organization": r.org,
        "groups": r.groups,
        "admin_username": r.admin_username,
        "admin_email": r.admin_email,
        "login_url": login_url,
        "credential": credential,
        "steps": r.steps,
        "elapsed_ms": r.elapsed.as_millis(),
    })
}

fn human_report(r: &OnboardReport, login_url: &str, authentik: bool) -> String {
    let mut out = String::new();
    if r.already_onboarded {
        out.push_str(&format!(
            "{} ({}) is already onboarded; nothing changed.\n\
             To give {} a new sign-in link: loyalty user link {}\n\n",
            r.org.name, r.org.slug, r.admin_email, r.admin_username
        ));
    } else {
        let resumed = r.steps.iter().any(|(_, o)| *o == Outcome::Existing);
        out.push_str(&format!(
            "Onboarded {} ({}) in {:.2} s{}\n\n",
            r.org.name,
            r.org.slug,
            r.elapsed.as_secs_f64(),
            if resumed {
                ", completing an earlier run"
            } else {
                ""
            }
        ));
    }
    let rows = [
        ("Organization id", r.org.id.to_string()),
        ("Slug", r.org.slug.to_string()),
        ("Status", r.org.status.to_string()),
        ("Plan", r.org.plan.clone()),
        ("Groups", r.groups.join(", ")),
        ("Admin username", r.admin_username.clone()),
        ("Admin email", r.admin_email.clone()),
        ("Login URL", login_url.to_owned()),
    ];
    for (k, v) in rows {
        out.push_str(&format!("  {k:<16} {v}\n"));
    }
    if !r.already_onboarded {
        out.push_str("\nSteps:\n");
        for (step, outcome) in &r.steps {
            out.push_str(&format!(
                "  {:<26} {}\n",
                step.label(&r.org.group_prefix),
                match outcome {
                    Outcome::Created => "done",
                    Outcome::Existing => "already done",
                }
            ));
        }
    }
    match &r.credential {
        Some(Credential::Link { url, expires_at }) => out.push_str(&format!(
            "\nOne-time sign-in link for {} (shown once{}):\n  {}\n\
             Deliver it over a secure channel (runbook 7.2). It sets the password and works once.\n",
            r.admin_username,
            expires_at.map(|t| format!(", valid until {}", when(t))).unwrap_or_default(),
            url.expose_secret()
        )),
        Some(Credential::Password(p)) if authentik => out.push_str(&format!(
            "\nGenerated password for {} (shown once):\n  {}\n\
             It is PERMANENT: Authentik does not make anyone change a password at first sign-in, so it stays until {} changes it (Authentik > User settings > Change password).\n\
             Never send it by plain email (runbook 7.2).\n",
            r.admin_username,
            p.expose_secret(),
            r.admin_username
        )),
        Some(Credential::Password(p)) => out.push_str(&format!(
            "\nGenerated password for {} (shown once; it must be changed at first sign-in):\n  {}\n\
             Never send it by plain email (runbook 7.2).\n",
            r.admin_username,
            p.expose_secret()
        )),
        Some(Credential::Existing) => out.push_str(&format!(
            "\n{} already has an account and signs in with their existing password.\n",
            r.admin_username
        )),
        None => {}
    }
    out
}
