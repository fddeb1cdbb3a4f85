//! Private temporary folders for files that hold customer data (backups, restores,
//! XLSX exports): a folder only its owner can enter (0700), files 0600, never in the
//! system's temporary folder, removed with everything in it when its guard is dropped.
//! Each is named after the process that made it, so what a killed process left is found
//! by `loyalty doctor` and swept by the next backup (`ops::backup::scratch`).

use std::fs::File;
use std::path::{Path, PathBuf};

/// A private folder that is removed, with everything in it, when dropped.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates `{dir}/{name}` (0700), creating `dir` when missing.
    pub fn create(dir: &Path, name: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(name);
        create_private_dir(&path)?;
        Ok(Self { path })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `{folder}/{name}`, created empty and private (0600).
    pub fn file(&self, name: &str) -> std::io::Result<(PathBuf, File)> {
        let path = self.path.join(name);
        let file = create_private_file(&path)?;
        Ok((path, file))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a temporary folder")
            }
        }
    }
}

/// Creates a folder only its owner can enter: what goes in holds customer data.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(path)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir(path)
    }
}

/// Creates (or empties) a file only its owner can read, whatever the umask.
pub fn create_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = File::options();
    options.write(true).read(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // An existing file keeps its mode on open; make it private too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}
