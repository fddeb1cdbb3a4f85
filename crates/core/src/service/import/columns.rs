//! The columns of a customer file and the header names each is known by, in en-US and
//! pt-BR. Header names are compared without case, accents, spaces or punctuation.

/// A column of a customer file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// Name.
    Name,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// Printed card number.
    CardNumber,
    /// Birth date.
    BirthDate,
    /// Points brought from before the programme.
    OpeningBalance,
    /// Whether the customer accepts marketing mail.
    MarketingConsent,
}

/// Every column, in the template's order.
pub const COLUMNS: [Column; 7] = [
    Column::Name,
    Column::Email,
    Column::Phone,
    Column::CardNumber,
    Column::BirthDate,
    Column::OpeningBalance,
    Column::MarketingConsent,
];

impl Column {
    /// The field name used in error reports (and the en-US header in snake case).
    pub fn field(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Email => "email",
            Column::Phone => "phone",
            Column::CardNumber => "card_number",
            Column::BirthDate => "birth_date",
            Column::OpeningBalance => "opening_balance",
            Column::MarketingConsent => "marketing_consent",
        }
    }

    /// The header in the template: en-US, pt-BR.
    pub fn header(self, pt_br: bool) -> &'static str {
        match (self, pt_br) {
            (Column::Name, false) => "Name",
            (Column::Name, true) => "Nome",
            (Column::Email, false) => "Email",
            (Column::Email, true) => "E-mail",
            (Column::Phone, false) => "Phone",
            (Column::Phone, true) => "Telefone",
            (Column::CardNumber, false) => "Card number",
            (Column::CardNumber, true) => "Número do cartão",
            (Column::BirthDate, false) => "Birth date",
            (Column::BirthDate, true) => "Data de nascimento",
            (Column::OpeningBalance, false) => "Opening balance",
            (Column::OpeningBalance, true) => "Saldo inicial",
            (Column::MarketingConsent, false) => "Marketing consent",
            (Column::MarketingConsent, true) => "Aceita marketing",
        }
    }

    /// Every folded header name this column is known by.
    fn names(self) -> &'static [&'static str] {
        match self {
            Column::Name => &["name", "fullname", "nome", "nomecompleto"],
            Column::Email => &["email", "emailaddress", "correioeletronico"],
            Column::Phone => &[
                "phone",
                "phonenumber",
                "mobile",
                "telefone",
                "celular",
                "fone",
            ],
            Column::CardNumber => &[
                "cardnumber",
                "card",
                "numerodocartao",
                "cartao",
                "numerocartao",
            ],
            Column::BirthDate => &[
                "birthdate",
                "dateofbirth",
                "birthday",
                "datadenascimento",
                "nascimento",
                "datanascimento",
            ],
            Column::OpeningBalance => &[
                "openingbalance",
                "balance",
                "points",
                "saldoinicial",
                "saldo",
                "pontos",
            ],
            Column::MarketingConsent => &[
                "marketingconsent",
                "consent",
                "acceptsmarketing",
                "aceitamarketing",
                "consentimentodemarketing",
                "consentimentomarketing",
                "consentimento",
            ],
        }
    }

    /// The column a header cell names, if any.
    pub fn from_header(cell: &str) -> Option<Self> {
        let folded = fold(cell);
        COLUMNS
            .into_iter()
            .find(|c| c.names().contains(&folded.as_str()))
    }
}

/// Lower case, accents dropped, only letters and digits kept.
fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_name_every_column() {
        for c in COLUMNS {
            assert_eq!(Column::from_header(c.header(false)), Some(c));
            assert_eq!(Column::from_header(c.header(true)), Some(c));
            assert_eq!(Column::from_header(c.field()), Some(c));
        }
        assert_eq!(Column::from_header(" E-MAIL "), Some(Column::Email));
        assert_eq!(
            Column::from_header("Número do Cartão"),
            Some(Column::CardNumber)
        );
        assert_eq!(Column::from_header("favourite colour"), None);
    }
}
