//! How numbers and amounts are written for people, in the two languages the product
//! speaks (en-US, pt-BR): the pages, receipts and exports that show a customer a figure
//! all write it here, so `1,234` and `R$ 1.234,50` read the same everywhere.

use rust_decimal::Decimal;

/// A language people read figures in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English (United States): `1,234`, `$1,234.50`.
    #[default]
    En,
    /// Portuguese (Brazil): `1.234`, `R$ 1.234,50`.
    PtBr,
}

impl Language {
    /// From a language tag (`pt-BR`, `pt`, `en-US` ...): Portuguese for any `pt`,
    /// English otherwise.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("pt") {
            Language::PtBr
        } else {
            Language::En
        }
    }

    /// Whether this is Portuguese.
    pub fn is_portuguese(self) -> bool {
        self == Language::PtBr
    }

    /// The thousands separator and the decimal mark.
    fn separators(self) -> (char, char) {
        match self {
            Language::En => (',', '.'),
            Language::PtBr => ('.', ','),
        }
    }

    /// A whole number with thousands separators (`1,234` or `1.234`).
    pub fn int(self, n: i64) -> String {
        let grouped = group(&n.unsigned_abs().to_string(), self.separators().0);
        if n < 0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    }

    /// An amount with two decimals and the currency (`$1,234.50`, `R$ 1.234,50`).
    pub fn money(self, amount: Decimal, currency: &str) -> String {
        let (sep, decimal) = self.separators();
        let rounded = amount.round_dp(2);
        let negative = rounded.is_sign_negative() && !rounded.is_zero();
        let text = format!("{:.2}", rounded.abs());
        let (whole, frac) = text.split_once('.').unwrap_or((&text, "00"));
        let number = format!(
            "{}{}{decimal}{frac}",
            if negative { "-" } else { "" },
            group(whole, sep)
        );
        match (self, currency) {
            (Language::En, "USD") => format!("${number}"),
            (Language::En, "BRL") => format!("R${number}"),
            (Language::PtBr, "BRL") => format!("R$ {number}"),
            (Language::PtBr, "USD") => format!("US$ {number}"),
            (_, "EUR") => format!("€{number}"),
            _ => format!("{number} {currency}"),
        }
    }
}

/// `digits` with `sep` between each group of three from the right.
fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_written_the_way_each_language_writes_them() {
        let cases = [
            (Language::En, 1_234_567, "1,234,567"),
            (Language::PtBr, 1_234_567, "1.234.567"),
            (Language::En, -1000, "-1,000"),
            (Language::PtBr, 25, "25"),
        ];
        for (lang, n, want) in cases {
            assert_eq!(lang.int(n), want);
        }
        let amount = Decimal::new(123_450, 2);
        assert_eq!(Language::PtBr.money(amount, "BRL"), "R$ 1.234,50");
        assert_eq!(Language::En.money(amount, "USD"), "$1,234.50");
        assert_eq!(Language::En.money(-amount, "GBP"), "-1,234.50 GBP");
        assert_eq!(Language::from_tag("pt-BR"), Language::PtBr);
        assert_eq!(Language::from_tag("pt_PT"), Language::PtBr);
        assert_eq!(Language::from_tag("en-US"), Language::En);
        assert_eq!(Language::from_tag("fr"), Language::En);
    }
}
