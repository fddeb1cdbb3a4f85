//! `loyalty authentik`: register loyalty as an OpenID Connect application in Authentik
//! (`setup`, runbook step 3.2) and diagnose the connection (`check`).

use crate::UserError;
use crate::config::Config;
use loyalty_identity::authentik::setup::{
    DEFAULT_AUTHORIZATION_FLOW, DEFAULT_INVALIDATION_FLOW, DEFAULT_RECOVERY_FLOW,
};
use loyalty_identity::authentik::{BrandRecovery, OidcAppPlan, OidcAppReport, SetupOutcome};
use loyalty_identity::oidc::{OidcClient, OidcConfig, OidcError};
use loyalty_ops::authentik::{clock_skew, diagnose, directory};
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};

/// Authentik commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create (or find) loyalty's flows, OAuth2/OpenID provider and application in Authentik.
    ///
    /// Makes (or finds by slug, and completes) two flows:
    ///   loyalty-invalidation-flow  sign-out with a User Logout stage: signing out of
    ///                              loyalty ends the Authentik session, so the next
    ///                              sign-in on a shared till asks for a password
    ///   loyalty-recovery-flow      one-time links: password prompt -> user write ->
    ///                              user login; set on the brand when it has none
    /// Looks up the authorization flow, the openid, email and profile scope mappings and
    /// a signing key, then creates the provider (client id `loyalty`, or `{org}-loyalty`
    /// with --org; redirect URI {base-url}/auth/callback in strict mode) and the
    /// application. Safe to re-run: it finds everything, and repairs a provider whose
    /// redirect URI, signing key or invalidation flow differs (an installation made by an
    /// older setup gets the sign-out flow this way). Prints the client id and secret
    /// once, when the provider is created, unless --secret-file is given.
    ///
    /// Example:
    ///   loyalty authentik setup --base-url https://loyalty.example.com
    ///   loyalty authentik setup --base-url https://loyalty.nextdoor.com --org nextdoor
    #[command(verbatim_doc_comment)]
    Setup {
        /// loyalty's public URL (default: server.public_url).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// A dedicated provider for one organization: client id `{org}-loyalty`.
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
        /// The application's slug [default: identity.app_slug ("loyalty"), or
        /// `{org}-loyalty` with --org].
        #[arg(long)]
        app_slug: Option<String>,
        /// Slug of the authorization flow.
        #[arg(long, default_value = DEFAULT_AUTHORIZATION_FLOW)]
        authorization_flow: String,
        /// Slug of the invalidation (sign-out) flow. loyalty's own is made when missing;
        /// another must exist, and setup warns when it has no User Logout stage (then
        /// sign-out keeps the Authentik session). Applied to an existing provider too.
        #[arg(long, default_value = DEFAULT_INVALIDATION_FLOW)]
        invalidation_flow: String,
        /// Slug of the recovery flow for one-time links. loyalty's own is made when
        /// missing; another must exist, and setup warns when it lacks a stage.
        #[arg(long, default_value = DEFAULT_RECOVERY_FLOW)]
        recovery_flow: String,
        /// Set the recovery flow on the brand even when the brand has another one
        /// (without it, another brand recovery flow is kept and reported).
        #[arg(long)]
        replace_brand_recovery: bool,
        /// Write the client id and secret to this file (mode 0600, as environment
        /// variables) instead of printing the secret.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
    },
    /// Check the connection to Authentik: reachable, API token valid and privileged,
    /// clocks in step, OpenID discovery document present.
    Check,
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Setup {
            base_url,
            org,
            app_slug,
            authorization_flow,
            invalidation_flow,
            recovery_flow,
            replace_brand_recovery,
            secret_file,
        } => {
            let base_url = match base_url.or_else(|| config.server.public_url.clone()) {
                Some(u) => u,
                None => {
                    return Err(UserError(
                        "give loyalty's public URL with --base-url, such as --base-url https://loyalty.example.com".into(),
                    )
                    .into());
                }
            };
            let app_slug =
                app_slug.or_else(|| org.is_none().then(|| config.identity.app_slug.clone()));
            let mut plan = OidcAppPlan::new(&base_url, org.as_deref(), app_slug.as_deref())
                .map_err(UserError)?;
            plan.authorization_flow = authorization_flow;
            plan.invalidation_flow = invalidation_flow;
            plan.recovery_flow = recovery_flow;
            plan.replace_brand_recovery = replace_brand_recovery;
            let dir = directory(&config)?;
            let report = dir
                .setup_oidc_application(&plan)
                .await
                .map_err(|e| anyhow::anyhow!(diagnose(&e)))?;
            print_setup(&report, secret_file.as_deref())
        }
        Command::Check => check(&config).await,
    }
}

fn outcome(o: &SetupOutcome) -> String {
    match o {
        SetupOutcome::Created => "created".into(),
        SetupOutcome::Existing => "exists, unchanged".into(),
        SetupOutcome::Updated(changes) => format!("updated: {}", changes.join("; ")),
    }
}

fn print_setup(report: &OidcAppReport, secret_file: Option<&Path>) -> anyhow::Result<()> {
    outln!(
        "provider     {}: {}",
        report.client_id,
        outcome(&report.provider)
    );
    outln!("application  {}", outcome(&report.application));
    outln!(
        "sign-out     flow {}: {}",
        report.invalidation_flow.slug,
        outcome(&report.invalidation_flow.outcome)
    );
    outln!(
        "recovery     flow {}: {}",
        report.recovery_flow.slug,
        outcome(&report.recovery_flow.outcome)
    );
    outln!(
        "brand        {}",
        match &report.brand_recovery {
            BrandRecovery::Set { domain } => format!(
                "{domain}: had no recovery flow; now {} (one-time sign-in links work)",
                report.recovery_flow.slug
            ),
            BrandRecovery::Existing { domain } => {
                format!(
                    "{domain}: recovery flow {}, unchanged",
                    report.recovery_flow.slug
                )
            }
            BrandRecovery::Kept { domain, flow } => format!(
                "{domain}: keeps its recovery flow {flow} (--replace-brand-recovery sets {})",
                report.recovery_flow.slug
            ),
            BrandRecovery::Replaced { domain, previous } => format!(
                "{domain}: recovery flow {previous} replaced by {}",
                report.recovery_flow.slug
            ),
        }
    );
    outln!("issuer       {}", report.issuer);
    outln!("redirect URI {} (strict)", report.redirect_uri);
    outln!("signing key  {}", report.signing_key);
    for warning in &report.warnings {
        outln!("warning      {warning}");
    }
    outln!("client id    {}", report.client_id);
    match secret_file {
        Some(path) => {
            write_secret_file(path, &report.client_id, &report.client_secret)?;
            outln!("client secret written to {} (mode 0600)", path.display());
        }
        None if report.provider == SetupOutcome::Created => {
            outln!("client secret {}", report.client_secret.expose_secret());
            outln!("(shown once: store it now, for example in a secrets manager)");
        }
        None => outln!(
            "client secret unchanged (shown when the provider was created; --secret-file FILE writes it again)"
        ),
    }
    outln!();
    outln!("Next: configure loyalty with");
    outln!("  identity.mode = \"authentik\"   (LOYALTY_IDENTITY__MODE=authentik)");
    outln!("  LOYALTY_IDENTITY__OIDC_CLIENT_ID={}", report.client_id);
    outln!("  LOYALTY_IDENTITY__OIDC_CLIENT_SECRET=<the secret>");
    if let Some(slug) = report
        .issuer
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| *s != "loyalty")
    {
        outln!("  LOYALTY_IDENTITY__APP_SLUG={slug}");
    }
    outln!("then run: loyalty authentik check");
    Ok(())
}

/// Writes `client_id` and the secret as environment variables, readable by the owner only.
fn write_secret_file(path: &Path, client_id: &str, secret: &SecretString) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| UserError(format!("--secret-file {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        // An existing file keeps its old mode on open: tighten it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(file, "LOYALTY_IDENTITY__OIDC_CLIENT_ID={client_id}")?;
    writeln!(
        file,
        "LOYALTY_IDENTITY__OIDC_CLIENT_SECRET={}",
        secret.expose_secret()
    )?;
    file.sync_all()?;
    Ok(())
}

async fn check(config: &Config) -> anyhow::Result<()> {
    let mut problems = 0;
    let dir = directory(config)?;
    let base = config
        .identity
        .authentik_url
        .clone()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();

    match dir.check().await {
        Ok(report) => {
            outln!(
                "ok       Authentik at {} answers ({} ms); the API token belongs to {}",
                report.api_url,
                report.latency.as_millis(),
                report.username
            );
            if report.is_superuser {
                outln!("ok       {} is a superuser", report.username);
            } else {
                problems += 1;
                outln!(
                    "PROBLEM  token lacks permissions: {} is not a superuser; onboarding and setup need an Authentik admin's token",
                    report.username
                );
            }
        }
        Err(e) => {
            outln!("PROBLEM  {}", diagnose(&e));
            anyhow::bail!("Authentik is not usable; fix the problem above first");
        }
    }

    match clock_skew(&base).await {
        Ok(skew) if skew.abs() <= 10 => outln!("ok       clocks agree ({skew:+} s)"),
        Ok(skew) if skew.abs() <= 60 => outln!(
            "warning  clock skew {skew:+} s against Authentik's Date header; tokens get 60 s of leeway, so fix the clock (NTP) before it grows"
        ),
        Ok(skew) => {
            problems += 1;
            outln!(
                "PROBLEM  clock skew {skew:+} s against Authentik's Date header: more than the 60 s leeway, sign-ins will be refused; synchronise both clocks (NTP)"
            );
        }
        Err(why) => outln!("warning  cannot compare clocks: {why}"),
    }

    let issuer = format!("{base}/application/o/{}/", config.identity.app_slug);
    let (client_id, secret, configured) = match (
        &config.identity.oidc_client_id,
        &config.identity.oidc_client_secret,
    ) {
        (Some(id), Some(secret)) => (id.clone(), secret.clone(), true),
        // Discovery needs no client; placeholders let it run before setup.
        _ => ("not-configured".to_owned(), SecretString::from("-"), false),
    };
    let oidc = async {
        let issuer_url = url::Url::parse(&issuer)
            .map_err(|e| OidcError::Config(format!("issuer {issuer}: {e}")))?;
        let redirect_url =
            url::Url::parse(&format!("{}/auth/callback", config.server.public_url()))
                .map_err(|e| OidcError::Config(format!("server.public_url: {e}")))?;
        OidcClient::discover(OidcConfig {
            issuer: issuer_url,
            client_id,
            client_secret: secret,
            redirect_url,
        })
        .await
    };
    match oidc.await {
        Ok(client) => {
            outln!(
                "ok       OpenID discovery at {} (signing: {}; {} key(s))",
                client.issuer(),
                client.algorithms().join(", "),
                client.cached_keys().await
            );
            if !configured {
                problems += 1;
                outln!(
                    "PROBLEM  identity.oidc_client_id / oidc_client_secret are not set; run loyalty authentik setup and configure them"
                );
            }
        }
        Err(e) => {
            problems += 1;
            let words = match &e {
                OidcError::DiscoveryMissing { .. } => format!(
                    "discovery document missing: {e} (has `loyalty authentik setup` run for application {}?)",
                    config.identity.app_slug
                ),
                OidcError::Unreachable { .. } => format!("unreachable: {e}"),
                _ => e.to_string(),
            };
            outln!("PROBLEM  {words}");
        }
    }

    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    outln!("Authentik is ready for loyalty.");
    Ok(())
}
