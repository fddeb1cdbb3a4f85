//! Access follows the directory: alice (admin of alpha, cashier of beta) keeps sending
//! requests through her session and through a bearer JWT while she is deactivated as
//! beta's cashier by loyalty, removed from `alpha-admins` in Authentik, and deactivated
//! in Authentik. loyalty's own change is seen at once; Authentik's within the bound
//! (1 s here, `identity.access_recheck_seconds` in production); after the bound not
//! one request succeeds. The counts are printed.

use super::*;
use loyalty_core::directory::Directory;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::points::Ctx;
use loyalty_core::service::staff;
use std::time::Instant;

const BOUND: Duration = Duration::from_secs(1);

struct Caller {
    b: Browser,
    jwt: String,
    api: reqwest::Client,
    base: String,
}

impl Caller {
    /// One request through the session and one through the bearer token (statuses).
    async fn both(&mut self, slug: &str) -> [u16; 2] {
        let url = format!("{}/api/v1/orgs/{slug}/rewards", self.base);
        let (session, _) = self.b.get(&url).await;
        let bearer = self
            .api
            .get(&url)
            .bearer_auth(&self.jwt)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        [session, bearer]
    }

    /// Requests to `slug` for `span` after `t0`: how many succeeded before `t0 + BOUND`
    /// and how many were sent after it, and how many of those succeeded.
    async fn keep_calling(&mut self, slug: &str, t0: Instant, span: Duration) -> Counts {
        let mut c = Counts::default();
        while t0.elapsed() < span {
            let sent_after_bound = t0.elapsed() >= BOUND;
            for status in self.both(slug).await {
                assert!(
                    status == 200 || status == 403,
                    "refused as forbidden, never {status}"
                );
                match (sent_after_bound, status == 200) {
                    (false, true) => c.ok_within += 1,
                    (false, false) => c.refused_within += 1,
                    (true, ok) => {
                        c.after += 1;
                        c.ok_after += usize::from(ok);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c
    }
}

#[derive(Debug, Default)]
struct Counts {
    ok_within: usize,
    refused_within: usize,
    after: usize,
    ok_after: usize,
}

async fn access_follows_the_directory(kind: Kind) {
    let Some(s) = setup_with(kind, &["alpha-admins", "beta-cashiers"], BOUND).await else {
        return;
    };
    let mut b = Browser::new();
    let base = s.base.clone();
    b.drive(Url::parse(&format!("{base}/auth/login")).unwrap(), |u| {
        u.as_str() == format!("{base}/")
    })
    .await;
    let jwt = bearer_token(&s, &mut b).await;
    let mut c = Caller {
        b,
        jwt,
        api: reqwest::Client::new(),
        base: base.clone(),
    };
    assert_eq!(c.both("alpha").await, [200, 200]);
    assert_eq!(c.both("beta").await, [200, 200]);
    let outside = s.standin.directory();

    // 1. beta's admin deactivates the cashier in loyalty: refused at once.
    let member = s
        ._db
        .store
        .member_by_subject(s.beta.id, SUBJECT)
        .await
        .unwrap()
        .expect("alice's member row in beta");
    let clock = SystemClock;
    let ctx = Ctx {
        store: s._db.store.as_ref(),
        clock: &clock,
        org: &s.beta,
        actor: Actor {
            member_id: None,
            label: "beta-admin".into(),
            role: "admin".into(),
            request_id: None,
        },
        role: Role::Admin,
    };
    staff::deactivate_staff(&ctx, s.dir.as_ref(), member.id)
        .await
        .unwrap();
    let t0 = Instant::now();
    let n = c
        .keep_calling("beta", t0, BOUND + Duration::from_millis(300))
        .await;
    println!(
        "cashier deactivated in loyalty: {} of {} requests (session and bearer) succeeded afterwards",
        n.ok_within + n.ok_after,
        n.ok_within + n.refused_within + n.after
    );
    assert_eq!(n.ok_within + n.ok_after, 0, "{n:?}");
    // Still admin of alpha.
    assert_eq!(c.both("alpha").await, [200, 200]);

    // 2. An Authentik admin removes her from alpha-admins: refused after the bound.
    let admins = outside.find_group("alpha-admins").await.unwrap().unwrap();
    outside.remove_member(&admins, s.alice_pk).await.unwrap();
    let t0 = Instant::now();
    let n = c
        .keep_calling("alpha", t0, BOUND + Duration::from_millis(500))
        .await;
    println!(
        "admin removed from alpha-admins in Authentik: {} requests succeeded within the bound of {BOUND:?}, {} of {} sent after it",
        n.ok_within, n.ok_after, n.after
    );
    assert!(n.after > 0);
    assert_eq!(n.ok_after, 0, "{n:?}");

    // 3. Back in the group; then Authentik cannot be reached: the kept answer until
    // the bound, then 503 `unavailable` (never a 500, never stale access).
    outside.add_member(&admins, s.alice_pk).await.unwrap();
    tokio::time::sleep(BOUND + Duration::from_millis(100)).await;
    assert_eq!(c.both("alpha").await, [200, 200]);
    s.standin.set_down(true);
    tokio::time::sleep(BOUND + Duration::from_millis(100)).await;
    let url = format!("{base}/api/v1/orgs/alpha/rewards");
    let r = c.api.get(&url).bearer_auth(&c.jwt).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let (status, _) = c.b.get(&url).await;
    assert_eq!(status, 503);
    let (status, _) = c.b.get(&format!("{base}/o/alpha/admin")).await;
    assert_eq!(status, 503);
    s.standin.set_down(false);
    assert_eq!(c.both("alpha").await, [200, 200]);

    // 4. An Authentik admin deactivates her: refused after the bound.
    outside.deactivate_user(s.alice_pk).await.unwrap();
    let t0 = Instant::now();
    let n = c
        .keep_calling("alpha", t0, BOUND + Duration::from_millis(500))
        .await;
    println!(
        "admin deactivated in Authentik: {} requests succeeded within the bound of {BOUND:?}, {} of {} sent after it",
        n.ok_within, n.ok_after, n.after
    );
    assert!(n.after > 0);
    assert_eq!(n.ok_after, 0, "{n:?}");
    // Pages send her to sign in again.
    let r =
        c.b.send(&Url::parse(&format!("{base}/o/alpha/admin")).unwrap(), None)
            .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn sqlite_access_follows_the_directory() {
    access_follows_the_directory(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_access_follows_the_directory() {
    if skip_postgres() {
        return;
    }
    access_follows_the_directory(Kind::Postgres).await;
}
