//! Statements that are about the session rather than the data (`SET`, `SHOW`, `BEGIN`,
//! `DISCARD ALL`, ...) and the statements the endpoint refuses because it is read-only.

/// Settings clients ask for with `SHOW`, `current_setting()` or `pg_settings`.
pub const SETTINGS: &[(&str, &str)] = &[
    ("server_version", "15.0"),
    ("server_version_num", "150000"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
    ("default_transaction_read_only", "on"),
    ("search_path", "\"$user\", public"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("block_size", "8192"),
    ("lc_collate", "C.UTF-8"),
    ("lc_ctype", "C.UTF-8"),
    ("lc_messages", "C.UTF-8"),
    ("application_name", ""),
    ("extra_float_digits", "1"),
    ("is_superuser", "off"),
    ("statement_timeout", "0"),
    ("bytea_output", "hex"),
    ("ssl", "off"),
];

/// What `version()` returns: clients parse the leading `PostgreSQL <major>.<minor>`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL 15.0 (orderlake {}) on x86_64-pc-linux-gnu, read-only",
        env!("CARGO_PKG_VERSION")
    )
}

/// The value of a setting, as `SHOW` prints it.
pub fn setting(name: &str) -> Option<&'static str> {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    let name = match name.as_str() {
        "transaction isolation level" => "transaction_isolation",
        "time zone" => "timezone",
        other => other,
    };
    SETTINGS.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

/// How one statement is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run on DataFusion.
    Query,
    /// `SHOW name` (or `SHOW ALL` when `None`).
    Show(Option<String>),
    /// Acknowledged with this tag and otherwise ignored: session settings have one value here.
    Ack(&'static str),
    /// `BEGIN`: every statement reads one snapshot anyway.
    Begin,
    /// `COMMIT` / `ROLLBACK`.
    End(&'static str),
    /// Writes and DDL: refused, naming the statement.
    Refused(String),
}

const WRITES: &[&str] = &[
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "GRANT",
    "REVOKE",
    "COPY",
    "VACUUM",
    "ANALYZE",
    "COMMENT",
    "REFRESH",
    "CALL",
    "DO",
    "LOCK",
    "REINDEX",
    "CLUSTER",
    "IMPORT",
    "SECURITY",
    "PREPARE",
    "EXECUTE",
    "CHECKPOINT",
    "LOAD",
    "ATTACH",
    "DETACH",
    "INSTALL",
];

/// Classifies one statement by its leading keywords.
pub fn classify(sql: &str) -> Command {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    match first {
        "SHOW" => {
            let rest = sql.trim().trim_end_matches(';')[4..].trim().to_string();
            if rest.eq_ignore_ascii_case("all") {
                Command::Show(None)
            } else {
                Command::Show(Some(rest))
            }
        }
        "SET" | "RESET" => Command::Ack(if first == "SET" { "SET" } else { "RESET" }),
        "DISCARD" => Command::Ack("DISCARD ALL"),
        "DEALLOCATE" => Command::Ack("DEALLOCATE"),
        "CLOSE" => Command::Ack("CLOSE CURSOR"),
        "LISTEN" => Command::Ack("LISTEN"),
        "UNLISTEN" => Command::Ack("UNLISTEN"),
        "SAVEPOINT" => Command::Ack("SAVEPOINT"),
        "RELEASE" => Command::Ack("RELEASE"),
        "BEGIN" | "START" => Command::Begin,
        "COMMIT" | "END" => Command::End("COMMIT"),
        "ROLLBACK" | "ABORT" => {
            if words.get(1).is_some_and(|w| w == "TO") {
                Command::Ack("ROLLBACK")
            } else {
                Command::End("ROLLBACK")
            }
        }
        w if WRITES.contains(&w) => {
            let verb = match (w, words.get(1).map(String::as_str)) {
                ("CREATE" | "DROP" | "ALTER", Some(object)) => format!("{w} {object}"),
                ("INSERT" | "DELETE", _) => w.to_string(),
                _ => w.to_string(),
            };
            Command::Refused(verb)
        }
        _ => Command::Query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_statements_are_acknowledged_and_writes_refused() {
        assert_eq!(classify("select 1"), Command::Query);
        assert_eq!(
            classify("  WITH x AS (select 1) select * from x"),
            Command::Query
        );
        assert_eq!(classify("SET extra_float_digits = 3"), Command::Ack("SET"));
        assert_eq!(classify("DISCARD ALL"), Command::Ack("DISCARD ALL"));
        assert_eq!(
            classify("SHOW transaction isolation level"),
            Command::Show(Some("transaction isolation level".into()))
        );
        assert_eq!(classify("begin"), Command::Begin);
        assert_eq!(classify("ROLLBACK"), Command::End("ROLLBACK"));
        assert_eq!(
            classify("drop table gold.customer_metrics"),
            Command::Refused("DROP TABLE".into())
        );
        assert_eq!(
            classify("insert into x values (1)"),
            Command::Refused("INSERT".into())
        );
        assert_eq!(setting("TimeZone"), Some("UTC"));
        assert_eq!(
            setting("transaction isolation level"),
            Some("read committed")
        );
    }
}
