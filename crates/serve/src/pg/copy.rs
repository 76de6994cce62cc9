//! `COPY ... TO STDOUT`: a read, streamed in the text, CSV or binary format. polars' ADBC
//! driver and DuckDB's postgres scanner fetch whole tables this way; psql's `\copy` too.
//! `COPY FROM` and `COPY TO` a server file stay refused: the endpoint writes nothing and reads
//! none of the server's files.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Statement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use pgwire::api::results::{CopyCsvOptions, CopyEncoder, CopyTextOptions, FieldFormat, FieldInfo};
use pgwire::messages::copy::CopyData;

/// How the rows of a `COPY ... TO STDOUT` are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFormat {
    Text {
        delimiter: char,
        null: String,
    },
    Csv {
        delimiter: char,
        quote: char,
        escape: char,
        null: String,
        header: bool,
        /// `FORCE_QUOTE`: these columns (by name), or every column for `*`.
        force_quote: ForceQuote,
    },
    Binary,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForceQuote {
    None,
    All,
    Columns(Vec<String>),
}

/// A `COPY ... TO STDOUT` as understood: the query whose rows it writes and how.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyOut {
    pub query: Statement,
    pub format: CopyFormat,
}

/// Why a COPY is not served, as the client should read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyRefusal {
    /// COPY FROM: a write.
    Write,
    /// COPY TO a file or program on the server.
    ServerFile,
    /// An option this endpoint does not understand, or a bad value.
    Option(String),
}

struct Options {
    format: Option<String>,
    delimiter: Option<char>,
    null: Option<String>,
    header: bool,
    quote: Option<char>,
    escape: Option<char>,
    force_quote: ForceQuote,
}

/// Reads a parsed `COPY` statement.
pub fn parse(statement: Statement) -> Result<CopyOut, CopyRefusal> {
    let Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        ..
    } = statement
    else {
        return Err(CopyRefusal::Option("not a COPY statement".into()));
    };
    if !to {
        return Err(CopyRefusal::Write);
    }
    if !matches!(target, CopyTarget::Stdout) {
        return Err(CopyRefusal::ServerFile);
    }
    let mut o = Options {
        format: None,
        delimiter: None,
        null: None,
        header: false,
        quote: None,
        escape: None,
        force_quote: ForceQuote::None,
    };
    for option in options {
        match option {
            CopyOption::Format(name) => o.format = Some(name.value.to_ascii_lowercase()),
            CopyOption::Delimiter(c) => o.delimiter = Some(c),
            CopyOption::Null(s) => o.null = Some(s),
            CopyOption::Header(h) => o.header = h,
            CopyOption::Quote(c) => o.quote = Some(c),
            CopyOption::Escape(c) => o.escape = Some(c),
            CopyOption::ForceQuote(columns) => o.force_quote = force_quote(columns),
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") => {}
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf-8") => {}
            CopyOption::ForceNotNull(_) | CopyOption::ForceNull(_) | CopyOption::Freeze(_) => {}
            other => {
                return Err(CopyRefusal::Option(format!(
                    "COPY option {other} is not supported"
                )));
            }
        }
    }
    for option in legacy_options {
        match option {
            CopyLegacyOption::Binary => o.format = Some("binary".into()),
            CopyLegacyOption::Delimiter(c) => o.delimiter = Some(c),
            CopyLegacyOption::Null(s) => o.null = Some(s),
            CopyLegacyOption::Header => o.header = true,
            CopyLegacyOption::Csv(csv) => {
                o.format = Some("csv".into());
                for option in csv {
                    match option {
                        CopyLegacyCsvOption::Header => o.header = true,
                        CopyLegacyCsvOption::Quote(c) => o.quote = Some(c),
                        CopyLegacyCsvOption::Escape(c) => o.escape = Some(c),
                        CopyLegacyCsvOption::ForceQuote(columns) => {
                            o.force_quote = force_quote(columns)
                        }
                        CopyLegacyCsvOption::ForceNotNull(_) => {}
                    }
                }
            }
            other => {
                return Err(CopyRefusal::Option(format!(
                    "COPY option {other} is not supported"
                )));
            }
        }
    }
    let format = match o.format.as_deref().unwrap_or("text") {
        "text" => {
            if o.header {
                return Err(CopyRefusal::Option(
                    "cannot specify HEADER in text mode (use FORMAT csv)".into(),
                ));
            }
            CopyFormat::Text {
                delimiter: o.delimiter.unwrap_or('\t'),
                null: o.null.unwrap_or_else(|| "\\N".into()),
            }
        }
        "csv" => {
            let quote = o.quote.unwrap_or('"');
            CopyFormat::Csv {
                delimiter: o.delimiter.unwrap_or(','),
                quote,
                escape: o.escape.unwrap_or(quote),
                null: o.null.unwrap_or_default(),
                header: o.header,
                force_quote: o.force_quote,
            }
        }
        "binary" => CopyFormat::Binary,
        other => {
            return Err(CopyRefusal::Option(format!(
                "COPY format \"{other}\" not recognized (text, csv or binary)"
            )));
        }
    };
    let query = match source {
        CopySource::Query(query) => Statement::Query(query),
        CopySource::Table {
            table_name,
            columns,
        } => {
            let list = if columns.is_empty() {
                "*".to_string()
            } else {
                columns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let sql = format!("SELECT {list} FROM {table_name}");
            let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
                .map_err(|e| CopyRefusal::Option(format!("COPY {table_name}: {e}")))?;
            match parsed.pop() {
                Some(statement) => statement,
                None => return Err(CopyRefusal::Option(format!("COPY {table_name}"))),
            }
        }
    };
    Ok(CopyOut { query, format })
}

fn force_quote(columns: Vec<datafusion::sql::sqlparser::ast::Ident>) -> ForceQuote {
    if columns.len() == 1 && columns[0].value == "*" {
        ForceQuote::All
    } else {
        ForceQuote::Columns(columns.into_iter().map(|c| c.value).collect())
    }
}

impl CopyFormat {
    /// The wire's format code: 0 text (text and CSV), 1 binary.
    pub fn code(&self) -> i8 {
        match self {
            CopyFormat::Binary => 1,
            _ => 0,
        }
    }

    /// The encoder of the rows of a result with `fields` (their formats are set to match).
    pub fn encoder(&self, fields: &[FieldInfo]) -> CopyEncoder {
        let field_format = match self {
            CopyFormat::Binary => FieldFormat::Binary,
            _ => FieldFormat::Text,
        };
        let fields: Arc<Vec<FieldInfo>> = Arc::new(
            fields
                .iter()
                .map(|f| {
                    FieldInfo::new(
                        f.name().to_string(),
                        None,
                        None,
                        f.datatype().clone(),
                        field_format,
                    )
                })
                .collect(),
        );
        match self {
            CopyFormat::Binary => CopyEncoder::new_binary(fields),
            CopyFormat::Text { delimiter, null } => CopyEncoder::new_text(
                fields,
                CopyTextOptions {
                    delimiter: delimiter.to_string().into(),
                    null_string: null.as_str().into(),
                },
            ),
            CopyFormat::Csv {
                delimiter,
                quote,
                escape,
                null,
                force_quote,
                ..
            } => {
                let force_quote = match force_quote {
                    ForceQuote::None => vec![],
                    ForceQuote::All => (0..fields.len()).collect(),
                    ForceQuote::Columns(names) => fields
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| names.iter().any(|n| n == f.name()))
                        .map(|(i, _)| i)
                        .collect(),
                };
                CopyEncoder::new_csv(
                    fields,
                    CopyCsvOptions {
                        delimiter: delimiter.to_string().into(),
                        quote: quote.to_string().into(),
                        escape: escape.to_string().into(),
                        null_string: null.as_str().into(),
                        force_quote,
                    },
                )
            }
        }
    }

    /// The CSV header line, when asked for.
    pub fn header(&self, fields: &[FieldInfo]) -> Option<CopyData> {
        let CopyFormat::Csv {
            delimiter,
            quote,
            header: true,
            ..
        } = self
        else {
            return None;
        };
        let names: Vec<String> = fields
            .iter()
            .map(|f| {
                let name = f.name();
                if name.contains(*delimiter)
                    || name.contains(*quote)
                    || name.contains('\n')
                    || name.contains('\r')
                {
                    let doubled = name.replace(*quote, &format!("{quote}{quote}"));
                    format!("{quote}{doubled}{quote}")
                } else {
                    name.to_string()
                }
            })
            .collect();
        let line = format!("{}\n", names.join(&delimiter.to_string()));
        Some(CopyData::new(Bytes::from(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(sql: &str) -> Result<CopyOut, CopyRefusal> {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        parse(statements.remove(0))
    }

    #[test]
    fn copy_to_stdout_is_a_query_in_a_format() {
        let out = copy("COPY (SELECT 1 AS a) TO STDOUT (FORMAT \"binary\")").expect("copy");
        assert_eq!(out.format, CopyFormat::Binary);
        assert_eq!(out.query.to_string(), "SELECT 1 AS a");
        let out =
            copy("COPY gold.orders (order_id, amount) TO STDOUT WITH CSV HEADER").expect("copy");
        assert_eq!(
            out.query.to_string(),
            "SELECT order_id, amount FROM gold.orders"
        );
        assert!(matches!(
            out.format,
            CopyFormat::Csv {
                header: true,
                delimiter: ',',
                ..
            }
        ));
        let out = copy("copy gold.orders to stdout").expect("copy");
        assert_eq!(
            out.format,
            CopyFormat::Text {
                delimiter: '\t',
                null: "\\N".into()
            }
        );
        let out =
            copy("COPY (select 1) TO STDOUT (FORMAT csv, DELIMITER ';', NULL 'NA')").expect("copy");
        assert!(
            matches!(out.format, CopyFormat::Csv { delimiter: ';', ref null, .. } if null == "NA")
        );
    }

    #[test]
    fn copy_from_and_to_server_files_are_refused() {
        assert_eq!(copy("COPY gold.orders FROM STDIN"), Err(CopyRefusal::Write));
        assert_eq!(
            copy("COPY gold.orders TO '/tmp/x.csv'"),
            Err(CopyRefusal::ServerFile)
        );
        assert_eq!(
            copy("COPY gold.orders TO PROGRAM 'rm -rf /'"),
            Err(CopyRefusal::ServerFile)
        );
        assert!(matches!(
            copy("COPY gold.orders TO STDOUT (FORMAT parquet)"),
            Err(CopyRefusal::Option(m)) if m.contains("parquet")
        ));
    }
}
