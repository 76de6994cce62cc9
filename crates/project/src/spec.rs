//! What a node is to the engine: its configuration resolved once, at load, into types.
//!
//! Configuration arrives as loosely typed YAML and Jinja values (`unique_key: id`, `unique_key:
//! [a, b]`, `unique_key: "a, b"`). This module is the one place that reads those keys: the engine
//! matches on [`Materialization`] and never looks a setting up by its name. A value that is not
//! allowed (`incremental_strategy: merg`) fails the load with the allowed values, before anything
//! is written to the warehouse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::config::Config;
use crate::error::ProjectError;
use crate::{Node, ResourceType};

/// How a node is built, with everything its materialization needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "materialized", rename_all = "lowercase")]
pub enum Materialization {
    /// A persisted view, re-planned when the warehouse opens.
    View,
    /// A Delta table replaced on every run.
    Table,
    /// Inlined as a CTE into the nodes that read it; never stored.
    Ephemeral,
    Incremental(IncrementalSpec),
    /// Change events applied by key and sequence (Databricks' AUTO CDC / `apply_changes`).
    Cdc(CdcSpec),
    Seed(SeedSpec),
    Snapshot(SnapshotSpec),
    Test(TestConfig),
}

impl Materialization {
    /// The name dbt gives it in `config.materialized`.
    pub fn name(&self) -> &'static str {
        match self {
            Materialization::View => "view",
            Materialization::Table => "table",
            Materialization::Ephemeral => "ephemeral",
            Materialization::Incremental(_) => "incremental",
            Materialization::Cdc(_) => "cdc",
            Materialization::Seed(_) => "seed",
            Materialization::Snapshot(_) => "snapshot",
            Materialization::Test(_) => "test",
        }
    }
}

/// The materializations a model may ask for.
pub const MODEL_MATERIALIZATIONS: &[&str] = &["view", "table", "incremental", "ephemeral", "cdc"];

/// A model whose rows are change events, applied to a table by key in sequence order: the
/// table holds each key's latest state (SCD type 1) or its history (SCD type 2). Events may
/// arrive late, out of order or twice; the result depends only on the set of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdcSpec {
    /// `keys`: the columns identifying a row.
    pub keys: Vec<String>,
    /// `sequence_by`: the columns ordering a key's events (compared left to right).
    pub sequence_by: Vec<String>,
    /// `apply_as_deletes`: a SQL condition on an event that makes it a delete.
    pub apply_as_deletes: Option<String>,
    /// `apply_as_truncates`: a SQL condition making an event empty the table (SCD type 1 only).
    pub apply_as_truncates: Option<String>,
    /// Which of the events' columns the table keeps.
    pub columns: ColumnSelection,
    /// `ignore_null_updates`: a null in an update keeps the column's current value.
    pub ignore_null_updates: bool,
    pub scd_type: ScdType,
    /// SCD type 2: which columns start a new version when they change (others update the
    /// current version in place).
    pub track_history: ColumnSelection,
    /// How long a delete is remembered (SCD type 1), so an older event arriving after it does
    /// not bring the row back.
    pub tombstone_retention_hours: u32,
}

/// What ingest does when a landing file's columns differ from its bronze table's (Auto Loader's
/// `schemaEvolutionMode`), set per source table as `config: {schema_evolution_mode: rescue}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SchemaEvolution {
    /// New columns are added to the table; the run says which.
    #[default]
    AddNewColumns,
    /// The table's columns never change: unknown columns, and values that do not fit their
    /// column's type, go into a `_rescued_data` JSON column with the file name.
    Rescue,
    /// A file with a column the table lacks is refused, naming the file and the columns.
    FailOnNewColumns,
    /// New columns are dropped.
    None,
}

pub const SCHEMA_EVOLUTION_MODES: &[&str] =
    &["addNewColumns", "rescue", "failOnNewColumns", "none"];

impl SchemaEvolution {
    /// Parses Auto Loader's spelling (case and `_` ignored: `add_new_columns` works too).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let folded: String = text
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        match folded.as_str() {
            "addnewcolumns" => Ok(SchemaEvolution::AddNewColumns),
            "rescue" => Ok(SchemaEvolution::Rescue),
            "failonnewcolumns" => Ok(SchemaEvolution::FailOnNewColumns),
            "none" => Ok(SchemaEvolution::None),
            _ => Err(SpecError::not_one_of(
                "schema_evolution_mode",
                text,
                SCHEMA_EVOLUTION_MODES,
            )),
        }
    }
}

/// A `*_column_list` / `*_except_column_list` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnSelection {
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

impl ColumnSelection {
    /// Whether `column` is selected.
    pub fn contains(&self, column: &str) -> bool {
        match self {
            ColumnSelection::All => true,
            ColumnSelection::Only(list) => list.iter().any(|c| c == column),
            ColumnSelection::Except(list) => !list.iter().any(|c| c == column),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScdType {
    /// The latest state of each key.
    One,
    /// Every version of each key, with `__START_AT` and `__END_AT`.
    Two,
}

/// An incremental model: how new rows meet the existing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncrementalSpec {
    pub strategy: Strategy,
    /// Columns identifying a row (`merge`, `delete+insert`); empty for `append`.
    pub unique_key: Vec<String>,
    pub on_schema_change: OnSchemaChange,
    /// `full_refresh: true` in config: always rebuilt from scratch.
    pub full_refresh: bool,
}

impl IncrementalSpec {
    /// What an incremental run of this model does, in words (the event log shows it).
    pub fn strategy_description(&self) -> String {
        let keys = self.unique_key.join(", ");
        match &self.strategy {
            Strategy::Append => "incremental append of the new rows".into(),
            Strategy::Merge => format!("incremental merge of the new rows on ({keys})"),
            Strategy::DeleteInsert => {
                format!("incremental delete+insert of the new rows' keys ({keys})")
            }
            Strategy::Microbatch(m) => format!(
                "microbatch: batches of one {} on '{}'",
                m.batch_size.as_str(),
                m.event_time
            ),
        }
    }
}

/// `incremental_strategy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Append,
    Merge,
    DeleteInsert,
    Microbatch(MicrobatchSpec),
}

pub const STRATEGIES: &[&str] = &["append", "merge", "delete+insert", "microbatch"];

/// A microbatch model's time slicing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicrobatchSpec {
    /// The column of the model's rows that places them in a batch.
    pub event_time: String,
    pub batch_size: BatchSize,
    /// How many batches before the newest one a normal run rebuilds.
    pub lookback: u32,
    /// The first event time a first run builds from.
    pub begin: Option<DateTime<Utc>>,
}

/// `on_schema_change`: what an incremental run does when the model's columns differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnSchemaChange {
    Ignore,
    Fail,
    AppendNewColumns,
    SyncAllColumns,
}

pub const ON_SCHEMA_CHANGE: &[&str] = &["ignore", "fail", "append_new_columns", "sync_all_columns"];

/// `batch_size` of a microbatch model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchSize {
    Hour,
    Day,
    Month,
    Year,
}

pub const BATCH_SIZES: &[&str] = &["hour", "day", "month", "year"];

impl BatchSize {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchSize::Hour => "hour",
            BatchSize::Day => "day",
            BatchSize::Month => "month",
            BatchSize::Year => "year",
        }
    }

    /// The start of the batch holding `t`.
    pub fn truncate(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let d = t.date_naive();
        let at = |date: NaiveDate, hour: u32| {
            Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
        };
        match self {
            BatchSize::Hour => at(d, t.hour()),
            BatchSize::Day => at(d, 0),
            BatchSize::Month => at(
                NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d),
                0,
            ),
            BatchSize::Year => at(NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d), 0),
        }
    }

    /// The start of the next batch.
    pub fn advance(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            BatchSize::Hour => t + Duration::hours(1),
            BatchSize::Day => t + Duration::days(1),
            BatchSize::Month => t.checked_add_months(chrono::Months::new(1)).unwrap_or(t),
            BatchSize::Year => t.checked_add_months(chrono::Months::new(12)).unwrap_or(t),
        }
    }

    /// The start of the previous batch.
    pub fn retreat(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            BatchSize::Hour => t - Duration::hours(1),
            BatchSize::Day => t - Duration::days(1),
            BatchSize::Month => t.checked_sub_months(chrono::Months::new(1)).unwrap_or(t),
            BatchSize::Year => t.checked_sub_months(chrono::Months::new(12)).unwrap_or(t),
        }
    }
}

/// A snapshot (SCD type 2): which rows are one entity, and what makes a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSpec {
    pub unique_key: Vec<String>,
    pub strategy: SnapshotStrategy,
    pub hard_deletes: HardDeletes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotStrategy {
    /// A row is a new version when its `updated_at` is newer.
    Timestamp { updated_at: String },
    /// A row is a new version when any of these columns changed.
    Check { check_cols: CheckCols },
}

pub const SNAPSHOT_STRATEGIES: &[&str] = &["timestamp", "check"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckCols {
    /// Every column but the key.
    All,
    Columns(Vec<String>),
}

/// `hard_deletes`: what a snapshot does when a key leaves the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HardDeletes {
    Ignore,
    Invalidate,
    NewRecord,
}

pub const HARD_DELETES: &[&str] = &["ignore", "invalidate", "new_record"];

/// A seed: how its CSV is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedSpec {
    /// Column name → SQL type, overriding inference.
    pub column_types: BTreeMap<String, String>,
    pub delimiter: u8,
}

/// A test's verdict rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestConfig {
    pub severity: Severity,
    pub warn_if: Condition,
    pub error_if: Condition,
    /// The aggregate over failing rows, `count(*)` by default.
    pub fail_calc: String,
    pub limit: Option<u64>,
    /// Keep the failing rows in `<schema>_dbt_test__audit.<test>`.
    pub store_failures: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warn,
}

pub const SEVERITIES: &[&str] = &["error", "warn"];

/// dbt's `warn_if` / `error_if`: a comparison of the failure count with a number (`">10"`, `"!=0"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub op: Comparison,
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    NotEqual,
    Equal,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Condition {
    /// Parses `">10"`, `"!= 0"`, `">= 5"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let c = text.trim();
        let ops = [
            ("!=", Comparison::NotEqual),
            ("<>", Comparison::NotEqual),
            (">=", Comparison::GreaterOrEqual),
            ("<=", Comparison::LessOrEqual),
            ("==", Comparison::Equal),
            ("=", Comparison::Equal),
            (">", Comparison::Greater),
            ("<", Comparison::Less),
        ];
        let (op, rest) = ops
            .iter()
            .find_map(|(prefix, op)| c.strip_prefix(prefix).map(|r| (*op, r)))
            .ok_or_else(|| format!("'{text}' is not a condition: expected e.g. '>10' or '!=0'"))?;
        let value = rest
            .trim()
            .parse()
            .map_err(|_| format!("'{text}': '{}' is not a number", rest.trim()))?;
        Ok(Condition { op, value })
    }

    pub fn holds(&self, failures: i64) -> bool {
        let n = self.value;
        match self.op {
            Comparison::NotEqual => failures != n,
            Comparison::Equal => failures == n,
            Comparison::Greater => failures > n,
            Comparison::GreaterOrEqual => failures >= n,
            Comparison::Less => failures < n,
            Comparison::LessOrEqual => failures <= n,
        }
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Comparison::NotEqual => "!=",
            Comparison::Equal => "=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        };
        write!(f, "{op}{}", self.value)
    }
}

/// A configuration value that is not allowed, before the loader says where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    /// The configuration key, e.g. `incremental_strategy`.
    pub key: &'static str,
    /// The value as written, when there is one to point at.
    pub value: Option<String>,
    pub message: String,
}

impl SpecError {
    fn not_one_of(key: &'static str, value: &str, allowed: &[&str]) -> Self {
        let hint = crate::error::closest_name(value, allowed.iter().copied())
            .map(|c| format!(" (did you mean '{c}'?)"))
            .unwrap_or_default();
        SpecError {
            key,
            value: Some(value.to_string()),
            message: format!("{key} '{value}' is not one of {}{hint}", allowed.join(", ")),
        }
    }

    fn missing(key: &'static str, message: impl Into<String>) -> Self {
        SpecError {
            key,
            value: None,
            message: message.into(),
        }
    }
}

/// Parses a date or timestamp (UTC) the way `begin` and `--event-time-start` are written.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()))
}

/// Resolves a node's configuration into what the engine needs for its resource type.
pub fn resolve(resource_type: ResourceType, config: &Config) -> Result<Materialization, SpecError> {
    match resource_type {
        ResourceType::Seed => seed(config).map(Materialization::Seed),
        ResourceType::Snapshot => snapshot(config).map(Materialization::Snapshot),
        ResourceType::Test => test(config).map(Materialization::Test),
        ResourceType::Model | ResourceType::Source => {
            match config.str("materialized").unwrap_or("view") {
                "view" => Ok(Materialization::View),
                "table" => Ok(Materialization::Table),
                "ephemeral" => Ok(Materialization::Ephemeral),
                "incremental" => incremental(config).map(Materialization::Incremental),
                "cdc" => cdc(config).map(Materialization::Cdc),
                other => Err(SpecError::not_one_of(
                    "materialized",
                    other,
                    MODEL_MATERIALIZATIONS,
                )),
            }
        }
    }
}

/// `unique_key` as a list of columns: a string, a comma-separated string, or a list.
fn unique_key(config: &Config) -> Vec<String> {
    columns(config, "unique_key")
}

/// A list of columns written as a string, a comma-separated string, or a list.
fn columns(config: &Config, key: &str) -> Vec<String> {
    match config.get(key) {
        Some(Json::String(s)) => s
            .split(',')
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn cdc(config: &Config) -> Result<CdcSpec, SpecError> {
    let keys = columns(config, "keys");
    if keys.is_empty() {
        return Err(SpecError::missing(
            "materialized",
            "materialized 'cdc' needs keys (the columns identifying a row)",
        ));
    }
    let sequence_by = columns(config, "sequence_by");
    if sequence_by.is_empty() {
        return Err(SpecError::missing(
            "materialized",
            "materialized 'cdc' needs sequence_by (the columns ordering a key's events)",
        ));
    }
    let selection = |only: &'static str, except: &'static str| match (
        columns(config, only),
        columns(config, except),
    ) {
        (o, e) if !o.is_empty() && !e.is_empty() => Err(SpecError::missing(
            only,
            format!("{only} and {except} cannot both be set"),
        )),
        (o, _) if !o.is_empty() => Ok(ColumnSelection::Only(o)),
        (_, e) if !e.is_empty() => Ok(ColumnSelection::Except(e)),
        _ => Ok(ColumnSelection::All),
    };
    let scd_type = match config.get("stored_as_scd_type") {
        None => ScdType::One,
        Some(v) => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(1) => ScdType::One,
            Some(2) => ScdType::Two,
            _ => {
                return Err(SpecError::not_one_of(
                    "stored_as_scd_type",
                    &v.to_string(),
                    &["1", "2"],
                ));
            }
        },
    };
    let text = |key: &str| {
        config
            .str(key)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let apply_as_truncates = text("apply_as_truncates");
    if apply_as_truncates.is_some() && scd_type == ScdType::Two {
        return Err(SpecError::missing(
            "apply_as_truncates",
            "apply_as_truncates applies to stored_as_scd_type 1 only",
        ));
    }
    if scd_type == ScdType::Two && sequence_by.len() != 1 {
        return Err(SpecError::missing(
            "sequence_by",
            "stored_as_scd_type 2 needs exactly one sequence_by column (it becomes __START_AT/__END_AT)",
        ));
    }
    let track_history = selection(
        "track_history_column_list",
        "track_history_except_column_list",
    )?;
    if track_history != ColumnSelection::All && scd_type == ScdType::One {
        return Err(SpecError::missing(
            "track_history_column_list",
            "track_history_column_list / track_history_except_column_list need stored_as_scd_type 2",
        ));
    }
    let retention = match config.get("tombstone_retention_hours") {
        None => 168,
        Some(v) => v
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .ok_or_else(|| SpecError {
                key: "tombstone_retention_hours",
                value: Some(v.to_string()),
                message: format!("tombstone_retention_hours {v} is not a whole number of hours"),
            })?,
    };
    Ok(CdcSpec {
        keys,
        sequence_by,
        apply_as_deletes: text("apply_as_deletes"),
        apply_as_truncates,
        columns: selection("column_list", "except_column_list")?,
        ignore_null_updates: config.bool("ignore_null_updates").unwrap_or(false),
        scd_type,
        track_history,
        tombstone_retention_hours: retention,
    })
}

fn incremental(config: &Config) -> Result<IncrementalSpec, SpecError> {
    let unique_key = unique_key(config);
    let default = if unique_key.is_empty() {
        "append"
    } else {
        "merge"
    };
    let strategy = match config.str("incremental_strategy").unwrap_or(default) {
        "append" => Strategy::Append,
        "merge" => Strategy::Merge,
        "delete+insert" | "delete_insert" => Strategy::DeleteInsert,
        "microbatch" => Strategy::Microbatch(microbatch(config)?),
        other => {
            return Err(SpecError::not_one_of(
                "incremental_strategy",
                other,
                STRATEGIES,
            ));
        }
    };
    if matches!(strategy, Strategy::Merge | Strategy::DeleteInsert) && unique_key.is_empty() {
        let name = if strategy == Strategy::Merge {
            "merge"
        } else {
            "delete+insert"
        };
        return Err(SpecError::missing(
            "incremental_strategy",
            format!("incremental_strategy '{name}' needs a unique_key"),
        ));
    }
    let on_schema_change = match config.str("on_schema_change").unwrap_or("ignore") {
        "ignore" => OnSchemaChange::Ignore,
        "fail" => OnSchemaChange::Fail,
        "append_new_columns" => OnSchemaChange::AppendNewColumns,
        "sync_all_columns" => OnSchemaChange::SyncAllColumns,
        other => {
            return Err(SpecError::not_one_of(
                "on_schema_change",
                other,
                ON_SCHEMA_CHANGE,
            ));
        }
    };
    Ok(IncrementalSpec {
        strategy,
        unique_key,
        on_schema_change,
        full_refresh: config.bool("full_refresh").unwrap_or(false),
    })
}

fn microbatch(config: &Config) -> Result<MicrobatchSpec, SpecError> {
    let Some(event_time) = config.str("event_time") else {
        return Err(SpecError::missing(
            "event_time",
            "microbatch needs config event_time (the column that places a row in a batch)",
        ));
    };
    let batch_size = match config.str("batch_size").unwrap_or("day") {
        "hour" => BatchSize::Hour,
        "day" => BatchSize::Day,
        "month" => BatchSize::Month,
        "year" => BatchSize::Year,
        other => return Err(SpecError::not_one_of("batch_size", other, BATCH_SIZES)),
    };
    let lookback = match config.get("lookback") {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .or_else(|| v.as_i64().filter(|n| *n < 0).map(|_| 0))
            .ok_or_else(|| SpecError {
                key: "lookback",
                value: Some(v.to_string()),
                message: format!("lookback {v} is not a whole number of batches"),
            })?,
    };
    let begin = match config.get("begin") {
        None => None,
        Some(Json::String(s)) => Some(parse_time(s).ok_or_else(|| SpecError {
            key: "begin",
            value: Some(s.clone()),
            message: format!("begin '{s}' is not a date or timestamp"),
        })?),
        Some(other) => {
            return Err(SpecError {
                key: "begin",
                value: Some(other.to_string()),
                message: format!("begin {other} is not a date or timestamp"),
            });
        }
    };
    Ok(MicrobatchSpec {
        event_time: event_time.to_string(),
        batch_size,
        lookback,
        begin,
    })
}

fn snapshot(config: &Config) -> Result<SnapshotSpec, SpecError> {
    let unique_key = unique_key(config);
    if unique_key.is_empty() {
        return Err(SpecError::missing(
            "unique_key",
            "snapshot needs config unique_key",
        ));
    }
    let hard_deletes = match config.str("hard_deletes") {
        Some("ignore") => HardDeletes::Ignore,
        Some("invalidate") => HardDeletes::Invalidate,
        Some("new_record") => HardDeletes::NewRecord,
        Some(other) => return Err(SpecError::not_one_of("hard_deletes", other, HARD_DELETES)),
        None if config.bool("invalidate_hard_deletes").unwrap_or(false) => HardDeletes::Invalidate,
        None => HardDeletes::Ignore,
    };
    let strategy = match config.str("strategy").unwrap_or("timestamp") {
        "timestamp" => match config.str("updated_at") {
            Some(updated_at) => SnapshotStrategy::Timestamp {
                updated_at: updated_at.to_string(),
            },
            None => {
                return Err(SpecError::missing(
                    "updated_at",
                    "strategy 'timestamp' needs config updated_at",
                ));
            }
        },
        "check" => {
            let check_cols = match config.get("check_cols") {
                Some(Json::String(s)) if s == "all" => CheckCols::All,
                Some(Json::Array(items)) => CheckCols::Columns(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => {
                    return Err(SpecError::missing(
                        "check_cols",
                        "strategy 'check' needs check_cols: a list of columns, or 'all'",
                    ));
                }
            };
            SnapshotStrategy::Check { check_cols }
        }
        other => {
            return Err(SpecError::not_one_of(
                "strategy",
                other,
                SNAPSHOT_STRATEGIES,
            ));
        }
    };
    Ok(SnapshotSpec {
        unique_key,
        strategy,
        hard_deletes,
    })
}

fn seed(config: &Config) -> Result<SeedSpec, SpecError> {
    let mut column_types = BTreeMap::new();
    if let Some(Json::Object(map)) = config.get("column_types") {
        for (k, v) in map {
            if let Some(t) = v.as_str() {
                column_types.insert(k.clone(), t.to_string());
            }
        }
    }
    let delimiter = match config.str("delimiter") {
        None => b',',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some("\\t") => b'\t',
        Some(d) => {
            return Err(SpecError {
                key: "delimiter",
                value: Some(d.to_string()),
                message: format!("delimiter '{d}' must be a single character"),
            });
        }
    };
    Ok(SeedSpec {
        column_types,
        delimiter,
    })
}

fn test(config: &Config) -> Result<TestConfig, SpecError> {
    let condition = |key: &'static str| -> Result<Condition, SpecError> {
        let text = config.str(key).unwrap_or("!=0");
        Condition::parse(text).map_err(|message| SpecError {
            key,
            value: Some(text.to_string()),
            message: format!("{key} {message}"),
        })
    };
    let severity = match config
        .str("severity")
        .unwrap_or("error")
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => Severity::Error,
        "warn" => Severity::Warn,
        _ => {
            let written = config.str("severity").unwrap_or_default();
            return Err(SpecError::not_one_of("severity", written, SEVERITIES));
        }
    };
    let limit = match config.get("limit") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| SpecError {
            key: "limit",
            value: Some(v.to_string()),
            message: format!("limit {v} is not a whole number"),
        })?),
    };
    Ok(TestConfig {
        severity,
        warn_if: condition("warn_if")?,
        error_if: condition("error_if")?,
        fail_calc: config.str("fail_calc").unwrap_or("count(*)").to_string(),
        limit,
        store_failures: config.bool("store_failures").unwrap_or(false)
            || config.str("store_failures_as") == Some("table"),
    })
}

/// Types a node's configuration; a value that is not allowed is reported at the file and line
/// that wrote it: the node's own SQL (`config(...)`), its properties file, or `dbt_project.yml`
/// (searched in that order, the order in which they override one another).
pub(crate) fn resolve_node(root: &Path, node: &Node) -> crate::Result<Materialization> {
    resolve(node.resource_type, &node.config).map_err(|err| {
        let mut candidates = vec![node.path.clone()];
        candidates.extend(node.patch_path.clone());
        candidates.push(PathBuf::from("dbt_project.yml"));
        let (path, line) = candidates
            .iter()
            .find_map(|path| {
                let text = std::fs::read_to_string(root.join(path)).ok()?;
                locate(&text, err.key, err.value.as_deref()).map(|line| (path.clone(), line))
            })
            .unwrap_or_else(|| (node.path.clone(), 0));
        ProjectError::Config {
            path,
            line,
            kind: node.resource_type.as_str(),
            node: node.name.clone(),
            message: err.message,
        }
    })
}

/// The 1-based line of `text` that sets `key` (to `value`, when given).
fn locate(text: &str, key: &str, value: Option<&str>) -> Option<usize> {
    let value = value.map(|v| v.trim_matches('"'));
    text.lines()
        .position(|line| line.contains(key) && value.is_none_or(|v| line.contains(v)))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Config {
        let Json::Object(map) = json else {
            panic!("object")
        };
        Config(map)
    }

    #[test]
    fn unique_key_in_every_written_form() {
        for form in [
            serde_json::json!("a, b"),
            serde_json::json!(["a", "b"]),
            serde_json::json!("a,b"),
        ] {
            let c = config(serde_json::json!({"materialized": "incremental", "unique_key": form}));
            let Materialization::Incremental(spec) = resolve(ResourceType::Model, &c).unwrap()
            else {
                panic!("incremental")
            };
            assert_eq!(spec.unique_key, vec!["a", "b"]);
            assert_eq!(spec.strategy, Strategy::Merge);
        }
    }

    #[test]
    fn schema_evolution_modes_in_either_spelling() {
        assert_eq!(
            SchemaEvolution::parse("addNewColumns"),
            Ok(SchemaEvolution::AddNewColumns)
        );
        assert_eq!(
            SchemaEvolution::parse("fail_on_new_columns"),
            Ok(SchemaEvolution::FailOnNewColumns)
        );
        assert_eq!(
            SchemaEvolution::parse("RESCUE"),
            Ok(SchemaEvolution::Rescue)
        );
        let err = SchemaEvolution::parse("rescu").unwrap_err();
        assert!(
            err.message.contains("did you mean 'rescue'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn cdc_settings() {
        let c = config(serde_json::json!({
            "materialized": "cdc", "keys": ["id"], "sequence_by": "seq",
            "apply_as_deletes": "op = 'DELETE'", "except_column_list": ["op"],
            "stored_as_scd_type": 2, "track_history_column_list": "status"
        }));
        let Materialization::Cdc(spec) = resolve(ResourceType::Model, &c).unwrap() else {
            panic!("cdc")
        };
        assert_eq!(spec.keys, vec!["id"]);
        assert_eq!(spec.sequence_by, vec!["seq"]);
        assert_eq!(spec.apply_as_deletes.as_deref(), Some("op = 'DELETE'"));
        assert_eq!(spec.columns, ColumnSelection::Except(vec!["op".into()]));
        assert_eq!(spec.scd_type, ScdType::Two);
        assert!(spec.track_history.contains("status") && !spec.track_history.contains("x"));
        assert_eq!(spec.tombstone_retention_hours, 168);
        for (bad, key) in [
            (
                serde_json::json!({"materialized": "cdc", "sequence_by": "s"}),
                "materialized",
            ),
            (
                serde_json::json!({"materialized": "cdc", "keys": "id", "sequence_by": "s", "stored_as_scd_type": 3}),
                "stored_as_scd_type",
            ),
            (
                serde_json::json!({"materialized": "cdc", "keys": "id", "sequence_by": "s", "stored_as_scd_type": 2, "apply_as_truncates": "op = 'T'"}),
                "apply_as_truncates",
            ),
            (
                serde_json::json!({"materialized": "cdc", "keys": "id", "sequence_by": "s", "column_list": "a", "except_column_list": "b"}),
                "column_list",
            ),
        ] {
            assert_eq!(
                resolve(ResourceType::Model, &config(bad)).unwrap_err().key,
                key
            );
        }
    }

    #[test]
    fn typos_name_the_allowed_values() {
        let c = config(serde_json::json!({
            "materialized": "incremental", "unique_key": "id", "incremental_strategy": "merg"
        }));
        let err = resolve(ResourceType::Model, &c).unwrap_err();
        assert_eq!(err.key, "incremental_strategy");
        assert_eq!(
            err.message,
            "incremental_strategy 'merg' is not one of append, merge, delete+insert, microbatch (did you mean 'merge'?)"
        );
        let c = config(serde_json::json!({"materialized": "tabel"}));
        assert!(
            resolve(ResourceType::Model, &c)
                .unwrap_err()
                .message
                .contains("did you mean 'table'")
        );
        let c = config(
            serde_json::json!({"unique_key": "id", "updated_at": "u", "hard_deletes": "invalid"}),
        );
        assert_eq!(
            resolve(ResourceType::Snapshot, &c).unwrap_err().key,
            "hard_deletes"
        );
        let c = config(serde_json::json!({"warn_if": "about 3"}));
        assert_eq!(resolve(ResourceType::Test, &c).unwrap_err().key, "warn_if");
    }

    #[test]
    fn merge_without_a_key_is_refused() {
        let c = config(
            serde_json::json!({"materialized": "incremental", "incremental_strategy": "merge"}),
        );
        assert!(
            resolve(ResourceType::Model, &c)
                .unwrap_err()
                .message
                .contains("needs a unique_key")
        );
    }

    #[test]
    fn conditions() {
        let holds = |c: &str, n| Condition::parse(c).unwrap().holds(n);
        assert!(holds("!=0", 3));
        assert!(!holds("!=0", 0));
        assert!(holds(">= 10", 10));
        assert!(!holds(">10", 10));
        assert!(holds("<5", 4));
        assert!(Condition::parse("abc").is_err());
    }

    #[test]
    fn batch_sizes_step() {
        let t = Utc.with_ymd_and_hms(2024, 1, 30, 13, 20, 0).unwrap();
        assert_eq!(
            BatchSize::Month.truncate(t),
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            BatchSize::Day.advance(BatchSize::Day.truncate(t)),
            Utc.with_ymd_and_hms(2024, 1, 31, 0, 0, 0).unwrap()
        );
        assert_eq!(
            BatchSize::Hour.retreat(BatchSize::Hour.truncate(t)),
            Utc.with_ymd_and_hms(2024, 1, 30, 12, 0, 0).unwrap()
        );
    }
}
