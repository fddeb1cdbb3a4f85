//! The ledger's signed checkpoints (docs/integrity.md): the installation's Ed25519
//! signing key (a private file, made on first use), taking checkpoints of every active
//! organization, the daily job `serve` runs under a database lease, and reading a
//! checkpoint file back with its signature checked.

use crate::UserError;
use crate::config::IntegrityConfig;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use loyalty_core::clock::Clock;
use loyalty_core::domain::chain::Checkpoint;
use loyalty_core::domain::{OrgId, OrgStatus};
use loyalty_core::service::integrity::{CheckpointSigner, take_checkpoint};
use loyalty_core::store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The lease the checkpoint job takes, so several instances take one checkpoint a day.
const LEASE: &str = "ledger-checkpoint";

/// The installation's signing key.
pub struct InstallationKey(SigningKey);

impl std::fmt::Debug for InstallationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstallationKey({})", self.public_hex())
    }
}

impl InstallationKey {
    /// The public key, hex: what an auditor compares checkpoints with.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }
}

impl CheckpointSigner for InstallationKey {
    fn public_key(&self) -> String {
        self.public_hex()
    }

    fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).to_bytes())
    }
}

/// Why the key file cannot be used.
#[derive(Debug)]
pub enum KeyError {
    /// There is no file (the first checkpoint makes it).
    Missing,
    /// Others than its owner may read or write it (the mode, octal).
    NotPrivate(u32),
    /// It cannot be read.
    Unreadable(std::io::Error),
    /// It does not hold 64 hex digits.
    Invalid,
}

impl KeyError {
    /// The sentence naming the file, the problem and its fix.
    pub fn explain(&self, path: &Path) -> String {
        let p = path.display();
        match self {
            KeyError::Missing => format!(
                "integrity.signing_key: {p} does not exist; `loyalty points checkpoint` makes it on first use"
            ),
            KeyError::NotPrivate(mode) => format!(
                "integrity.signing_key: {p} is readable by others (mode {mode:o}); run chmod 600 {p}"
            ),
            KeyError::Unreadable(e) => format!(
                "integrity.signing_key: cannot read {p}: {e}; run loyalty as the file's owner"
            ),
            KeyError::Invalid => format!(
                "integrity.signing_key: {p} is not a key (64 hex digits); restore it from a backup"
            ),
        }
    }
}

/// Reads the key at `path` as it is, changing nothing: 64 hex digits (the Ed25519
/// seed) in a file only its owner may read.
pub fn read_key(path: &Path) -> Result<InstallationKey, KeyError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyError::Missing),
        Err(e) => return Err(KeyError::Unreadable(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::NotPrivate(mode & 0o777));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(KeyError::Unreadable)?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(KeyError::Invalid)?;
    Ok(InstallationKey(SigningKey::from_bytes(&seed)))
}

/// Reads the key at `path` ([`read_key`]). With `create`, a missing file is made
/// (0600, in a folder made if needed).
pub fn load_key(path: &Path, create: bool) -> anyhow::Result<InstallationKey> {
    match read_key(path) {
        Ok(key) => Ok(key),
        Err(KeyError::Missing) if create => make_key(path),
        Err(e) => Err(UserError(e.explain(path)).into()),
    }
}

/// Makes a new key file at `path` (0600, in a folder made if needed).
fn make_key(path: &Path) -> anyhow::Result<InstallationKey> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let seed: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        UserError(format!(
            "integrity.signing_key: cannot create {}: {e}; make its folder writable or set another path",
            path.display()
        ))
    })?;
    std::io::Write::write_all(&mut file, format!("{}\n", hex::encode(seed)).as_bytes())?;
    Ok(InstallationKey(SigningKey::from_bytes(&seed)))
}

/// Takes a checkpoint of each active organization (or of `org` alone).
pub async fn checkpoint(
    store: &dyn Store,
    clock: &dyn Clock,
    key: &InstallationKey,
    org: Option<OrgId>,
) -> anyhow::Result<Vec<Checkpoint>> {
    let orgs: Vec<OrgId> = match org {
        Some(o) => vec![o],
        None => store
            .list_organizations()
            .await?
            .into_iter()
            .filter(|s| s.org.status == OrgStatus::Active)
            .map(|s| s.org.id)
            .collect(),
    };
    let mut out = Vec::with_capacity(orgs.len());
    for o in orgs {
        out.push(take_checkpoint(store, o, key, clock.now()).await?);
    }
    Ok(out)
}

/// Reads a checkpoint file (as downloaded or printed by `loyalty points checkpoint
/// --json`) and checks it: its heads match its root and counts, and its signature is
/// the installation's `key`'s.
pub fn read_checkpoint(path: &Path, key: &InstallationKey) -> anyhow::Result<Checkpoint> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        UserError(format!(
            "--from-checkpoint: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let cp: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        UserError(format!(
            "--from-checkpoint: {} is not a checkpoint file: {e}; download it again from the admin panel",
            path.display()
        ))
    })?;
    verify_signature(&cp, key)?;
    Ok(cp)
}

/// Checks a checkpoint's consistency and signature against the installation's key.
pub fn verify_signature(cp: &Checkpoint, key: &InstallationKey) -> anyhow::Result<()> {
    if !cp.consistent() {
        return Err(UserError(
            "the checkpoint's heads do not match its root and counts: it was altered".into(),
        )
        .into());
    }
    if cp.public_key != key.public_hex() {
        return Err(UserError(format!(
            "the checkpoint was signed by key {}, not this installation's {}",
            cp.public_key,
            key.public_hex()
        ))
        .into());
    }
    let verifying = VerifyingKey::from_bytes(&key.0.verifying_key().to_bytes())
        .map_err(|e| UserError(format!("the installation's key is unusable: {e}")))?;
    let sig: [u8; 64] = hex::decode(&cp.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| UserError("the checkpoint's signature is not 64 bytes of hex".into()))?;
    verifying
        .verify(&cp.message(), &Signature::from_bytes(&sig))
        .map_err(|_| {
            UserError("the checkpoint's signature does not match: it was altered".into())
        })?;
    Ok(())
}

/// The job `serve` runs: a checkpoint of every active organization each
/// `checkpoint_interval_secs`, on whichever instance holds the lease.
pub async fn job(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: IntegrityConfig) {
    let holder = loyalty_core::secret::random_token();
    let every = Duration::from_secs(config.checkpoint_interval_secs.max(60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first checkpoint one interval after start, not at every restart.
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = clock.now();
        let lease = time::Duration::seconds(i64::try_from(every.as_secs()).unwrap_or(86_400));
        match store.try_lease(LEASE, &holder, now, now + lease).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "ledger checkpoint: cannot take its lease");
                continue;
            }
        }
        let result = match load_key(Path::new(&config.signing_key), true) {
            Ok(key) => checkpoint(store.as_ref(), clock.as_ref(), &key, None).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(done) => tracing::info!(organizations = done.len(), "ledger checkpoints taken"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "ledger checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_private_once_and_a_readable_one_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keys/signing.key");
        assert!(load_key(&path, false).is_err());
        let made = load_key(&path, true).expect("made");
        let again = load_key(&path, false).expect("read");
        assert_eq!(made.public_hex(), again.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = load_key(&path, false).expect_err("public");
            assert!(format!("{e}").contains("chmod 600"), "{e}");
        }
    }
}
