//! What lies around loyalty: the mail server answers, the clock agrees with the
//! database's (or Authentik's), a recent backup exists and no backup or restore left
//! temporary files behind.

use super::Check;
use super::identity::Idp;
use crate::backup::scratch::{self, LEFTOVER_AGE};
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;

/// How long the mail server may take for a whole session.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Skew beyond which OpenID Connect tokens are refused (their leeway).
pub const MAX_SKEW_SECS: i64 = 60;
/// Age beyond which the newest backup is too old (a daily schedule plus slack).
pub const MAX_BACKUP_AGE: time::Duration = time::Duration::hours(26);

/// The mail server of `[mail]` (`SMTP_HOST`, `SMTP_PORT`, `SMTP_USER`, `SMTP_PASSWORD`,
/// `SMTP_FROM`, `mail.tls`): a whole SMTP session as the sender opens it (connection,
/// greeting, EHLO, STARTTLS or TLS, sign-in), without sending. Skipped when no host is set.
pub async fn smtp_configured(mail: &crate::config::MailConfig) -> Check {
    const NAME: &str = "mail server reachable";
    let Some(host) = mail.smtp_host.as_deref().filter(|h| !h.trim().is_empty()) else {
        return Check::skip(
            "smtp.reachable",
            NAME,
            "mail not configured: SMTP_HOST is not set",
        );
    };
    let server = format!("{host}:{}", mail.port());
    let fix = format!(
        "check SMTP_HOST and SMTP_PORT (now {server}), mail.tls, SMTP_USER and SMTP_PASSWORD, and that this machine may connect there (firewall; many hosts block port 25); `loyalty mail test --to ADDRESS` sends a message"
    );
    let sender = match crate::mail::SmtpSender::new(mail) {
        Ok(s) => s,
        Err(e) => return Check::fail("smtp.reachable", NAME, e.to_string(), fix),
    };
    match tokio::time::timeout(SMTP_TIMEOUT, sender.check()).await {
        Ok(Ok(())) => Check::ok(
            "smtp.reachable",
            NAME,
            format!(
                "{server} accepted an SMTP session ({})",
                match mail.tls {
                    crate::config::MailTls::Starttls => "STARTTLS",
                    crate::config::MailTls::Tls => "TLS",
                    crate::config::MailTls::None => "no TLS",
                }
            ),
        ),
        Ok(Err(e)) => Check::fail("smtp.reachable", NAME, e, fix),
        Err(_) => Check::fail(
            "smtp.reachable",
            NAME,
            format!(
                "{server} did not complete an SMTP session within {} s",
                SMTP_TIMEOUT.as_secs()
            ),
            fix,
        ),
    }
}

/// The local clock against the database server's (`now`), or else Authentik's `Date`
/// header. Beyond [`MAX_SKEW_SECS`] sign-ins fail.
pub async fn clock(db_now: Option<OffsetDateTime>, idp: Option<&Idp>) -> Check {
    let (skew, against) = if let Some(theirs) = db_now {
        (
            (OffsetDateTime::now_utc() - theirs).whole_seconds(),
            "the database server",
        )
    } else if let Some(base) = idp.and_then(|i| i.authentik_url.as_deref()) {
        match crate::authentik::clock_skew(base).await {
            Ok(s) => (s, "Authentik's Date header"),
            Err(why) => {
                return Check::skip(
                    "clock.skew",
                    "clock in step",
                    format!("cannot read Authentik's clock: {why}"),
                );
            }
        }
    } else {
        return Check::skip(
            "clock.skew",
            "clock in step",
            "nothing to compare with: SQLite has no server clock and no Authentik is configured",
        );
    };
    clock_verdict(skew, against)
}

/// The verdict on a measured skew in seconds (positive: this machine is ahead).
pub fn clock_verdict(skew: i64, against: &str) -> Check {
    const NAME: &str = "clock in step";
    let detail = format!("{skew:+} s against {against}");
    if skew.abs() > MAX_SKEW_SECS {
        Check::fail(
            "clock.skew",
            NAME,
            format!("{detail}: beyond the {MAX_SKEW_SECS} s that sign-in tokens allow"),
            "enable NTP on both machines (timedatectl set-ntp true)",
        )
    } else if skew.abs() > 10 {
        Check::warn(
            "clock.skew",
            NAME,
            detail,
            "enable NTP (timedatectl set-ntp true) before the skew grows",
        )
    } else {
        Check::ok("clock.skew", NAME, detail)
    }
}

/// The backup folder `dir` takes a private folder: backups, restores and XLSX exports
/// write their temporary files there, and an export answers 503 when it cannot.
pub fn backup_dir_writable(dir: &Path) -> Check {
    const NAME: &str = "backup folder writable";
    let probe = format!(".doctor-{}", std::process::id());
    match loyalty_core::scratch::Scratch::create(dir, &probe) {
        Ok(scratch) => {
            drop(scratch);
            Check::ok("backup.writable", NAME, dir.display().to_string())
        }
        Err(e) => Check::fail(
            "backup.writable",
            NAME,
            format!("{}: {e}", dir.display()),
            format!(
                "make {} writable by the user that runs loyalty (chown/chmod), or point backup.dir (LOYALTY_BACKUP__DIR) at a folder it can write: backups and XLSX exports need it",
                dir.display()
            ),
        ),
    }
}

/// The newest backup set in `dir` is younger than [`MAX_BACKUP_AGE`] at `now`.
pub fn backups(dir: &Path, now: OffsetDateTime) -> Check {
    const NAME: &str = "recent backup";
    let fix = format!(
        "take one with `loyalty backup create` and schedule it daily (cron or a systemd timer); the folder is {} (backup.dir, LOYALTY_BACKUP__DIR)",
        dir.display()
    );
    match crate::backup::latest_backup(dir) {
        None => Check::warn(
            "backup.recent",
            NAME,
            format!("no complete backup set in {}", dir.display()),
            fix,
        ),
        Some(at) => {
            let age = now - at;
            let hours = age.whole_hours();
            if age > MAX_BACKUP_AGE {
                Check::warn(
                    "backup.recent",
                    NAME,
                    format!(
                        "the newest, from {}, is {hours} h old (more than {} h)",
                        crate::when(at),
                        MAX_BACKUP_AGE.whole_hours()
                    ),
                    fix,
                )
            } else {
                Check::ok(
                    "backup.recent",
                    NAME,
                    format!("{} ({hours} h old)", crate::when(at)),
                )
            }
        }
    }
}

/// Temporary files that a killed backup or restore left: in the backup folder `dir`
/// (`.restore-*`, `.unfinished-*`) and next to the SQLite database `db`, older than
/// [`LEFTOVER_AGE`]. They hold customer data, so each is named with its size and the
/// command that removes it.
pub fn leftovers(dir: &Path, db: Option<&Path>) -> Check {
    const NAME: &str = "no leftovers of backups and restores";
    let found = scratch::leftovers(dir, db, LEFTOVER_AGE);
    if found.is_empty() {
        return Check::ok(
            "backup.leftovers",
            NAME,
            format!("no temporary files in {}", dir.display()),
        );
    }
    let total: u64 = found.iter().map(|l| l.bytes).sum();
    let listed: Vec<String> = found
        .iter()
        .map(|l| {
            format!(
                "{} ({} bytes, {} min old, {})",
                l.path.display(),
                l.bytes,
                l.age.as_secs() / 60,
                match (l.pid, l.running) {
                    (Some(p), true) => format!("process {p} still runs"),
                    (Some(p), false) => format!("process {p} is gone"),
                    (None, _) => "process unknown".to_owned(),
                }
            )
        })
        .collect();
    let paths: Vec<String> = found
        .iter()
        .map(|l| format!("'{}'", l.path.display()))
        .collect();
    Check::warn(
        "backup.leftovers",
        NAME,
        format!(
            "{} left by a backup or restore that did not finish, {total} bytes of customer data: {}",
            found.len(),
            listed.join("; ")
        ),
        format!(
            "once no `loyalty backup` runs, remove them: rm -rf {} (the next backup or restore also removes those whose process is gone)",
            paths.join(" ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn a_backup_folder_that_cannot_take_a_private_folder_fails_and_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let ok = backup_dir_writable(&dir.path().join("backups"));
        assert_eq!(ok.status, Status::Ok, "{ok:?}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("backups"))
                .unwrap()
                .count(),
            0,
            "the probe leaves nothing behind"
        );
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let bad = backup_dir_writable(&file);
        assert_eq!(bad.status, Status::Fail, "{bad:?}");
        assert!(
            bad.fix.as_deref().unwrap_or("").contains("backup.dir"),
            "{bad:?}"
        );
    }

    fn write_set(dir: &Path, name: &str, created: &str, file_bytes: usize, recorded: usize) {
        let set = dir.join(name);
        std::fs::create_dir_all(&set).unwrap();
        std::fs::write(set.join("db.gz"), vec![0u8; file_bytes]).unwrap();
        std::fs::write(
            set.join("manifest.json"),
            serde_json::json!({
                "created_at": created, "label": null, "backend": "sqlite",
                "schema_version": 5, "loyalty_version": "0.1.0",
                "files": [{"name": "db.gz", "bytes": recorded, "sha256": "-", "kind": "loyalty"}],
            })
            .to_string(),
        )
        .unwrap();
    }

    #[test]
    fn the_newest_complete_set_counts_and_an_incomplete_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let now = time::macros::datetime!(2025-01-24 12:00 UTC);
        assert_eq!(backups(dir.path(), now).status, Status::Warn);
        write_set(
            dir.path(),
            "20250122_120000",
            "2025-01-22T12:00:00Z",
            10,
            10,
        );
        let old = backups(dir.path(), now);
        assert_eq!(old.status, Status::Warn, "{old:?}");
        assert!(old.detail.contains("48 h old"), "{}", old.detail);
        // Newer, but a file is shorter than recorded: not complete.
        write_set(dir.path(), "20250124_100000", "2025-01-24T10:00:00Z", 5, 10);
        assert_eq!(backups(dir.path(), now).status, Status::Warn);
        write_set(
            dir.path(),
            "20250124_110000",
            "2025-01-24T11:00:00Z",
            10,
            10,
        );
        let fresh = backups(dir.path(), now);
        assert_eq!(fresh.status, Status::Ok, "{fresh:?}");
        assert!(fresh.detail.contains("1 h old"));
    }

    #[test]
    fn skew_beyond_the_leeway_fails_with_the_ntp_fix() {
        assert_eq!(clock_verdict(3, "x").status, Status::Ok);
        assert_eq!(clock_verdict(-30, "x").status, Status::Warn);
        let bad = clock_verdict(-90, "x");
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(
            bad.fix.as_deref(),
            Some("enable NTP on both machines (timedatectl set-ntp true)")
        );
    }
}
