//! `loyalty org`: list, show, suspend and reactivate organizations; the post-handoff
//! checklist.

use crate::app::{App, Schema};
use crate::backup::latest_backup;
use crate::config::Config;
use crate::output::{table, when};
use loyalty_core::domain::Organization;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::{checklist, orgs};
use loyalty_core::store::ConsoleFilter;
use std::path::PathBuf;

/// Organization commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every organization with status, plan, member counts and how it is doing: awards
    /// in the last 24 hours and in the last 30 days, last activity, the post-handoff
    /// checklist's ticked items, and the worst result of the latest organization checks
    /// run from the operator console. --json prints the same figures.
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
        /// Who does it, for the audit log (default: the USER environment variable).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reactivate a suspended organization.
    Activate {
        /// The organization's slug.
        slug: String,
        /// Who does it, for the audit log (default: the USER environment variable).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The post-handoff checklist (runbook 7.4): each item with [x] or [ ], who and when.
    ///
    /// Items the system can see tick themselves when shown: admin-password (the first
    /// admin chose their own password; built-in accounts), first-cashier (an active
    /// cashier), first-purchase, backup (a complete backup set newer than the
    /// onboarding). `loyalty handoff` ticks guide-sent. Tick the rest with --done.
    Checklist {
        /// The organization's slug.
        slug: String,
        /// Tick this item, such as walkthrough or credentials-delivered.
        #[arg(long, value_name = "ITEM", conflicts_with = "undo")]
        done: Option<String>,
        /// A note kept with --done, such as how the credentials were delivered.
        #[arg(long, value_name = "TEXT", requires = "done")]
        note: Option<String>,
        /// Untick this item (one the system sees ticks itself again).
        #[arg(long, value_name = "ITEM")]
        undo: Option<String>,
        /// Who ticks (--done) or unticks (--undo) the item, for the checklist and the
        /// audit log (default: the USER environment variable).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Folder of backup sets, read to tick "backup" [default: backup.dir of the
        /// configuration, ./backups].
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
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
            let page = orgs::console(store, app.clock.now(), &ConsoleFilter::default()).await?;
            let list = page.shops;
            if json {
                let total = orgs::checklist_items();
                let rows = list
                    .iter()
                    .map(|s| {
                        let mut v = serde_json::to_value(s)?;
                        v["checklist_total"] = total.into();
                        Ok(v)
                    })
                    .collect::<Result<Vec<_>, serde_json::Error>>()?;
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else if list.is_empty() {
                outln!(
                    "No organizations yet. Onboard one with: loyalty onboard --name ... --slug ... --admin-email ... --admin-name ..."
                );
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|f| {
                        let s = &f.summary;
                        vec![
                            s.org.slug.to_string(),
                            s.org.name.clone(),
                            s.org.status.to_string(),
                            s.org.plan.clone(),
                            s.admins.to_string(),
                            s.cashiers.to_string(),
                            s.customers.to_string(),
                            f.awards_today.to_string(),
                            f.awards_30d.to_string(),
                            f.last_activity.map(when).unwrap_or_else(|| "-".into()),
                            format!(
                                "{}/{}",
                                f.checklist_done.min(orgs::checklist_items()),
                                orgs::checklist_items()
                            ),
                            f.checks
                                .as_ref()
                                .map(|c| c.worst.to_uppercase())
                                .unwrap_or_else(|| "-".into()),
                            when(s.org.created_at),
                        ]
                    })
                    .collect();
                out!(
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
                            "AWARDS 24H",
                            "AWARDS 30D",
                            "LAST ACTIVITY",
                            "CHECKLIST",
                            "CHECKS",
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
                outln!("{}", serde_json::to_string_pretty(&org)?);
            } else {
                out!("{}", describe(&org));
            }
        }
        Command::Suspend { slug, by, json } => {
            let change = orgs::suspend(store, &slug, &operator(by), app.clock.now()).await?;
            report(
                &change,
                json,
                "suspended: till, admin and customer requests are refused with org.suspended; data is kept. Undo with: loyalty org activate",
            )?;
        }
        Command::Activate { slug, by, json } => {
            let change = orgs::activate(store, &slug, &operator(by), app.clock.now()).await?;
            report(&change, json, "active again")?;
        }
        Command::Checklist {
            slug,
            done,
            note,
            undo,
            by,
            backup_dir,
            json,
        } => {
            let org = orgs::get(store, &slug).await?;
            let now = app.clock.now();
            let by = operator(by).label;
            if let Some(item) = &done {
                checklist::mark(store, &org, item, &by, note.as_deref(), now).await?;
            }
            if let Some(item) = &undo
                && !checklist::unmark(store, &org, item, &by, now).await?
                && !json
            {
                outln!("{item} was not ticked; nothing changed");
            }
            let observed = checklist::observe(
                store,
                Some(app.directory.as_ref()),
                &org,
                latest_backup(&backup_dir.unwrap_or_else(|| PathBuf::from(&config.backup.dir))),
            )
            .await?;
            let entries = checklist::show(store, &org, &observed, now).await?;
            if json {
                let out = serde_json::json!({
                    "org": org.slug,
                    "done": entries.iter().filter(|e| e.done).count(),
                    "total": entries.len(),
                    "items": entries,
                });
                outln!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                out!("{}", checklist_text(&org, &entries));
            }
        }
    }
    Ok(())
}

/// The operator named by `--by`, else by the USER environment variable, else `operator`.
pub(crate) fn operator(by: Option<String>) -> Actor {
    let name = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    Actor::operator(&name)
}

fn checklist_text(org: &Organization, entries: &[checklist::Entry]) -> String {
    let done = entries.iter().filter(|e| e.done).count();
    let mut out = format!(
        "Post-handoff checklist of {} ({}): {done} of {} done\n",
        org.name,
        org.slug,
        entries.len()
    );
    let key_w = entries.iter().map(|e| e.item.len()).max().unwrap_or(0);
    for e in entries {
        let mark = if e.done { "[x]" } else { "[ ]" };
        let how = match e.tick {
            checklist::Tick::Auto => " (ticks itself)",
            checklist::Tick::Handoff => " (loyalty handoff)",
            checklist::Tick::Manual => "",
        };
        out.push_str(&format!("{mark} {:<key_w$}  {}", e.item, e.label));
        if let (Some(at), Some(by)) = (e.done_at, &e.done_by) {
            out.push_str(&format!(" - {} by {by}", when(at)));
            if let Some(note) = &e.note {
                out.push_str(&format!(": {note}"));
            }
        } else {
            out.push_str(how);
        }
        out.push('\n');
    }
    if done < entries.len() {
        out.push_str(&format!(
            "Tick an item with: loyalty org checklist {} --done ITEM [--note TEXT]\n",
            org.slug
        ));
    }
    out
}

fn report(change: &orgs::StatusChange, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(change)?);
    } else if change.changed {
        outln!("{} ({}) {what}", change.org.name, change.org.slug);
    } else {
        outln!(
            "{} ({}) is already {}; nothing changed",
            change.org.name,
            change.org.slug,
            change.org.status
        );
    }
    Ok(())
}

fn describe(org: &Organization) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = vec![
        vec!["id".into(), org.id.to_string()],
        vec!["name".into(), org.name.clone()],
        vec!["slug".into(), org.slug.to_string()],
        vec!["status".into(), org.status.to_string()],
        vec!["plan".into(), org.plan.clone()],
        vec![
            "groups".into(),
            ["admins", "cashiers", "customers"]
                .map(|r| format!("{}-{r}", org.group_prefix))
                .join(", "),
        ],
        vec![
            "country".into(),
            org.country
                .as_ref()
                .map_or_else(|| "-".into(), ToString::to_string),
        ],
        vec!["timezone".into(), org.timezone.to_string()],
        vec!["language".into(), org.language.to_string()],
        vec!["currency".into(), org.currency.to_string()],
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
