//! Points arithmetic: purchase amounts, earning rules, reversal in proportion, card
//! numbers. Amounts are decimals, never floats; points are whole numbers (`i64`).

use crate::error::FieldError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::str::FromStr;

/// The largest purchase amount accepted (per purchase), in the org's currency.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 2); // 1,000,000.00

/// The largest number of points one operation may move.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// A purchase amount: positive, at most two decimal places (fewer for currencies with
/// fewer minor digits), at most [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Amount(#[serde(with = "rust_decimal::serde::str")] Decimal);

impl Amount {
    /// Parses an amount given as text (`"12.50"`), with the currency's minor digits.
    /// The text is digits with at most one `.` that has digits on both sides, and an
    /// optional leading `-` (refused as not positive): `" 10.00"`, `"10."`, `".5"` and
    /// `"+5"` are not amounts, so every client writes one the same way.
    pub fn parse(input: &str, minor_digits: u32) -> Result<Self, FieldError> {
        let digits = input.strip_prefix('-').unwrap_or(input);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let plain = all_digits(whole) && all_digits(fraction) && input.len() <= 20;
        let d = Decimal::from_str(if plain { input } else { "x" }).map_err(|_| {
            FieldError::new(
                "amount",
                format!("{input:?} is not a number; write the amount like 12.50"),
            )
        })?;
        Self::from_decimal(d, minor_digits)
    }

    /// Checks a decimal amount.
    pub fn from_decimal(d: Decimal, minor_digits: u32) -> Result<Self, FieldError> {
        if d <= Decimal::ZERO {
            return Err(FieldError::new(
                "amount",
                format!("{d} must be greater than zero"),
            ));
        }
        if d.normalize().scale() > minor_digits {
            return Err(FieldError::new(
                "amount",
                format!(
                    "{d} has more than {minor_digits} decimal places; round it to the currency's smallest unit"
                ),
            ));
        }
        if d > MAX_AMOUNT {
            return Err(FieldError::new(
                "amount",
                format!("{d} is more than the largest purchase accepted ({MAX_AMOUNT})"),
            ));
        }
        let mut d = d;
        d.rescale(minor_digits.max(d.scale()));
        Ok(Self(d))
    }

    /// The amount.
    pub fn value(self) -> Decimal {
        self.0
    }
}

/// An organization's earning rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EarningRule {
    /// Points per whole unit of currency (1 by default).
    #[serde(with = "rust_decimal::serde::str")]
    pub points_per_unit: Decimal,
    /// Purchases below this earn nothing (0 by default).
    #[serde(with = "rust_decimal::serde::str")]
    pub min_purchase: Decimal,
}

impl Default for EarningRule {
    fn default() -> Self {
        Self {
            points_per_unit: Decimal::ONE,
            min_purchase: Decimal::ZERO,
        }
    }
}

impl EarningRule {
    /// Points for a purchase: `floor(amount × points_per_unit)`, or 0 below the minimum.
    pub fn points_for(&self, amount: Amount) -> i64 {
        if amount.0 < self.min_purchase {
            return 0;
        }
        (amount.0 * self.points_per_unit)
            .floor()
            .to_i64()
            .unwrap_or(0)
            .clamp(0, MAX_POINTS)
    }
}

/// Points to take back when `reverse` more of a purchase of `amount` that earned
/// `earned` points is refunded, `already` of the amount having been refunded before
/// with `points_already` points taken back. The cumulative total is
/// `floor(earned × refunded / amount)`, so partial refunds never take back more than a
/// full refund and a full refund takes back exactly what was earned.
pub fn reversal_points(
    amount: Decimal,
    earned: i64,
    already: Decimal,
    points_already: i64,
    reverse: Decimal,
) -> i64 {
    if amount <= Decimal::ZERO {
        return 0;
    }
    let total = (Decimal::from(earned) * (already + reverse) / amount)
        .floor()
        .to_i64()
        .unwrap_or(earned);
    (total.min(earned) - points_already).max(0)
}

/// A new card number: 12 digits, the last a Luhn check digit, never starting with 0.
pub fn new_card_number() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut digits: Vec<u32> = (0..11)
        .map(|i| {
            if i == 0 {
                rng.random_range(1..10)
            } else {
                rng.random_range(0..10)
            }
        })
        .collect();
    digits.push(luhn_check_digit(&digits));
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect()
}

/// A deterministic card number for sequence number `n` (bulk imports and benchmarks):
/// `9`, ten digits of `n`, and the check digit.
pub fn card_number_for(n: u64) -> String {
    let mut digits: Vec<u32> = format!("9{:010}", n % 10_000_000_000)
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    digits.push(luhn_check_digit(&digits));
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect()
}

fn luhn_check_digit(digits: &[u32]) -> u32 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Whether a card number is 12 digits with a valid check digit.
pub fn is_card_number(s: &str) -> bool {
    let digits: Option<Vec<u32>> = s.chars().map(|c| c.to_digit(10)).collect();
    match digits {
        Some(d) if d.len() == 12 => d.last().copied() == Some(luhn_check_digit(&d[..11])),
        _ => false,
    }
}

/// A phone number normalised to E.164 (`+15551234567`), read in the organization's
/// country when it has no `+` prefix.
pub fn normalize_phone(input: &str, country: Option<&str>) -> Result<String, FieldError> {
    let err = || {
        FieldError::new(
            "phone",
            format!(
                "{:?} is not a valid phone number; write it with its country code, such as +1 555 123 4567",
                input.trim()
            ),
        )
    };
    let id = country.and_then(|c| c.parse::<phonenumber::country::Id>().ok());
    let number = phonenumber::parse(id, input.trim()).map_err(|_| err())?;
    if !phonenumber::is_valid(&number) {
        return Err(err());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    #[test]
    fn amounts_are_positive_bounded_and_at_most_two_decimals() {
        assert_eq!(
            Amount::parse("12.5", 2).map(|a| a.value().to_string()),
            Ok("12.50".into())
        );
        assert_eq!(
            Amount::parse("1000000.00", 2).map(|a| a.value()),
            Ok(d("1000000.00"))
        );
        for bad in [
            "0",
            "-1",
            "12.345",
            "1000000.01",
            "abc",
            "",
            "NaN",
            "1e3",
            "+5.00",
            " 10.00",
            "10.00 ",
            "10.",
            ".5",
            "-.5",
            "1.2.3",
            "--1",
            "1_000",
        ] {
            assert_eq!(
                Amount::parse(bad, 2).expect_err(bad).field,
                "amount",
                "{bad}"
            );
        }
        assert!(Amount::parse("12.5", 0).is_err(), "JPY has no minor unit");
    }

    #[test]
    fn points_are_the_floor_of_amount_times_rate_above_the_minimum() {
        let rule = EarningRule::default();
        assert_eq!(rule.points_for(Amount::parse("12.99", 2).expect("a")), 12);
        let rule = EarningRule {
            points_per_unit: d("1.5"),
            min_purchase: d("10"),
        };
        assert_eq!(rule.points_for(Amount::parse("9.99", 2).expect("a")), 0);
        assert_eq!(rule.points_for(Amount::parse("10.00", 2).expect("a")), 15);
        assert_eq!(rule.points_for(Amount::parse("10.99", 2).expect("a")), 16);
    }

    #[test]
    fn reversal_arithmetic_rounds_down_and_never_exceeds_what_was_earned() {
        // 100.00 earned 100 points: refund 33.33 three times, then the last cent.
        assert_eq!(reversal_points(d("100"), 100, d("0"), 0, d("33.33")), 33);
        assert_eq!(
            reversal_points(d("100"), 100, d("33.33"), 33, d("33.33")),
            33
        );
        assert_eq!(
            reversal_points(d("100"), 100, d("66.66"), 66, d("33.33")),
            33
        );
        assert_eq!(reversal_points(d("100"), 100, d("99.99"), 99, d("0.01")), 1);
        // 10.00 earned 15 points (rate 1.5): half refund takes 7, the rest takes 8.
        assert_eq!(reversal_points(d("10"), 15, d("0"), 0, d("5")), 7);
        assert_eq!(reversal_points(d("10"), 15, d("5"), 7, d("5")), 8);
        assert_eq!(reversal_points(d("10"), 0, d("0"), 0, d("10")), 0);
    }

    #[test]
    fn card_numbers_have_a_check_digit() {
        for _ in 0..100 {
            let c = new_card_number();
            assert!(is_card_number(&c), "{c}");
            assert!(!c.starts_with('0'));
        }
        assert!(!is_card_number("123456789012"));
        assert!(!is_card_number("12345"));
    }

    #[test]
    fn phones_are_normalised_to_e164_in_the_org_country() {
        assert_eq!(
            normalize_phone("+1 202-555-0143", None),
            Ok("+12025550143".into())
        );
        assert_eq!(
            normalize_phone("(202) 555-0143", Some("US")),
            Ok("+12025550143".into())
        );
        assert_eq!(
            normalize_phone("11 98765-4321", Some("BR")),
            Ok("+5511987654321".into())
        );
        assert!(normalize_phone("12", Some("US")).is_err());
        assert!(normalize_phone("call me", Some("US")).is_err());
    }

    proptest! {
        #[test]
        fn any_sequence_of_partial_refunds_takes_back_at_most_what_was_earned(
            cents in 1i64..10_000_000, rate_tenths in 0i64..50, cuts in proptest::collection::vec(1u32..100, 1..8)
        ) {
            let amount = Decimal::new(cents, 2);
            let earned = (amount * Decimal::new(rate_tenths, 1)).floor().to_i64().unwrap_or(0);
            let (mut refunded, mut taken) = (Decimal::ZERO, 0i64);
            for cut in cuts {
                let left = amount - refunded;
                if left <= Decimal::ZERO { break; }
                let x = ((left * Decimal::from(cut)) / Decimal::from(100)).round_dp(2).max(Decimal::new(1, 2)).min(left);
                let p = reversal_points(amount, earned, refunded, taken, x);
                prop_assert!(p >= 0);
                refunded += x;
                taken += p;
                prop_assert!(taken <= earned);
            }
            let rest = amount - refunded;
            if rest > Decimal::ZERO {
                taken += reversal_points(amount, earned, refunded, taken, rest);
            }
            prop_assert_eq!(taken, earned, "a full refund takes back exactly what was earned");
        }
    }
}
