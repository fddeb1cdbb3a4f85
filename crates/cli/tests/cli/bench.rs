//! `loyalty bench` leaves a ledger `loyalty points verify` accepts, on both backends: on
//! PostgreSQL the pgbench comparison writes its entries without their chain hash (SQL
//! cannot compute it) and the bench hashes them afterwards.

use super::support::{loyalty, stderr, stdout};
use loyalty_testkit::{Kind, both_backends};

both_backends! {
    async fn after_a_bench_the_hash_chains_verify(db) {
        if db.kind == Kind::Postgres {
            for tool in ["pgbench", "psql"] {
                let found = std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().expect("sh");
                assert!(found.status.success(), "{tool} is needed for the pgbench comparison (Debian package postgresql-client)");
            }
        }
        let out = loyalty(&db, &["bench", "--customers", "40", "--connections", "2", "--duration", "1", "--retry-percent", "0"]);
        let text = stdout(&out);
        assert!(out.status.success(), "{text}\n{}", stderr(&out));
        assert!(text.lines().any(|l| l.starts_with("hash chains: ") && l.ends_with("-> OK")), "{text}");
        if db.kind == Kind::Postgres {
            let line = text.lines().find(|l| l.starts_with("pgbench wrote ")).unwrap_or_else(|| panic!("no pgbench line: {text}"));
            let hashed: u64 = line.split_whitespace().nth(2).and_then(|n| n.parse().ok()).expect("a count");
            assert!(hashed > 0, "{line}");
        }
        let verified = loyalty(&db, &["points", "verify"]);
        assert_eq!(verified.status.code(), Some(0), "{}\n{}", stdout(&verified), stderr(&verified));
    }
}
