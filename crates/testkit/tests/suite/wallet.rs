//! Members' wallet passes on both backends: every download adds a token (the older ones
//! keep working), a token opens only its own pass in its own organization, devices
//! register once, "passes updated since" sees a points change (award and expiry) even
//! within the same second, and one organization never sees another's devices.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::secret::hash_token;
use loyalty_core::service::erasure;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::Ctx;
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use rust_decimal::Decimal;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        language: Some("en-US".into()),
        ..OnboardInput::default()
    };
    db.store
        .insert_organization(
            &input.validate().expect("valid").org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .expect("org")
}

both_backends! {
    async fn wallet_passes_follow_points_changes_and_stay_in_their_organization(db) {
        let clock = fixed_clock();
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let b = org(&db, "beta", &clock).await;
        let enrol = |card: &str| NewCustomer {
            phone: None, email: None, name: None, card_number: card.into(),
            identity_subject: None, created_by: None,
        };
        let ca = db.store.enroll_customer(a.id, &enrol("400000000006"), &Actor::system(), now).await.unwrap();
        let cb = db.store.enroll_customer(b.id, &enrol("400000000014"), &Actor::system(), now).await.unwrap();

        let first = db.store.issue_wallet_pass(a.id, ca.id, &hash_token("token-one-0123456789"), now).await.unwrap();
        let again = db.store.issue_wallet_pass(a.id, ca.id, &hash_token("token-two-0123456789"), now).await.unwrap();
        assert_eq!(first, again, "a second download is the same pass");
        assert!(!first.voided);
        for t in ["token-one-0123456789", "token-two-0123456789"] {
            assert_eq!(db.store.wallet_pass_by_token(a.id, ca.id, &hash_token(t)).await.unwrap(), Some(first));
        }
        assert_eq!(db.store.wallet_pass_by_token(a.id, ca.id, &hash_token("not-a-token-of-it")).await.unwrap(), None);
        // The token opens nothing in another organization.
        assert_eq!(db.store.wallet_pass_by_token(b.id, ca.id, &hash_token("token-one-0123456789")).await.unwrap(), None);
        db.store.issue_wallet_pass(b.id, cb.id, &hash_token("token-beta-0123456789"), now).await.unwrap();

        assert!(db.store.register_wallet_device(a.id, ca.id, "device1", "push1", now).await.unwrap());
        assert!(!db.store.register_wallet_device(a.id, ca.id, "device1", "push2", now).await.unwrap());
        assert!(db.store.register_wallet_device(b.id, cb.id, "device1", "push1", now).await.unwrap());
        let listed = db.store.wallet_passes_for_device(a.id, "device1", None).await.unwrap();
        assert_eq!(listed.iter().map(|p| p.customer).collect::<Vec<_>>(), vec![ca.id]);
        let tag = listed[0].updated_us;
        assert!(db.store.wallet_passes_for_device(a.id, "device1", Some(tag)).await.unwrap().is_empty());

        // An award at the same instant still moves the pass, by a second.
        let award = PointsCommand::Award {
            customer: ca.id, amount: Decimal::new(1000, 2), currency: a.currency.to_string(), points: 10,
            metadata: serde_json::json!({}), receipt: false, unusual: None, program: None,
        };
        db.store.apply_points(a.id, &award, &Actor::system(), None, now).await.unwrap();
        let moved = db.store.wallet_passes_for_device(a.id, "device1", Some(tag)).await.unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].updated_us, tag + 1_000_000);
        // Beta's pass did not move.
        assert!(db.store.wallet_passes_for_device(b.id, "device1", Some(tag)).await.unwrap().is_empty());

        // Expiry moves it too.
        let expired = db.store.expire_customer(a.id, ca.id, now, now, false).await.unwrap();
        assert_eq!(expired, 10);
        let moved_again = db.store.wallet_passes_for_device(a.id, "device1", Some(moved[0].updated_us)).await.unwrap();
        assert_eq!(moved_again.len(), 1);

        // Unregistering ends only this organization's registration.
        assert!(!db.store.unregister_wallet_device(b.id, ca.id, "device1").await.unwrap());
        assert!(db.store.unregister_wallet_device(a.id, ca.id, "device1").await.unwrap());
        assert!(db.store.wallet_passes_for_device(a.id, "device1", None).await.unwrap().is_empty());
        assert_eq!(db.store.wallet_passes_for_device(b.id, "device1", None).await.unwrap().len(), 1);
    }

    async fn erasing_a_member_voids_their_pass_and_ends_its_tokens_and_devices(db) {
        let clock = fixed_clock();
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let member = db.store.enroll_customer(a.id, &NewCustomer {
            phone: None, email: Some("zed@example.com".into()), name: Some("Zed".into()),
            card_number: "400000000006".into(), identity_subject: None, created_by: None,
        }, &Actor::system(), now).await.unwrap();
        let before = db.store.issue_wallet_pass(a.id, member.id, &hash_token("token-one-0123456789"), now).await.unwrap();
        db.store.register_wallet_device(a.id, member.id, "device1", "push1", now).await.unwrap();
        let admin = Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &a,
            actor: Actor { member_id: None, label: "ada".into(), role: "admin".into(), request_id: None },
            role: Role::Admin,
        };
        let link = loyalty_core::service::wallet::links::till_link(&admin, member.id).await.unwrap();
        let dir = db.directory(std::sync::Arc::new(clock.clone()));
        erasure::erase_customer(&admin, &dir, None, member.id, "ERASE").await.expect("erase");
        let opened = loyalty_core::service::wallet::links::open_till_link(db.store.as_ref(), &a, &link, now).await;
        assert!(opened.is_err(), "the till's link is gone with the erasure");
        assert_eq!(db.store.wallet_pass_by_token(a.id, member.id, &hash_token("token-one-0123456789")).await.unwrap(), None);
        assert!(db.store.wallet_passes_for_device(a.id, "device1", None).await.unwrap().is_empty());
        let after = db.store.issue_wallet_pass(a.id, member.id, &hash_token("token-two-0123456789"), now).await.unwrap();
        assert!(after.voided, "the pass is void");
        assert!(after.updated_us > before.updated_us);
    }

    async fn the_cards_look_is_kept_per_organization_and_moves_its_passes(db) {
        use loyalty_core::service::wallet::look::{self, LogoChange};
        let clock = fixed_clock();
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let b = org(&db, "beta", &clock).await;
        let enrol = |card: &str| NewCustomer {
            phone: None, email: None, name: None, card_number: card.into(),
            identity_subject: None, created_by: None,
        };
        let ca = db.store.enroll_customer(a.id, &enrol("400000000006"), &Actor::system(), now).await.unwrap();
        let cb = db.store.enroll_customer(b.id, &enrol("400000000014"), &Actor::system(), now).await.unwrap();
        let pa = db.store.issue_wallet_pass(a.id, ca.id, &hash_token("token-alpha-0123456789"), now).await.unwrap();
        let pb = db.store.issue_wallet_pass(b.id, cb.id, &hash_token("token-beta-0123456789"), now).await.unwrap();
        db.store.register_wallet_device(a.id, ca.id, "device-a", "push-a", now).await.unwrap();
        db.store.register_wallet_device(b.id, cb.id, "device-b", "push-b", now).await.unwrap();
        let admin = acting(&db, &clock, &a, Role::Admin);
        assert_eq!(look::current(&admin).await.unwrap(), Default::default());

        let png = tiny_png();
        let (set, moved) = look::set_look(&admin, "#0A3D62", "#ffffff", "#F8C291", LogoChange::Upload(png.clone())).await.unwrap();
        assert_eq!(moved, 1, "alpha's one pass");
        assert_eq!(set.colours.as_ref().unwrap().label, "#f8c291");
        let stored = db.store.wallet_look(a.id).await.unwrap().unwrap();
        assert_eq!(stored, set);
        assert_eq!(stored.logo.as_ref().map(|l| (l.width, l.height, l.png.clone())), Some((2, 1, png.clone())));
        assert_eq!(db.store.wallet_look(b.id).await.unwrap(), None, "beta's look is its own");

        // Alpha's pass moved, beta's did not; only alpha's device is queued.
        let a_after = db.store.wallet_pass_by_token(a.id, ca.id, &hash_token("token-alpha-0123456789")).await.unwrap().unwrap();
        assert!(a_after.updated_us >= pa.updated_us + 1_000_000);
        let b_after = db.store.wallet_pass_by_token(b.id, cb.id, &hash_token("token-beta-0123456789")).await.unwrap().unwrap();
        assert_eq!(b_after.updated_us, pb.updated_us);
        let due = db.store.claim_wallet_pushes(now, now + time::Duration::minutes(5), 10).await.unwrap();
        let targets: Vec<_> = due.iter().map(|p| (p.org, p.target.as_str())).collect();
        assert_eq!(targets, [(a.id, "push-a")]);

        // Keeping the logo while changing colours; then going back to the built-in look.
        look::set_look(&admin, "#000000", "#ffffff", "#cccccc", LogoChange::Keep).await.unwrap();
        let kept = db.store.wallet_look(a.id).await.unwrap().unwrap();
        assert_eq!(kept.logo.map(|l| l.png), Some(png.clone()));
        look::set_look(&admin, "", "", "", LogoChange::Remove).await.unwrap();
        assert_eq!(db.store.wallet_look(a.id).await.unwrap(), Some(Default::default()));

        // Refused: a cashier, a bad colour, a file that is not a PNG; nothing written.
        look::set_look(&admin, "#111111", "#ffffff", "#cccccc", LogoChange::Upload(png.clone())).await.unwrap();
        let cashier = acting(&db, &clock, &a, Role::Cashier);
        assert!(matches!(look::set_look(&cashier, "#222222", "#ffffff", "#cccccc", LogoChange::Remove).await, Err(loyalty_core::Error::Forbidden(_))));
        assert!(matches!(look::set_look(&admin, "#22", "#ffffff", "#cccccc", LogoChange::Remove).await, Err(loyalty_core::Error::Validation(_))));
        let e = look::set_look(&admin, "#222222", "#ffffff", "#cccccc", LogoChange::Upload(b"GIF89a not a png".to_vec())).await.unwrap_err();
        assert_eq!(e.code(), loyalty_core::ErrorCode::WalletLogoNotPng);
        let after = db.store.wallet_look(a.id).await.unwrap().unwrap();
        assert_eq!(after.colours.unwrap().background, "#111111");
        assert_eq!(after.logo.map(|l| l.png), Some(png));
    }
}

fn acting<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "ada".into(),
            role: role.to_string(),
            request_id: None,
        },
        role,
    }
}

/// A 2 x 1 PNG (signature, IHDR, an empty IDAT, IEND), its checksums computed here.
fn tiny_png() -> Vec<u8> {
    fn crc(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffff_u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xedb8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    chunk(&mut png, b"IDAT", &[]);
    chunk(&mut png, b"IEND", &[]);
    png
}
