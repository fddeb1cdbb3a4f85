//! What the till does: enroll (optionally with an online account), record a purchase
//! after showing its points, redeem a reward, reverse a purchase. Every mutating form
//! carries an idempotency key made when the form was rendered, so a double click or a
//! resubmitted form is applied once.

use super::common::{confirm_page, credential_page};
use super::error::{OrPage, PageError, error_text};
use super::form::CsrfForm;
use super::guard::OrgPage;
use super::layout::Notice;
use super::render;
use super::till::{TillPage, customer_page, staff};
use crate::AppState;
use crate::pages::params::{PagePath, PageQuery};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_core::ErrorCode;
use loyalty_core::domain::ledger::PointsError;
use loyalty_core::domain::program::{describe_grants, explains};
use loyalty_core::domain::typed_amount::{DecimalMark, parse_typed_amount};
use loyalty_core::domain::{CustomerId, PurchaseId, RewardId};
use loyalty_core::service::points::{
    self, AwardRequest, EnrollInput, RedeemRequest, ReverseRequest,
};
use loyalty_core::service::{bound, join, program};
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/till/enroll", post(enroll))
        .route("/o/{slug}/till/c/{id}/award", get(preview).post(award))
        .route("/o/{slug}/till/c/{id}/redeem", post(redeem))
        .route("/o/{slug}/till/c/{id}/card/{card}", post(redeem_card))
        .route(
            "/o/{slug}/till/c/{id}/reverse/{purchase}",
            get(confirm_reverse).post(reverse),
        )
}

#[derive(Deserialize)]
struct EnrollForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    account: Option<String>,
}

async fn enroll(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<EnrollForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = EnrollInput {
        phone: some(&form.phone),
        email: some(&form.email),
        name: some(&form.name),
    };
    let result = if form.account.is_some() {
        join::enroll_with_account(&ctx, state.directory.as_ref(), &input)
            .await
            .map(|(cust, cred)| (cust, Some(cred)))
    } else {
        points::enroll(&ctx, &input, None)
            .await
            .map(|cust| (cust, None))
    };
    Ok(match result {
        Ok((customer, Some(cred))) => credential_page(
            &c,
            c.t("customer_enrolled"),
            c.t("customer_link_intro"),
            customer.email.as_deref().unwrap_or_default(),
            &cred,
            &page.org.timezone,
            &format!("{}/till/c/{}?done=enrolled", page.base(), customer.id),
        ),
        Ok((customer, None)) => Redirect::to(&format!(
            "{}/till/c/{}?done=enrolled",
            page.base(),
            customer.id
        ))
        .into_response(),
        Err(e) => {
            let lang = c.lang;
            let mut t = TillPage::new(c, &page);
            t.notice = Notice::err(error_text(lang, &e));
            t.enroll_phone = form.phone;
            t.enroll_email = form.email;
            t.enroll_name = form.name;
            t.enroll_open = true;
            render(StatusCode::UNPROCESSABLE_ENTITY, &t)
        }
    })
}

#[derive(Template)]
#[template(path = "till_confirm.html")]
struct Preview {
    c: super::layout::Chrome,
    base: String,
    id: CustomerId,
    name: String,
    amount: String,
    amount_text: String,
    /// What the cashier typed, when it could be read two ways and the locale decided.
    ambiguous: Option<String>,
    /// The shop's purchase bound, formatted, when the amount is above it.
    unusual: Option<String>,
    notice: Option<Notice>,
    points: i64,
    balance_after: i64,
    /// What each rule gives: `25 base + 25 Tuesday double + 1 stamp Coffee card (7/10)`.
    breakdown: String,
    idem: String,
}

#[derive(Deserialize)]
struct AmountQuery {
    #[serde(default)]
    amount: String,
}

async fn preview(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    PageQuery(q): PageQuery<AmountQuery>,
) -> Result<Response, PageError> {
    confirm_award(&state, &page, id, &q.amount, None).await
}

/// The confirmation step of a purchase typed as `typed`: the amount as read, its points,
/// and, for an amount above the shop's usual purchases, a box to tick to confirm it.
async fn confirm_award(
    state: &AppState,
    page: &OrgPage,
    id: CustomerId,
    typed: &str,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(page, state)?;
    let customer = points::customer(&ctx, id)
        .await
        .or_page(&c, &format!("{}/till", page.base()))?;
    let minor = page.org.currency.minor_digits();
    let mark = DecimalMark::of_language(page.org.language.as_str());
    let read = match parse_typed_amount(typed, mark, minor) {
        Ok(t) => t,
        Err(e) => {
            let notice = Notice::err(error_text(
                c.lang,
                &loyalty_core::Error::Validation(vec![e]),
            ));
            return customer_page(state, page, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let amount = read.amount;
    let unusual = bound::unusual(&ctx, amount.value())
        .await
        .or_page(&c, &format!("{}/till/c/{id}", page.base()))?;
    // The same engine as the award, with the customer's stamps and promotion uses now.
    let preview = program::preview(&ctx, amount, Some(id), None, None)
        .await
        .or_page(&c, &format!("{}/till/c/{id}", page.base()))?;
    let pts = preview.points;
    let breakdown = if explains(&preview.grants) {
        describe_grants(&preview.grants, c.lang.written())
    } else {
        String::new()
    };
    let status = if notice.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &Preview {
            base: page.base(),
            id,
            name: customer
                .name
                .clone()
                .unwrap_or(customer.card_number.clone()),
            amount: amount.value().to_string(),
            amount_text: c.lang.money(amount.value(), page.org.currency.as_str()),
            ambiguous: read.ambiguous.then(|| typed.trim().to_owned()),
            unusual: unusual.map(|b| c.lang.money(b, page.org.currency.as_str())),
            notice,
            points: pts,
            balance_after: customer.balance + pts,
            breakdown,
            idem: Uuid::new_v4().to_string(),
            c,
        },
    ))
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    idem: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reward: Option<RewardId>,
    /// A chosen number of points to redeem, instead of a reward.
    #[serde(default)]
    points: String,
    /// The second confirmation of an amount above the shop's usual purchases.
    #[serde(default)]
    unusual_ok: Option<String>,
}

async fn award(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let metadata = serde_json::json!({"channel": "till-page"});
    let confirmed = form.unusual_ok.is_some();
    let awarded = match points::parse_amount(&ctx, &form.amount) {
        Ok(amount) => {
            let req = AwardRequest {
                customer: id,
                amount,
                currency: None,
                metadata,
            };
            bound::award_checked(&ctx, req, &form.idem, confirmed)
                .await
                .map(|a| a.outcome)
        }
        Err(e) => Err(e),
    };
    match awarded {
        Err(loyalty_core::Error::Conflict(ErrorCode::PurchaseUnusualAmount, _)) => {
            let notice = Notice::err(c.t("err_unusual_amount").to_owned());
            confirm_award(&state, &page, id, &form.amount, notice).await
        }
        Ok(out) => Ok(done(
            &page,
            id,
            if out.replayed { "replayed" } else { "awarded" },
            out.entry.points,
            out.balance,
        )),
        Err(e) => {
            customer_page(
                &state,
                &page,
                id,
                Notice::err(error_text(c.lang, &e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

fn done(page: &OrgPage, id: CustomerId, what: &str, pts: i64, balance: i64) -> Response {
    Redirect::to(&format!(
        "{}/till/c/{id}?done={what}&pts={}&balance={balance}",
        page.base(),
        pts.abs()
    ))
    .into_response()
}

async fn redeem(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let pts = form.points.trim().replace(['.', ','], "");
    let req = RedeemRequest {
        customer: id,
        reward: form.reward,
        // Unreadable text is 0 points, which the use case refuses naming the field.
        points: (form.reward.is_none()).then(|| pts.parse().unwrap_or(0)),
    };
    match points::redeem(&ctx, req, &form.idem).await {
        Ok(out) => Ok(done(
            &page,
            id,
            if out.replayed { "replayed" } else { "redeemed" },
            out.entry.points,
            out.balance,
        )),
        Err(e) => {
            customer_page(
                &state,
                &page,
                id,
                Notice::err(error_text(c.lang, &e)),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

async fn confirm_reverse(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id, purchase)): PagePath<(String, CustomerId, PurchaseId)>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let back = format!("{}/till/c/{id}", page.base());
    let p = match points::purchase(&ctx, purchase).await {
        Ok(p) if p.customer_id == id => p,
        Ok(_) | Err(loyalty_core::Error::Points(PointsError::PurchaseNotFound)) => {
            return Err(PageError::not_found(c.lang));
        }
        Err(e) => return Err(PageError::failed(&c, &e, &back)),
    };
    let text = format!(
        "{} {} ({} {}).",
        c.t("reverse_text"),
        c.lang.money(p.amount - p.reversed_amount, &p.currency),
        c.lang.int(p.points_awarded - p.points_reversed),
        c.t("points")
    );
    Ok(confirm_page(
        &c,
        c.t("reverse_heading"),
        &text,
        &format!("{back}/reverse/{purchase}"),
        vec![("idem", Uuid::new_v4().to_string())],
        c.t("reverse"),
        true,
        &back,
    ))
}

async fn reverse(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id, purchase)): PagePath<(String, CustomerId, PurchaseId)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let req = ReverseRequest {
        purchase,
        amount: None,
    };
    match points::reverse(&ctx, req, &form.idem).await {
        Ok(out) => Ok(done(
            &page,
            id,
            if out.replayed { "replayed" } else { "reversed" },
            out.entry.points,
            out.balance,
        )),
        Err(e) => {
            customer_page(
                &state,
                &page,
                id,
                Notice::err(error_text(c.lang, &e)),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

async fn redeem_card(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id, card)): PagePath<(String, CustomerId, Uuid)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    match program::redeem_card(&ctx, id, card, &form.idem).await {
        Ok(out) => Ok(done(
            &page,
            id,
            if out.replayed {
                "replayed"
            } else {
                "card_redeemed"
            },
            out.entry.points,
            out.balance,
        )),
        Err(e) => {
            customer_page(
                &state,
                &page,
                id,
                Notice::err(error_text(c.lang, &e)),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}
