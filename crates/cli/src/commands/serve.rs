//! `loyalty serve`: the HTTP server.

use crate::app::{App, Schema};
use crate::config::Config;
use anyhow::Context;
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::operators::{self, NewOperator};
use loyalty_web::{AppState, Identity, WebConfig};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Run the HTTP server until SIGTERM or Ctrl-C, then finish in-flight requests.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080, or server.bind].
    #[arg(long, env = "LOYALTY_BIND")]
    bind: Option<SocketAddr>,
    /// Apply pending migrations before starting (otherwise an outdated schema stops the start).
    #[arg(long)]
    migrate: bool,
    /// Make sure a demo organization "demo" exists, with admin "demo_admin", and an
    /// operator "demo_operator" (who opens /operator), and print their sign-in passwords
    /// the first time. For trying loyalty out; not for production.
    #[arg(long)]
    demo: bool,
}

/// Runs the server.
pub async fn run(mut config: Config, args: Args) -> anyhow::Result<()> {
    if let Some(bind) = args.bind {
        config.server.bind = bind;
    }
    let host_orgs = host_orgs(&config.server.host_orgs)?;
    let trusted_proxies = trusted_proxies(&config.server.trusted_proxies)?;
    let app = App::open_as(
        &config,
        if args.migrate {
            Schema::Migrate
        } else {
            Schema::RequireCurrent
        },
        loyalty_store_postgres::SERVE_APPLICATION_NAME,
    )
    .await?;
    // SQLite is for one server only: hold the writer lock while serving.
    let _lock = match &app.sqlite {
        Some(s) => s.lock_writer()?,
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another program using it? choose another with --bind",
                config.server.bind
            )
        })?;
    let local = listener.local_addr()?;
    let public_url = if config.server.public_url.is_some() {
        app.public_url.clone()
    } else {
        format!("http://{local}")
    };

    if args.demo {
        demo(&app, &public_url).await?;
        demo_operator(&app, &config.identity.operators_group, &public_url).await?;
    }
    first_operator_hint(&app, &config.identity.operators_group).await;

    // The built-in directory exists exactly in builtin mode.
    let identity = match &app.builtin {
        Some(builtin) => Identity::Builtin(builtin.clone()),
        None => Identity::Authentik {
            oidc: Some(Arc::new(oidc_client(&config, &public_url).await?)),
        },
    };

    let _ = loyalty_web::metrics::handle();
    let google_wallet = config.wallet.google.load(&public_url)?.map(Arc::new);
    let state = AppState {
        store: app.store.clone(),
        directory: app.directory.clone(),
        clock: app.clock.clone(),
        identity,
        config: Arc::new(WebConfig {
            public_url: public_url.clone(),
            operators_group: config.identity.operators_group.clone(),
            max_body_bytes: config.server.max_body_bytes,
            request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs.max(1)),
            metrics_token: config.metrics.token(),
            host_orgs,
            recovery_url: match config.identity.mode {
                crate::config::IdentityMode::Authentik => config.identity.authentik_url.clone(),
                _ => None,
            },
            mail_enabled: config.mail.is_configured(),
            trusted_proxies,
            scratch_dir: PathBuf::from(&config.backup.dir),
            erasure_journal: Some(
                PathBuf::from(&config.backup.dir)
                    .join(loyalty_core::service::erasure::JOURNAL_FILE),
            ),
            webhooks_allow_private: config.webhooks.allow_private,
            apple_wallet: config.wallet.apple.load(&public_url)?.map(Arc::new),
            google_wallet: google_wallet.clone(),
        }),
    };
    tokio::spawn(metrics_job(
        app.store.clone(),
        app.clock.clone(),
        PathBuf::from(&config.backup.dir),
        Duration::from_secs(60),
    ));
    if config.jobs.expiry_interval_secs > 0 {
        tokio::spawn(expiry_job(
            app.store.clone(),
            app.clock.clone(),
            Duration::from_secs(config.jobs.expiry_interval_secs),
        ));
    }
    if config.jobs.programs_interval_secs > 0 {
        tokio::spawn(loyalty_ops::programs::job(
            app.store.clone(),
            app.clock.clone(),
            Duration::from_secs(config.jobs.programs_interval_secs.max(60)),
        ));
    }
    if config.housekeeping.interval_secs > 0 {
        crate::housekeeping::retention(&config.housekeeping)?;
        tokio::spawn(crate::housekeeping::job(
            app.store.clone(),
            app.clock.clone(),
            config.housekeeping.clone(),
        ));
    }
    if config.integrity.checkpoint_interval_secs > 0 {
        tokio::spawn(crate::integrity::job(
            app.store.clone(),
            app.clock.clone(),
            config.integrity.clone(),
        ));
    }
    if config.mail.is_configured() {
        let sender = crate::mail::SmtpSender::new(&config.mail)?;
        tracing::info!(server = %sender.server, "mail worker started");
        tokio::spawn(crate::mail::worker(
            app.store.clone(),
            app.clock.clone(),
            sender,
            Duration::from_secs(config.mail.poll_interval_secs),
        ));
    } else {
        tracing::info!("mail is not configured (SMTP_HOST unset): mail stays queued in the outbox");
    }
    tokio::spawn(crate::webhooks::worker(
        app.store.clone(),
        app.clock.clone(),
        config.webhooks.clone(),
    ));
    let apns = loyalty_ops::wallet::ApnsTransport::from_config(&config.wallet.apple)?;
    let google = match &google_wallet {
        Some(w) => Some(loyalty_ops::wallet::GoogleRest::new(
            (**w).clone(),
            &config.wallet.google.api_url,
        )?),
        None => None,
    };
    if apns.is_none() && state.config.apple_wallet.is_some() {
        tracing::info!(
            "wallet.apple.apns is not configured: Apple Wallet passes update when the member refreshes them"
        );
    }
    if apns.is_some() || google.is_some() {
        tracing::info!(
            apns = apns.is_some(),
            google = google.is_some(),
            "wallet updates started"
        );
        tokio::spawn(loyalty_ops::wallet::worker(
            app.store.clone(),
            app.clock.clone(),
            apns,
            google,
            config.wallet.apple.apns.poll_interval_secs,
        ));
    }
    let stop_signal = shutdown();
    let stop = tokio::sync::watch::channel(()).0;
    if let Some(addr) = config.metrics.listen_addr()? {
        let metrics = tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!(
                "cannot listen on {addr} for metrics; is another program using it? choose another with metrics.listen (LOYALTY_METRICS__LISTEN), or set it empty to turn the metrics listener off"
            )
        })?;
        let metrics_local = metrics.local_addr()?;
        let mut stopped = stop.subscribe();
        tokio::spawn(loyalty_web::serve_router(
            metrics,
            loyalty_web::metrics::router(state.clone()),
            state.config.header_read_timeout,
            async move {
                let _ = stopped.changed().await;
            },
        ));
        tracing::info!(address = %metrics_local, "metrics listening");
        outln!("metrics on http://{metrics_local}/metrics");
    }
    tracing::info!(address = %local, backend = ?app.store.backend(), database = %config.database.display_url(), "loyalty listening");
    outln!(
        "loyalty listening on http://{local} (database: {})",
        config.database.display_url()
    );
    loyalty_web::serve(listener, state, stop_signal)
        .await
        .context("server failed")?;
    let _ = stop.send(());
    tracing::info!("loyalty stopped");
    Ok(())
}

/// The OpenID Connect relying party of authentik mode, discovered at start.
async fn oidc_client(
    config: &Config,
    public_url: &str,
) -> anyhow::Result<loyalty_identity::oidc::OidcClient> {
    let id = &config.identity;
    let missing = |what: &str| {
        anyhow::anyhow!(
            "identity.mode is authentik but {what} is not set; set it in the configuration (or its environment variable)"
        )
    };
    let base = id
        .authentik_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| missing("identity.authentik_url"))?;
    let client_id = id
        .oidc_client_id
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| missing("identity.oidc_client_id"))?;
    let client_secret = id
        .oidc_client_secret
        .clone()
        .filter(|c| !c.expose_secret().is_empty())
        .ok_or_else(|| missing("identity.oidc_client_secret"))?;
    if id.app_slug.trim().is_empty() {
        return Err(missing("identity.app_slug"));
    }
    let issuer = format!(
        "{}/application/o/{}/",
        base.trim_end_matches('/'),
        id.app_slug.trim_matches('/')
    );
    let issuer = url::Url::parse(&issuer)
        .with_context(|| format!("identity.authentik_url gives an invalid issuer {issuer}"))?;
    let redirect = format!("{}/auth/callback", public_url.trim_end_matches('/'));
    let redirect_url = url::Url::parse(&redirect)
        .with_context(|| format!("the public URL gives an invalid redirect URL {redirect}"))?;
    loyalty_identity::oidc::OidcClient::discover(loyalty_identity::oidc::OidcConfig {
        issuer: issuer.clone(),
        client_id,
        client_secret,
        redirect_url,
    })
    .await
    .with_context(|| format!("cannot set up OpenID Connect sign-in with the issuer {issuer}"))
}

/// Completes on SIGTERM or Ctrl-C (handlers installed now, see
/// [`crate::app::stop_signal`]), after saying so.
fn shutdown() -> impl std::future::Future<Output = ()> + Send + 'static {
    let signal = crate::app::stop_signal();
    async move {
        signal.await;
        tracing::info!("shutting down: finishing requests in flight");
    }
}

async fn demo(app: &App, public_url: &str) -> anyhow::Result<()> {
    let input = OnboardInput {
        name: Some("Demo Shop".into()),
        slug: Some("demo".into()),
        admin_email: Some("admin@demo.example.com".into()),
        admin_name: Some("Demo Admin".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    let plan = input.validate()?;
    let report = onboard::onboard(
        app.store.as_ref(),
        app.directory.as_ref(),
        app.clock.as_ref(),
        &plan,
        CredentialMode::Password,
        &NoHooks,
    )
    .await?;
    match &report.credential {
        Some(Credential::Password(p)) => outln!(
            "Demo organization ready: sign in at {public_url}/login as {} with password {} (shown once)",
            report.admin_username,
            p.expose_secret()
        ),
        _ => outln!(
            "Demo organization ready: sign in at {public_url}/login as {} (its password was printed on the first run; `loyalty user link {}` issues a new link)",
            report.admin_username,
            report.admin_username
        ),
    }
    Ok(())
}

/// Makes sure the demo operator exists and says how it signs in.
async fn demo_operator(app: &App, group: &str, public_url: &str) -> anyhow::Result<()> {
    let new = NewOperator::parse("demo_operator", "Demo Operator", None)?;
    let added = operators::add(
        app.directory.as_ref(),
        group,
        &new,
        CredentialMode::Password,
    )
    .await?;
    match &added.credential {
        Credential::Password(p) => outln!(
            "Demo operator ready: sign in at {public_url}/login as {} with password {} (shown once) and open {public_url}/operator",
            added.user.username,
            p.expose_secret()
        ),
        _ => outln!(
            "Demo operator ready: sign in at {public_url}/login as {} and open {public_url}/operator (its password was printed on the first run; `loyalty operator link {}` issues a new link)",
            added.user.username,
            added.user.username
        ),
    }
    Ok(())
}

/// With nobody in the operators group, says once how to make the first operator (nobody
/// can open /operator until then).
async fn first_operator_hint(app: &App, group: &str) {
    match operators::any_active(app.directory.as_ref(), group).await {
        Ok(true) => {}
        Ok(false) => outln!(
            "No operator yet: nobody can open /operator. Make the first one with: loyalty operator add --username NAME --name \"FULL NAME\" --email EMAIL"
        ),
        Err(e) => tracing::warn!(error = %e, group, "cannot read the operators group"),
    }
}

/// Runs the expiry job every `every`, on whichever instance holds the job's lease, so
/// several instances against one database expire points once.
async fn expiry_job(
    store: Arc<dyn loyalty_core::store::Store>,
    clock: Arc<dyn loyalty_core::clock::Clock>,
    every: Duration,
) {
    let holder = loyalty_core::secret::random_token();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock.now();
        let lease = time::Duration::seconds(i64::try_from(every.as_secs()).unwrap_or(3600).max(60));
        match store
            .try_lease("points.expire", &holder, now, now + lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "expiry job: cannot take its lease");
                continue;
            }
        }
        let orgs = match store.list_organizations().await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "expiry job: cannot list organizations");
                continue;
            }
        };
        for s in orgs.iter().filter(|s| {
            s.org.status == loyalty_core::domain::OrgStatus::Active && s.org.expiry_days.is_some()
        }) {
            match loyalty_core::service::points::expire(
                store.as_ref(),
                clock.as_ref(),
                &s.org,
                false,
            )
            .await
            {
                Ok(r) if r.points > 0 => {
                    tracing::info!(org = %r.org, points = r.points, customers = r.customers, "points expired")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(org = %s.org.slug, error = %e, "expiry job failed for an organization")
                }
            }
        }
    }
}

/// Refreshes the gauges that need the database or the disk every `every`: active users
/// per organization and role, and the time of the newest backup set. On every instance
/// (each serves its own `/metrics`); a failure is logged and the old values stay.
async fn metrics_job(
    store: Arc<dyn loyalty_core::store::Store>,
    clock: Arc<dyn loyalty_core::clock::Clock>,
    backups: PathBuf,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) =
            loyalty_web::metrics::refresh_active_users(store.as_ref(), clock.now()).await
        {
            tracing::warn!(error = %e, "metrics: cannot count active users");
        }
        let dir = backups.clone();
        match tokio::task::spawn_blocking(move || crate::backup::latest_backup(&dir)).await {
            Ok(latest) => loyalty_web::metrics::record_backup(latest),
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the backup folder"),
        }
    }
}

/// Checks `server.host_orgs`: each key a bare host name (no scheme, path or port), each
/// value an organization slug. Keys are compared in lower case.
fn trusted_proxies(
    configured: &[String],
) -> Result<loyalty_web::client::TrustedProxies, crate::UserError> {
    loyalty_web::client::TrustedProxies::parse(configured).map_err(|e| {
        crate::UserError(format!(
            "server.trusted_proxies: {e} (set it in [server] of the config file or LOYALTY_SERVER__TRUSTED_PROXIES='[\"10.0.0.5\"]')"
        ))
    })
}

fn host_orgs(
    configured: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::HashMap<String, String>, crate::UserError> {
    let mut out = std::collections::HashMap::new();
    for (host, slug) in configured {
        let name = host.trim().to_ascii_lowercase();
        let valid_host = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !valid_host {
            return Err(crate::UserError(format!(
                "server.host_orgs: {host:?} is not a host name; write the bare domain people type, such as rewards.nextdoor.com (no https://, port or path)"
            )));
        }
        let slug = loyalty_core::domain::OrgSlug::parse(slug.trim()).map_err(|_| {
            crate::UserError(format!(
                "server.host_orgs: {host:?} maps to {slug:?}, which is not an organization slug; give the slug shown by `loyalty org list`, such as nextdoor"
            ))
        })?;
        out.insert(
            loyalty_web::host::normalize_host(&name),
            slug.as_str().to_owned(),
        );
    }
    Ok(out)
}
