//! dbt unit tests (`unit_tests:` in properties files, dbt 1.8's format): a model's SQL run on
//! rows given for its inputs, its output compared with the rows expected.
//!
//! ```yaml
//! unit_tests:
//!   - name: big_orders_only
//!     model: big_orders
//!     given:
//!       - input: ref('orders')
//!         rows:
//!           - {id: 1, amount: 5}
//!           - {id: 2, amount: 500}
//!     expect:
//!       rows:
//!         - {id: 2}
//!     overrides:
//!       vars: {threshold: 100}
//!       macros: {is_incremental: false}
//! ```
//!
//! This module reads them and renders the model with each given input replaced by a CTE; the
//! engine fills those CTEs (typed like the real inputs where they are built) and compares.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::config::yaml_to_json;
use crate::error::{ProjectError, Result};
use crate::relation::{Relation, clean_identifier};
use crate::{Compiled, Project};

/// A unit test as written in YAML.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UnitTestProps {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub given: Vec<GivenProps>,
    pub expect: RowsProps,
    #[serde(default)]
    pub overrides: Option<OverridesProps>,
    #[serde(default)]
    pub config: serde_yaml::Mapping,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GivenProps {
    pub input: String,
    #[serde(flatten)]
    pub rows: RowsProps,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RowsProps {
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub rows: Option<serde_yaml::Value>,
    #[serde(default)]
    pub fixture: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct OverridesProps {
    #[serde(default)]
    pub macros: serde_yaml::Mapping,
    #[serde(default)]
    pub vars: serde_yaml::Mapping,
    #[serde(default)]
    pub env_vars: serde_yaml::Mapping,
}

/// Rows of a given input or of the expected output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", content = "rows", rename_all = "lowercase")]
pub enum Rows {
    /// `format: dict` (the default): one mapping per row; columns left out are null.
    Dict(Vec<serde_json::Map<String, Json>>),
    /// `format: csv`: a header line, then rows; an empty field is null.
    Csv(String),
    /// `format: sql`: a query that returns the rows.
    Sql(String),
}

/// What a given input stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GivenTarget {
    /// A model, seed or snapshot (unique id).
    Node(String),
    /// A source table (unique id).
    Source(String),
    /// The model's own table, for incremental runs.
    This,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Given {
    /// As written: `ref('orders')`.
    pub input: String,
    pub target: GivenTarget,
    pub rows: Rows,
}

/// A unit test, resolved: the model under test, its given inputs, what it must return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitTestSpec {
    /// Unique id of the model under test.
    pub model: String,
    pub given: Vec<Given>,
    pub expect: Rows,
    /// Values `is_incremental()` and other macros return in this test.
    pub macro_overrides: BTreeMap<String, Json>,
    pub var_overrides: BTreeMap<String, Json>,
    pub env_overrides: BTreeMap<String, String>,
}

impl Given {
    /// The name of the CTE that stands for this input in the compiled SQL.
    pub fn cte_name(&self) -> String {
        self.relation().cte_name()
    }

    fn relation(&self) -> Relation {
        let name = match &self.target {
            GivenTarget::This => "this".to_string(),
            GivenTarget::Node(id) | GivenTarget::Source(id) => clean_identifier(id),
        };
        let mut relation = Relation::new("unit_test", format!("given__{name}"));
        relation.ephemeral = true;
        relation
    }
}

/// Reads `rows`/`format`/`fixture` into [`Rows`]; fixtures live in `tests/fixtures/<name>.csv`
/// (or `.sql`) below the project root.
pub(crate) fn rows_of(root: &Path, props: &RowsProps, path: &Path, what: &str) -> Result<Rows> {
    let format = props
        .format
        .as_deref()
        .unwrap_or("dict")
        .to_ascii_lowercase();
    let text_of = |value: &Option<serde_yaml::Value>| -> Result<Option<String>> {
        match value {
            None => Ok(None),
            Some(serde_yaml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ProjectError::invalid(
                path,
                format!(
                    "{what}: `format: {format}` takes its rows as a block of text (`rows: |`), found {}",
                    serde_yaml::to_string(other).unwrap_or_default().trim()
                ),
            )),
        }
    };
    let fixture = |ext: &str| -> Result<Option<String>> {
        let Some(name) = &props.fixture else {
            return Ok(None);
        };
        let file = root.join("tests/fixtures").join(format!("{name}.{ext}"));
        std::fs::read_to_string(&file)
            .map(Some)
            .map_err(|e| ProjectError::io(file, e))
    };
    match format.as_str() {
        "dict" => match &props.rows {
            None => Ok(Rows::Dict(Vec::new())),
            Some(serde_yaml::Value::Sequence(items)) => items
                .iter()
                .map(|item| match yaml_to_json(item) {
                    Json::Object(map) => Ok(map),
                    other => Err(ProjectError::invalid(
                        path,
                        format!(
                            "{what}: each row must be a mapping of column to value, found {other}"
                        ),
                    )),
                })
                .collect::<Result<Vec<_>>>()
                .map(Rows::Dict),
            Some(other) => Err(ProjectError::invalid(
                path,
                format!(
                    "{what}: `rows` must be a list of mappings (or give `format: csv` / `format: sql`), found {}",
                    serde_yaml::to_string(other).unwrap_or_default().trim()
                ),
            )),
        },
        "csv" => Ok(Rows::Csv(
            text_of(&props.rows)?
                .or(fixture("csv")?)
                .unwrap_or_default(),
        )),
        "sql" => Ok(Rows::Sql(
            text_of(&props.rows)?
                .or(fixture("sql")?)
                .unwrap_or_default(),
        )),
        other => Err(ProjectError::invalid(
            path,
            format!("{what}: unknown format '{other}' (expected dict, csv or sql)"),
        )),
    }
}

/// Resolves `ref('x')`, `ref('package', 'x')`, `source('s', 't')` or `this`.
pub(crate) fn resolve_input(
    input: &str,
    names: &BTreeMap<String, String>,
    sources: &BTreeMap<(String, String), (String, Relation)>,
) -> std::result::Result<GivenTarget, String> {
    let text = input.trim();
    if text == "this" {
        return Ok(GivenTarget::This);
    }
    static ARGS: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r#"^(ref|source)\s*\((.*)\)$"#).expect("static regex"));
    static QUOTED: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r#"['"]([^'"]*)['"]"#).expect("static regex"));
    let (args, quoted) = (&*ARGS, &*QUOTED);
    let Some(caps) = args.captures(text) else {
        return Err(format!(
            "input '{text}' must be ref('model'), source('source', 'table') or this"
        ));
    };
    let parts: Vec<String> = quoted
        .captures_iter(&caps[2])
        .map(|c| c[1].to_string())
        .collect();
    match (&caps[1], parts.as_slice()) {
        ("ref", [name] | [_, name]) => names
            .get(name)
            .cloned()
            .map(GivenTarget::Node)
            .ok_or_else(|| format!("input {text}: no model, seed or snapshot named '{name}'")),
        ("source", [source, table]) => sources
            .get(&(source.clone(), table.clone()))
            .map(|(id, _)| GivenTarget::Source(id.clone()))
            .ok_or_else(|| format!("input {text}: no source table '{source}.{table}'")),
        _ => Err(format!("input '{text}': cannot read its arguments")),
    }
}

impl Project {
    /// The unit test nodes' model SQL, with every given input replaced by a CTE named
    /// [`Given::cte_name`] whose body is `bodies[i]` (the engine builds them, typed like the
    /// real inputs), vars and `is_incremental()` as the test overrides them.
    pub fn compile_unit_test(
        &self,
        spec: &UnitTestSpec,
        bodies: &[String],
        lookups: &Arc<crate::jinja::Lookups>,
    ) -> Result<Compiled> {
        let mut project = self.clone();
        let scope = Arc::make_mut(&mut project.scope);
        scope.vars.extend(spec.var_overrides.clone());
        scope.env_overrides = spec.env_overrides.clone();
        scope.macro_overrides = spec
            .macro_overrides
            .iter()
            .filter(|(k, _)| k.as_str() != "is_incremental")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for given in &spec.given {
            match &given.target {
                GivenTarget::Node(id) => {
                    scope.relations.insert(id.clone(), given.relation());
                }
                GivenTarget::Source(id) => {
                    for (source_id, relation) in scope.sources.values_mut() {
                        if source_id == id {
                            *relation = given.relation();
                        }
                    }
                }
                GivenTarget::This => {
                    if let Some(node) = project.nodes.get_mut(&spec.model) {
                        node.relation = Some(given.relation());
                    }
                }
            }
        }
        let is_incremental = spec
            .macro_overrides
            .get("is_incremental")
            .is_some_and(|v| v.as_bool().unwrap_or(false));
        let mut compiled =
            crate::load::compile(&project, &spec.model, is_incremental, None, Some(lookups))?;
        let ctes: Vec<String> = spec
            .given
            .iter()
            .zip(bodies)
            .map(|(given, body)| format!("{} as (\n{body}\n)", given.cte_name()))
            .collect();
        if !ctes.is_empty() {
            compiled.sql = crate::load::inject_ctes(&compiled.sql, &ctes);
        }
        Ok(compiled)
    }
}
