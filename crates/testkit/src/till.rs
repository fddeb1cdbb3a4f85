//! The till's four writes as a test writes them: typed ids and amounts as text, parsed
//! here the way the API's handlers parse a body (the amount with the organization's
//! currency digits) before the use case runs.

use loyalty_core::Error;
use loyalty_core::domain::ledger::PointsOutcome;
use loyalty_core::domain::{CustomerId, PurchaseId, RewardId};
use loyalty_core::service::points::{
    self, AdjustRequest, AwardRequest, Ctx, RedeemRequest, ReverseRequest,
};

/// Records a purchase of `amount` (text, as a client sends it).
pub async fn award(
    ctx: &Ctx<'_>,
    customer: CustomerId,
    amount: &str,
    currency: Option<&str>,
    metadata: serde_json::Value,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    let req = AwardRequest {
        customer,
        amount: points::parse_amount(ctx, amount)?,
        currency: currency.map(str::to_owned),
        metadata,
    };
    points::award(ctx, req, idempotency).await
}

/// Redeems a reward or a plain number of points.
pub async fn redeem(
    ctx: &Ctx<'_>,
    customer: CustomerId,
    reward: Option<RewardId>,
    pts: Option<i64>,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    let req = RedeemRequest {
        customer,
        reward,
        points: pts,
    };
    points::redeem(ctx, req, idempotency).await
}

/// Reverses all of a purchase, or `amount` (text) of it.
pub async fn reverse(
    ctx: &Ctx<'_>,
    purchase: PurchaseId,
    amount: Option<&str>,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    let amount = match amount {
        Some(a) => Some(points::parse_amount(ctx, a)?),
        None => None,
    };
    let req = ReverseRequest { purchase, amount };
    points::reverse(ctx, req, idempotency).await
}

/// Adjusts a balance by hand.
pub async fn adjust(
    ctx: &Ctx<'_>,
    customer: CustomerId,
    pts: i64,
    reason: &str,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    let req = AdjustRequest {
        customer,
        points: pts,
        reason: reason.to_owned(),
    };
    points::adjust(ctx, req, idempotency).await
}
