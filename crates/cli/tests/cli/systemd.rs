//! The systemd units in deploy/systemd pass `systemd-analyze verify` (with this build's
//! binary in place of /usr/local/bin/loyalty). Skipped where systemd-analyze is absent,
//! except under CI, where that fails.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_systemd_units_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").is_err(),
            "systemd-analyze is required under CI (Debian package systemd)"
        );
        eprintln!("systemd-analyze not found: skipping the unit check");
        return;
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd");
    let tmp = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for name in [
        "loyalty.service",
        "loyalty-backup.service",
        "loyalty-backup.timer",
    ] {
        let text = std::fs::read_to_string(src.join(name))
            .unwrap()
            .replace("/usr/local/bin/loyalty", env!("CARGO_BIN_EXE_loyalty"));
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        units.push(path);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}
