//! `loyalty bench` on both backends: it leaves a ledger `loyalty points verify` accepts
//! (on PostgreSQL the pgbench comparison writes its entries without their chain hash, SQL
//! cannot compute it, and the bench hashes them afterwards); and with `--programs` the
//! full program's organization gets 10 promotions, 3 tiers and 2 stamp cards, its awards
//! grant stamps, both rates and their ratio are reported, and the ledger holds.

use super::support::{loyalty, stderr, stdout};
use loyalty_core::clock::SystemClock;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::points::Ctx;
use loyalty_core::service::{orgs, program};
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

    async fn the_benchmark_compares_the_full_program_with_the_plain_one_and_the_ledger_holds(db) {
        let out = loyalty(&db, &["bench", "--customers", "40", "--connections", "4", "--duration", "1", "--skip-pgbench", "--programs", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("full program (10 promotions, 3 tiers, 2 stamp cards) = "), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text[text.find("\n{").expect("json") + 1..]).expect("json");
        assert_eq!(json["invariants"]["balance_mismatches"], 0, "{json}");
        assert_eq!(json["invariants"]["broken_chains"], 0, "{json}");
        let programs = &json["programs"];
        assert_eq!(programs["plain"].as_array().map(Vec::len), Some(2), "{programs}");
        assert_eq!(programs["full"].as_array().map(Vec::len), Some(2), "{programs}");
        assert!(programs["full"][0]["award_rate"].as_f64().unwrap_or(0.0) > 0.0, "{programs}");
        assert!(programs["ratio"].as_f64().unwrap_or(0.0) > 0.0, "{programs}");

        let full = orgs::get(db.store.as_ref(), "bench-programs").await.expect("the second organization");
        assert_eq!(full.program.promotions.iter().filter(|p| !p.ended).count(), 10);
        assert_eq!(full.program.running_tiers().len(), 3);
        assert_eq!(full.program.stamp_cards.len(), 2);
        let plain = orgs::get(db.store.as_ref(), "bench").await.expect("the plain organization");
        assert_eq!(plain.program.version, 0, "the plain organization keeps the earning rule only");
        // The full program's awards went through the engine: stamps were given.
        let customers = db.store.list_customers(full.id, None, 100).await.expect("customers");
        let ctx = Ctx {
            store: db.store.as_ref(),
            clock: &SystemClock,
            org: &full,
            actor: Actor::operator("test"),
            role: Role::Admin,
        };
        let mut stamps = 0;
        for c in &customers {
            let cards = program::cards(&ctx, c.id).await.expect("stamps");
            stamps += cards.iter().map(|s| s.stamps).sum::<i64>();
        }
        assert!(stamps > 0, "the awards gave stamps");
    }
}
