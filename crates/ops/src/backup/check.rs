//! Checksums: hashing while writing a set, and checking every file of a set against its
//! manifest before a restore touches anything.

use super::Set;
use super::progress::Progress;
use crate::UserError;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// A writer that counts and hashes what passes through.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the byte count and the hex SHA-256.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The SHA-256 (hex) and size of a file, reporting progress.
pub fn hash_file(
    path: &Path,
    progress: &dyn Progress,
    what: &str,
) -> anyhow::Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).ok();
    let mut task = progress.task(what, total);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        bytes += n as u64;
        task.inc(n as u64);
    }
    task.finish();
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Checks every file of a set against its manifest, before anything is touched.
pub fn verify(set: &Set, progress: &dyn Progress) -> anyhow::Result<()> {
    if set.manifest.files.is_empty() {
        return Err(UserError(format!(
            "backup set {} lists no files; it cannot be restored",
            set.name
        ))
        .into());
    }
    for f in &set.manifest.files {
        let path = set.path.join(&f.name);
        if !path.is_file() {
            return Err(UserError(format!(
                "backup set {}: {} is missing; the set cannot be restored, choose another (`loyalty backup list`)",
                set.name,
                path.display()
            ))
            .into());
        }
        let (actual, bytes) = hash_file(&path, progress, &format!("checking {}", f.name))?;
        if actual != f.sha256 || bytes != f.bytes {
            return Err(UserError(format!(
                "backup set {}: {} is corrupted: SHA-256 expected {} ({} bytes), actual {} ({} bytes); nothing was restored. Choose another set (`loyalty backup list`)",
                set.name,
                path.display(),
                f.sha256,
                f.bytes,
                actual,
                bytes
            ))
            .into());
        }
    }
    Ok(())
}
