//! Properties files (`models/**/*.yml`): descriptions, columns, tests, sources.

use std::path::Path;

use serde::Deserialize;

use crate::error::{ProjectError, Result};

#[derive(Debug, Default, Deserialize)]
pub struct PropertiesFile {
    #[serde(default)]
    pub models: Vec<NodeProps>,
    #[serde(default)]
    pub seeds: Vec<NodeProps>,
    #[serde(default)]
    pub snapshots: Vec<NodeProps>,
    #[serde(default)]
    pub sources: Vec<SourceProps>,
    #[serde(default)]
    pub(crate) unit_tests: Vec<crate::unit_tests::UnitTestProps>,
}

impl PropertiesFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ProjectError::io(path, e))?;
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(path, &e))
    }
}

/// Properties of a model, seed or snapshot.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeProps {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: serde_yaml::Mapping,
    #[serde(default)]
    pub columns: Vec<ColumnProps>,
    #[serde(default)]
    pub tests: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub data_tests: Vec<serde_yaml::Value>,
    /// Named row conditions with what to do with rows that break them.
    #[serde(default)]
    pub expectations: Vec<Expectation>,
}

/// An expectation, as in Databricks' declarative pipelines: a SQL condition every row should
/// meet, and what to do with a row that does not.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Expectation {
    pub name: String,
    /// A SQL boolean expression over the model's columns. NULL counts as a violation.
    #[serde(alias = "expect", alias = "condition")]
    pub expression: String,
    #[serde(default)]
    pub on_violation: OnViolation,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnViolation {
    /// Keep the row; count it in the event log.
    #[default]
    Warn,
    /// Move the row to the model's quarantine table.
    Drop,
    /// Stop the model (and its downstream).
    Fail,
}

impl NodeProps {
    pub fn all_tests(&self) -> impl Iterator<Item = &serde_yaml::Value> {
        self.tests.iter().chain(self.data_tests.iter())
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ColumnProps {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing)]
    pub tests: Vec<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub data_tests: Vec<serde_yaml::Value>,
}

impl ColumnProps {
    pub fn all_tests(&self) -> impl Iterator<Item = &serde_yaml::Value> {
        self.tests.iter().chain(self.data_tests.iter())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceProps {
    pub name: String,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub freshness: Option<serde_yaml::Value>,
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    #[serde(default)]
    pub meta: Option<serde_yaml::Value>,
    #[serde(default)]
    pub tables: Vec<SourceTableProps>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceTableProps {
    pub name: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A path or glob of CSV, Parquet or NDJSON files, relative to the project root.
    #[serde(default)]
    pub external_location: Option<String>,
    /// The dbt-external-tables form: `external: {location: ..., file_format: ...}`.
    #[serde(default)]
    pub external: Option<ExternalProps>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub freshness: Option<serde_yaml::Value>,
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    #[serde(default)]
    pub meta: Option<serde_yaml::Value>,
    #[serde(default)]
    pub columns: Vec<ColumnProps>,
    #[serde(default)]
    pub tests: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub data_tests: Vec<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExternalProps {
    pub location: String,
    #[serde(default)]
    pub file_format: Option<String>,
}
