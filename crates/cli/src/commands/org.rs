//! `loyalty org`: list, show, suspend and reactivate organizations.

use crate::app::{App, Schema};
use crate::config::Config;
use crate::output::{table, when};
use loyalty_core::domain::Organization;
use loyalty_core::service::orgs;

/// Organization commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every organization with status, plan and member counts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One organization in full.
    Show {
        /// The organization's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Suspend an organization: every till and admin request is refused; data is kept.
    Suspend {
        /// The organization's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reactivate a suspended organization.
    Activate {
        /// The organization's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let store = app.store.as_ref();
    match cmd {
        Command::List { json } => {
            let list = orgs::list(store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!(
                    "No organizations yet. Onboard one with: loyalty onboard --name ... --slug ... --admin-email ... --admin-name ..."
                );
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.org.slug.clone(),
                            s.org.name.clone(),
                            s.org.status.to_string(),
                            s.org.plan.clone(),
                            s.admins.to_string(),
                            s.cashiers.to_string(),
                            s.customers.to_string(),
                            when(s.org.created_at),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            "SLUG",
                            "NAME",
                            "STATUS",
                            "PLAN",
                            "ADMINS",
                            "CASHIERS",
                            "CUSTOMERS",
                            "ONBOARDED"
                        ],
                        &rows
                    )
                );
            }
        }
        Command::Show { slug, json } => {
            let org = orgs::get(store, &slug).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&org)?);
            } else {
                print!("{}", describe(&org));
            }
        }
        Command::Suspend { slug, json } => {
            let change = orgs::suspend(store, &slug, app.clock.now()).await?;
            report(
                &change,
                json,
                "suspended: till, admin and customer requests are refused with org.suspended; data is kept. Undo with: loyalty org activate",
            )?;
        }
        Command::Activate { slug, json } => {
            let change = orgs::activate(store, &slug, app.clock.now()).await?;
            report(&change, json, "active again")?;
        }
    }
    Ok(())
}

fn report(change: &orgs::StatusChange, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(change)?);
    } else if change.changed {
        println!("{} ({}) {what}", change.org.name, change.org.slug);
    } else {
        println!(
            "{} ({}) is already {}; nothing changed",
            change.org.name, change.org.slug, change.org.status
        );
    }
    Ok(())
}

fn describe(org: &Organization) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = vec![
        vec!["id".into(), org.id.to_string()],
        vec!["name".into(), org.name.clone()],
        vec!["slug".into(), org.slug.clone()],
        vec!["status".into(), org.status.to_string()],
        vec!["plan".into(), org.plan.clone()],
        vec![
            "groups".into(),
            ["admins", "cashiers", "customers"]
                .map(|r| format!("{}-{r}", org.group_prefix))
                .join(", "),
        ],
        vec!["country".into(), opt(&org.country)],
        vec!["timezone".into(), org.timezone.clone()],
        vec!["language".into(), org.language.clone()],
        vec!["currency".into(), org.currency.clone()],
        vec![
            "contact".into(),
            format!(
                "{} <{}> {}",
                opt(&org.contact_name),
                opt(&org.contact_email),
                opt(&org.contact_phone)
            ),
        ],
        vec!["custom domain".into(), opt(&org.custom_domain)],
        vec![
            "contract start".into(),
            org.contract_start
                .map_or_else(|| "-".into(), |d| d.to_string()),
        ],
        vec!["deployment".into(), opt(&org.deployment_type)],
        vec!["settings".into(), org.settings.to_string()],
        vec!["created".into(), when(org.created_at)],
        vec!["updated".into(), when(org.updated_at)],
    ];
    rows.iter()
        .map(|r| format!("{:<15} {}\n", r[0], r[1]))
        .collect()
}
