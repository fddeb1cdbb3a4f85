//! A certificate authority made with the openssl command line for the wallet tests:
//! root ("Apple"), WWDR intermediate, Pass Type ID certificate and key. Shared by the web
//! crate's tests.

use std::path::Path;
use std::process::Command;

/// Runs `openssl args` in `dir`, failing the test (naming the tool) when it is missing or
/// fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the `openssl` command is needed by this test: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes root.pem, wwdr.pem, pass.pem and pass.key (PKCS#8) in `dir`.
pub fn make_ca(dir: &Path) {
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test Root CA",
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "wwdr.key",
            "-out",
            "wwdr.csr",
            "-subj",
            "/CN=Test WWDR",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "wwdr.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "wwdr.pem",
            "-days",
            "2",
            "-extfile",
            "ca.ext",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "pass.key",
            "-out",
            "pass.csr",
            "-subj",
            "/UID=pass.test.loyalty/CN=Pass Type ID: pass.test.loyalty/OU=TEAMID1234",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "pass.csr",
            "-CA",
            "wwdr.pem",
            "-CAkey",
            "wwdr.key",
            "-CAcreateserial",
            "-out",
            "pass.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
}
