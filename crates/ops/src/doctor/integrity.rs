//! The ledger's signed checkpoints (docs/integrity.md): the installation's signing key
//! is private and a key, and `serve`'s daily checkpoint job is keeping up.

use super::Check;
use crate::config::IntegrityConfig;
use crate::integrity::{KeyError, read_key};
use loyalty_core::domain::OrgStatus;
use loyalty_core::store::Store;
use std::path::Path;
use time::OffsetDateTime;

/// Age beyond which an organization's newest checkpoint is late, when the job runs
/// daily (a longer interval allows twice itself).
pub const MAX_CHECKPOINT_AGE: time::Duration = time::Duration::days(2);

/// Organizations named at most in a late checkpoint's detail.
const NAMED: usize = 5;

/// The key file of `[integrity] signing_key`: absent is a warning (the first checkpoint
/// makes it); readable by others, unreadable or not a key fails.
pub fn signing_key(config: &IntegrityConfig) -> Check {
    const ID: &str = "integrity.key";
    const NAME: &str = "ledger signing key";
    let path = Path::new(&config.signing_key);
    let p = path.display();
    match read_key(path) {
        Ok(key) => Check::ok(ID, NAME, format!("{p}, public key {}", key.public_hex())),
        Err(KeyError::Missing) => Check::warn(
            ID,
            NAME,
            format!("{p} does not exist yet"),
            format!(
                "the first checkpoint (`loyalty points checkpoint`, or the one `serve` takes each day) makes it with mode 0600; then copy {p} somewhere apart from the backups"
            ),
        ),
        Err(KeyError::NotPrivate(mode)) => Check::fail(
            ID,
            NAME,
            format!("{p} is readable by others (mode {mode:o})"),
            format!("run chmod 600 {p}"),
        ),
        Err(KeyError::Unreadable(e)) => Check::fail(
            ID,
            NAME,
            format!("cannot read {p}: {e}"),
            format!(
                "run loyalty as the owner of {p} (chown it to that user, then chmod 600 {p}), or point integrity.signing_key (LOYALTY_INTEGRITY__SIGNING_KEY) at the key"
            ),
        ),
        Err(KeyError::Invalid) => Check::fail(
            ID,
            NAME,
            format!("{p} does not hold a key (64 hex digits)"),
            format!(
                "restore {p} from its copy: a new key cannot confirm the signatures of the checkpoints already given out; only without a copy, move the file away and let the next checkpoint make a new key"
            ),
        ),
    }
}

/// Every active organization older than the allowed age has a checkpoint younger than
/// it, while `serve` takes them (`checkpoint_interval_secs` above 0).
pub async fn recent_checkpoint(
    store: &dyn Store,
    config: &IntegrityConfig,
    now: OffsetDateTime,
) -> Check {
    const ID: &str = "integrity.checkpoint";
    const NAME: &str = "recent ledger checkpoint";
    if config.checkpoint_interval_secs == 0 {
        return Check::skip(
            ID,
            NAME,
            "serve takes no checkpoints: integrity.checkpoint_interval_secs is 0",
        );
    }
    let interval = time::Duration::seconds(
        i64::try_from(config.checkpoint_interval_secs).unwrap_or(i64::MAX / 4),
    );
    let limit = MAX_CHECKPOINT_AGE.max(interval * 2);
    let orgs = match store.list_organizations().await {
        Ok(o) => o,
        Err(e) => {
            return Check::warn(
                ID,
                NAME,
                format!("cannot list the organizations: {e}"),
                "check the database user's rights on the organizations table",
            );
        }
    };
    let mut late = Vec::new();
    let mut checked = 0;
    for s in orgs.iter().filter(|s| s.org.status == OrgStatus::Active) {
        if now - s.org.created_at < limit {
            continue;
        }
        checked += 1;
        match store.checkpoints(s.org.id, 1).await {
            Ok(list) => match list.first() {
                Some(cp) if now - cp.created_at < limit => {}
                Some(cp) => late.push(format!(
                    "{} (last {}, {} days ago)",
                    s.org.slug,
                    cp.created_at.date(),
                    (now - cp.created_at).whole_days()
                )),
                None => late.push(format!("{} (none)", s.org.slug)),
            },
            Err(e) => {
                return Check::warn(
                    ID,
                    NAME,
                    format!("cannot read the checkpoints of {}: {e}", s.org.slug),
                    "check the database user's rights on the table ledger_checkpoints",
                );
            }
        }
    }
    if late.is_empty() {
        return Check::ok(
            ID,
            NAME,
            format!(
                "{checked} organizations with one from the last {} days",
                limit.whole_days()
            ),
        );
    }
    let mut detail = format!(
        "{} of {checked} organizations have no checkpoint from the last {} days: {}",
        late.len(),
        limit.whole_days(),
        late.iter()
            .take(NAMED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if late.len() > NAMED {
        detail.push_str(&format!(" and {} more", late.len() - NAMED));
    }
    Check::warn(
        ID,
        NAME,
        detail,
        "keep `loyalty serve` running (one instance takes a checkpoint of every active organization each integrity.checkpoint_interval_secs) and look in its log for \"ledger checkpoint failed\"; `loyalty points checkpoint` takes one now",
    )
}
