//! The columns of each export (stable machine names, English and Portuguese headers,
//! documented in `docs/exports.md`) and how a store row becomes a row of cells.

use super::{Cell, CsvStyle, ExportKind};
use crate::domain::Language;
use crate::domain::ledger::{Customer, LedgerEntry, Purchase};
use crate::domain::program::{Grant, describe_grants};
use crate::store::PeriodSummary;

/// One column: its stable name (machine CSV), its English and Portuguese headers, and
/// its width in an XLSX sheet.
pub(super) struct Column {
    pub machine: &'static str,
    pub en: &'static str,
    pub pt: &'static str,
    pub width: f64,
}

impl Column {
    /// The header the style and language call for.
    pub fn header(&self, style: CsvStyle, portuguese: bool) -> &'static str {
        match style {
            CsvStyle::Machine => self.machine,
            CsvStyle::Local if portuguese => self.pt,
            CsvStyle::Local => self.en,
        }
    }
}

const fn col(machine: &'static str, en: &'static str, pt: &'static str, width: f64) -> Column {
    Column {
        machine,
        en,
        pt,
        width,
    }
}

const LEDGER: [Column; 10] = [
    col("entry_id", "Entry", "Lançamento", 38.0),
    col("created_at", "Date and time", "Data e hora", 20.0),
    col("customer_id", "Customer", "Cliente", 38.0),
    col("type", "Type", "Tipo", 10.0),
    col("points", "Points", "Pontos", 10.0),
    col("balance_after", "Balance after", "Saldo após", 12.0),
    col("reference_type", "Reference", "Referência", 12.0),
    col("reference_id", "Reference id", "Id da referência", 38.0),
    col("notes", "Notes", "Observações", 40.0),
    col("breakdown", "Breakdown", "Detalhamento", 48.0),
];

const BALANCES: [Column; 8] = [
    col("customer_id", "Customer", "Cliente", 38.0),
    col("card_number", "Card", "Cartão", 16.0),
    col("name", "Name", "Nome", 28.0),
    col("email", "Email", "E-mail", 28.0),
    col("phone", "Phone", "Telefone", 16.0),
    col("status", "Status", "Situação", 10.0),
    col("balance", "Balance", "Saldo", 10.0),
    col("enrolled_at", "Enrolled at", "Cadastro em", 20.0),
];

const PURCHASES: [Column; 10] = [
    col("purchase_id", "Purchase", "Compra", 38.0),
    col("created_at", "Date and time", "Data e hora", 20.0),
    col("customer_id", "Customer", "Cliente", 38.0),
    col("cashier_id", "Cashier", "Operador", 38.0),
    col("amount", "Amount", "Valor", 14.0),
    col("currency", "Currency", "Moeda", 8.0),
    col("points_awarded", "Points awarded", "Pontos ganhos", 12.0),
    col("reversed_amount", "Refunded", "Valor devolvido", 14.0),
    col(
        "points_reversed",
        "Points taken back",
        "Pontos estornados",
        14.0,
    ),
    col("breakdown", "Breakdown", "Detalhamento", 48.0),
];

const SUMMARY: [Column; 4] = [
    col("metric", "Figure", "Indicador", 34.0),
    col("reward", "Reward", "Recompensa", 28.0),
    col("value", "Value", "Valor", 16.0),
    col("points", "Points", "Pontos", 12.0),
];

/// The columns of an export.
pub(super) fn of(kind: ExportKind) -> &'static [Column] {
    match kind {
        ExportKind::Ledger => &LEDGER,
        ExportKind::Balances => &BALANCES,
        ExportKind::Purchases => &PURCHASES,
        ExportKind::Summary => &SUMMARY,
    }
}

/// An entry's row; `grants` are the breakdown of the purchase an award recorded.
pub(super) fn ledger_row(e: LedgerEntry, grants: &[Grant], lang: Language) -> Vec<Cell> {
    vec![
        Cell::Text(e.id.to_string()),
        Cell::Time(e.created_at),
        Cell::Text(e.customer_id.to_string()),
        Cell::Text(e.transaction_type.as_str().to_owned()),
        Cell::Int(e.points),
        Cell::Int(e.balance_after),
        Cell::text(e.reference_type.as_deref()),
        e.reference_id
            .map_or(Cell::Empty, |r| Cell::Text(r.to_string())),
        Cell::text(e.notes.as_deref()),
        breakdown(grants, lang),
    ]
}

pub(super) fn balance_row(c: Customer) -> Vec<Cell> {
    vec![
        Cell::Text(c.id.to_string()),
        Cell::Text(c.card_number),
        Cell::text(c.name.as_deref()),
        Cell::text(c.email.as_deref()),
        Cell::text(c.phone.as_deref()),
        Cell::Text(c.status),
        Cell::Int(c.balance),
        Cell::Time(c.created_at),
    ]
}

pub(super) fn purchase_row(p: Purchase, lang: Language) -> Vec<Cell> {
    vec![
        Cell::Text(p.id.to_string()),
        Cell::Time(p.created_at),
        Cell::Text(p.customer_id.to_string()),
        p.cashier_id
            .map_or(Cell::Empty, |c| Cell::Text(c.to_string())),
        Cell::Money(p.amount),
        Cell::Text(p.currency),
        Cell::Int(p.points_awarded),
        Cell::Money(p.reversed_amount),
        Cell::Int(p.points_reversed),
        breakdown(&p.grants, lang),
    ]
}

/// What each rule of the program gave, as the till says it (`25 base + 25 Tuesday
/// double + 1 stamp Coffee card (7/10)`); empty for a purchase of a plain program and
/// for entries that are no award.
fn breakdown(grants: &[Grant], lang: Language) -> Cell {
    if grants.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(describe_grants(grants, lang))
    }
}

/// The summary's figures: stable name, English, Portuguese.
pub(super) const FIGURES: [(&str, &str, &str); 11] = [
    ("points_issued", "Points issued", "Pontos emitidos"),
    ("points_redeemed", "Points redeemed", "Pontos resgatados"),
    ("points_expired", "Points expired", "Pontos expirados"),
    (
        "points_adjusted",
        "Points adjusted (net)",
        "Pontos ajustados (saldo)",
    ),
    (
        "points_outstanding",
        "Points outstanding at the end",
        "Pontos em aberto no fim",
    ),
    ("purchases", "Purchases", "Compras"),
    ("purchases_amount", "Purchases total", "Total das compras"),
    ("purchases_refunded", "Refunded", "Devolvido"),
    ("new_customers", "New customers", "Novos clientes"),
    ("active_customers", "Active customers", "Clientes ativos"),
    ("top_reward", "Top reward", "Recompensa mais resgatada"),
];

fn figure(i: usize, style: CsvStyle, portuguese: bool) -> Cell {
    let (machine, en, pt) = FIGURES[i];
    Cell::Text(
        match style {
            CsvStyle::Machine => machine,
            CsvStyle::Local if portuguese => pt,
            CsvStyle::Local => en,
        }
        .to_owned(),
    )
}

/// The summary as rows of (figure, reward, value, points): one row per figure, then one
/// per top reward with its redemptions as the value and the points spent on it.
pub(super) fn summary_rows(s: &PeriodSummary, style: CsvStyle, portuguese: bool) -> Vec<Vec<Cell>> {
    let values = [
        Cell::Int(s.points_issued),
        Cell::Int(s.points_redeemed),
        Cell::Int(s.points_expired),
        Cell::Int(s.points_adjusted),
        Cell::Int(s.points_outstanding),
        Cell::Int(s.purchases),
        Cell::Money(s.purchases_amount),
        Cell::Money(s.purchases_refunded),
        Cell::Int(s.new_customers),
        Cell::Int(s.active_customers),
    ];
    let mut rows: Vec<Vec<Cell>> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| vec![figure(i, style, portuguese), Cell::Empty, v, Cell::Empty])
        .collect();
    for r in &s.top_rewards {
        rows.push(vec![
            figure(FIGURES.len() - 1, style, portuguese),
            Cell::Text(r.name.clone()),
            Cell::Int(r.redemptions),
            Cell::Int(r.points),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::program::{Grant, GrantRule};
    use crate::domain::{CustomerId, PurchaseId};
    use uuid::Uuid;

    #[test]
    fn a_purchase_row_ends_with_its_breakdown() {
        let grant = |rule, name: &str, points, stamps, progress| Grant {
            rule,
            name: name.into(),
            points,
            stamps,
            progress,
        };
        let mut p = Purchase {
            id: PurchaseId(Uuid::nil()),
            customer_id: CustomerId(Uuid::nil()),
            cashier_id: None,
            amount: rust_decimal::Decimal::new(2500, 2),
            currency: "USD".into(),
            points_awarded: 62,
            reversed_amount: rust_decimal::Decimal::ZERO,
            points_reversed: 0,
            program_version: 4,
            grants: vec![
                grant(GrantRule::Base, "", 25, 0, None),
                grant(GrantRule::Tier(Uuid::nil()), "Silver", 12, 0, None),
                grant(
                    GrantRule::Promotion(Uuid::nil()),
                    "Tuesday double",
                    25,
                    0,
                    None,
                ),
                grant(
                    GrantRule::StampCard(Uuid::nil()),
                    "Coffee card",
                    0,
                    1,
                    Some((7, 10)),
                ),
            ],
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let row = purchase_row(p.clone(), Language::En);
        assert_eq!(row.len(), PURCHASES.len());
        assert_eq!(
            row.last(),
            Some(&Cell::Text(
                "25 base + 12 Silver + 25 Tuesday double + 1 stamp Coffee card (7/10)".into()
            ))
        );
        assert_eq!(
            purchase_row(p.clone(), Language::PtBr).last(),
            Some(&Cell::Text(
                "25 base + 12 Silver + 25 Tuesday double + 1 selo Coffee card (7/10)".into()
            )),
            "the shop's language in a local export"
        );
        p.grants.clear();
        assert_eq!(
            purchase_row(p, Language::En).last(),
            Some(&Cell::Empty),
            "a plain program's purchase"
        );
    }
}
