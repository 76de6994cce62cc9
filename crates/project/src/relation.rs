//! How relations, identifiers and literals are spelled in the SQL orderlake writes.
//!
//! Every piece of generated SQL quotes through these helpers, so a column or value with a quote
//! in it can never change the meaning of a statement.

use std::fmt;

/// A table or view in the warehouse, or an ephemeral model inlined as a CTE.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Relation {
    pub schema: String,
    pub identifier: String,
    /// Ephemeral models are inlined as a CTE named `__dbt__cte__<name>`.
    pub ephemeral: bool,
}

impl Relation {
    pub fn new(schema: impl Into<String>, identifier: impl Into<String>) -> Self {
        Relation {
            schema: schema.into(),
            identifier: identifier.into(),
            ephemeral: false,
        }
    }

    pub fn cte_name(&self) -> String {
        format!("__dbt__cte__{}", self.identifier)
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ephemeral {
            write!(f, "{}", self.cte_name())
        } else {
            write!(
                f,
                "{}.{}",
                quote_ident(&self.schema),
                quote_ident(&self.identifier)
            )
        }
    }
}

/// Quotes an identifier for DataFusion (double quotes, doubled inside).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal (single quotes, doubled inside).
pub fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A name made safe as an identifier: ASCII letters and digits lower-cased, anything else `_`
/// (`Jaffle Shop!` → `jaffle_shop_`).
pub fn clean_identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(sql_string("O'Brien"), "'O''Brien'");
        assert_eq!(Relation::new("gold", "x").to_string(), r#""gold"."x""#);
        assert_eq!(clean_identifier("Jaffle Shop!"), "jaffle_shop_");
    }
}
