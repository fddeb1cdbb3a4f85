//! The systemd units in deploy/systemd pass `systemd-analyze verify` (with this build's
//! binary in place of /usr/local/bin/loyalty). Without systemd-analyze the test fails
//! naming the package, unless `LOYALTY_TEST_SKIP` names `systemd`.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_systemd_units_verify() {
    if !loyalty_testkit::tools::required(
        "systemd",
        loyalty_testkit::tools::runs("systemd-analyze", "--version"),
        "systemd-analyze (Debian package systemd)",
        "apt-get install --no-install-recommends systemd",
    ) {
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
