//! The `.pkpass` archive against a certificate authority made here with the openssl
//! command line: root ("Apple"), WWDR intermediate, Pass Type ID certificate. The archive
//! unzips, its manifest's hashes match, and `openssl cms -verify` accepts the signature
//! against the root.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use loyalty_identity::wallet::apple::{PassSignError, PassSigner};
use sha1::{Digest, Sha1};
use std::io::Read;
use std::process::Command;

mod ca;
use ca::{make_ca, openssl};

#[test]
fn a_signed_pass_unzips_its_hashes_match_and_openssl_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d);
    let signer = PassSigner::from_files(
        &d.join("pass.pem"),
        &d.join("pass.key"),
        &d.join("wwdr.pem"),
    )
    .unwrap();
    let pass = br#"{"formatVersion":1,"serialNumber":"x"}"#;
    let logo = b"\x89PNG not really";
    let archive = signer
        .package(&[("pass.json", pass), ("logo.png", logo)])
        .unwrap();

    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        ["logo.png", "manifest.json", "pass.json", "signature"]
    );
    let mut read = |name: &str| {
        let mut v = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut v).unwrap();
        v
    };
    let manifest_bytes = read("manifest.json");
    let signature = read("signature");
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(manifest.len(), 2, "{manifest:?}");
    for name in ["pass.json", "logo.png"] {
        let bytes = read(name);
        assert_eq!(
            manifest[name].as_str().unwrap(),
            hex::encode(Sha1::digest(&bytes)),
            "{name}"
        );
    }

    std::fs::write(d.join("manifest.json"), &manifest_bytes).unwrap();
    std::fs::write(d.join("signature"), &signature).unwrap();
    openssl(
        d,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature",
            "-content",
            "manifest.json",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    // The certificates in the signature are the WWDR intermediate and the pass's.
    let out = Command::new("openssl")
        .args([
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            "signature",
            "-print_certs",
            "-noout",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    let certs = String::from_utf8_lossy(&out.stdout);
    assert!(
        certs.contains("Test WWDR") && certs.contains("pass.test.loyalty"),
        "{certs}"
    );

    // A manifest changed after signing is refused.
    std::fs::write(d.join("manifest.json"), b"{}").unwrap();
    let bad = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature",
            "-content",
            "manifest.json",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn unreadable_signing_material_names_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("junk.pem"), "not a certificate").unwrap();
    let err = PassSigner::from_files(&d.join("junk.pem"), &d.join("k"), &d.join("w")).unwrap_err();
    assert!(matches!(err, PassSignError::Material(_)));
    assert!(
        err.to_string().contains("wallet.apple.certificate"),
        "{err}"
    );
    let err =
        PassSigner::from_files(&d.join("missing.pem"), &d.join("k"), &d.join("w")).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
