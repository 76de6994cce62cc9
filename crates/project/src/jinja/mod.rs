//! Jinja rendering in dbt's dialect, on minijinja.
//!
//! Each render gets its own [`Environment`]: the context functions (`ref`, `config`, `this`, ...)
//! are globals bound to the node being rendered, so user macros that call them see the right
//! node. The project's macros (plus the built-in ones a project may override) are one template,
//! `__macros__`, imported into every node, so a macro may call any other macro.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Value as Json;

use crate::config::Target;
use crate::error::{ProjectError, closest_name};
use crate::relation::{Relation, quote_ident};

mod adapter;
mod macros;

pub use adapter::{ColumnInfo, Lookups, QueryResult, Wanted};
pub use macros::{MacroLibrary, PackageMacros};

impl Object for Relation {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "schema" => Some(Value::from(self.schema.clone())),
            "name" | "identifier" | "table" => Some(Value::from(self.identifier.clone())),
            "database" => Some(Value::from("orderlake")),
            "is_cte" => Some(Value::from(self.ephemeral)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_ref(), f)
    }
}

/// What the whole project offers every render: names, relations, vars, macros, target.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Model, seed and snapshot names to unique ids.
    pub names: BTreeMap<String, String>,
    /// Unique id to relation, known after the parse phase.
    pub relations: BTreeMap<String, Relation>,
    /// (source name, table name) to (unique id, relation).
    pub sources: BTreeMap<(String, String), (String, Relation)>,
    pub vars: BTreeMap<String, Json>,
    pub macros: Arc<MacroLibrary>,
    pub target: Option<Target>,
    pub run_started_at: DateTime<Utc>,
    pub invocation_id: String,
    /// Unique id to the `event_time` column of nodes that have one (for microbatch filtering).
    pub event_times: BTreeMap<String, String>,
    /// Macros a unit test replaces by a value (`overrides: macros:`), by bare name.
    pub macro_overrides: BTreeMap<String, Json>,
    /// Environment variables a unit test sets (`overrides: env_vars:`).
    pub env_overrides: BTreeMap<String, String>,
    /// The environment every render starts from (see `base_environment`), built on first use.
    pub(crate) base: std::sync::OnceLock<Environment<'static>>,
}

/// Environment variables renders in this process have read, with the values they saw: a cached
/// parse is only valid while they still hold those values.
pub(crate) static ENV_READ: std::sync::Mutex<BTreeMap<String, Option<String>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Parse renders discover refs and configs; compile renders produce the SQL to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Parse,
    Compile,
}

/// What one render found out about its node.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    pub config: serde_json::Map<String, Json>,
    /// Columns and query results the render asked for and was not given.
    pub wanted: Wanted,
    failure: Option<Failure>,
}

#[derive(Debug, Clone)]
enum Failure {
    Ref(String, Option<String>),
    Source(String, String, Option<String>),
    Var(String),
}

/// The node a render is for.
pub struct RenderTarget<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub unique_id: &'a str,
    pub resource_type: &'a str,
    pub this: Option<Relation>,
    pub is_incremental: bool,
    /// Configuration known before the render (dbt_project.yml, properties), for `config.get`.
    pub config: &'a serde_json::Map<String, Json>,
    /// The batch being built, for microbatch models.
    pub batch: Option<&'a crate::Batch>,
    /// Answers to `adapter.get_columns_in_relation` and `run_query`.
    pub lookups: Option<Arc<Lookups>>,
}

/// Renders `source` (the node's raw code) with extra context values.
pub fn render(
    scope: &Arc<Scope>,
    phase: Phase,
    node: &RenderTarget<'_>,
    source: &str,
    extra: BTreeMap<String, Value>,
) -> Result<(String, Recorded), ProjectError> {
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let env = environment(scope, phase, node, recorded.clone(), source)?;
    let template = env
        .get_template(&node.path.to_string_lossy())
        .map_err(|e| template_error(scope, node.path, &e))?;
    let result = template.render(Value::from(extra));
    let recorded = lock(&recorded).clone();
    match result {
        Ok(sql) => Ok((sql, recorded)),
        Err(err) => Err(render_error(scope, node.path, &err, &recorded)),
    }
}

/// Renders a free-standing snippet (e.g. a call to `generate_schema_name`) with `ctx`.
pub fn render_snippet(
    scope: &Arc<Scope>,
    node: &RenderTarget<'_>,
    snippet: &str,
    ctx: BTreeMap<String, Value>,
) -> Result<String, ProjectError> {
    render(scope, Phase::Compile, node, snippet, ctx).map(|(s, _)| s)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The environment variables read so far, with the values seen.
pub(crate) fn env_read() -> BTreeMap<String, Option<String>> {
    lock(&ENV_READ).clone()
}

/// What every render shares: syntax, filters, pure functions and the macros (their templates
/// compiled once). Each render clones it — compiled templates are shared, not copied — and adds
/// the globals bound to its node.
fn base_environment(macros: &Arc<MacroLibrary>) -> Environment<'static> {
    let mut env = Environment::new();
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.keep_trailing_newline(true);
    if let Ok(config) = syntax.build() {
        env.set_syntax(config);
    }
    env.set_recursion_limit(200);
    // SQL is neither HTML nor JSON: minijinja would escape templates named `*.yml` as JSON.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    macros.register(&mut env);
    env.add_function(
        "log",
        |msg: Value, kwargs: Kwargs| -> Result<String, Error> {
            let info: Option<bool> = kwargs.get("info")?;
            if info.unwrap_or(false) {
                tracing::info!("{msg}");
            } else {
                tracing::debug!("{msg}");
            }
            Ok(String::new())
        },
    );
    env.add_function("tojson", |v: Value| -> Result<String, Error> {
        serde_json::to_string(&v)
            .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
    });
    env.add_function("fromjson", |s: String| -> Result<Value, Error> {
        let json: Json = serde_json::from_str(&s)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
        Ok(Value::from(minijinja::value::Serde(json)))
    });
    env.add_function("__orderlake_slugify", |s: String| -> String {
        let mut slug: String = s
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if slug.starts_with(|c: char| c.is_ascii_digit()) {
            slug.insert(0, '_');
        }
        slug
    });
    env.add_filter("as_text", |v: Value| v.to_string());
    env.add_filter("as_native", |v: Value| v);
    env.add_filter("as_bool", |v: Value| match v.as_str() {
        Some(s) => s.eq_ignore_ascii_case("true"),
        None => v.is_true(),
    });
    env.add_filter("as_number", |v: Value| -> Result<Value, Error> {
        match v.as_str() {
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.trim().parse::<f64>().map(Value::from))
                .map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("'{s}' is not a number"),
                    )
                }),
            None => Ok(v),
        }
    });
    env.add_global("exceptions", Value::from_object(Exceptions));
    // Compile the macro templates now, once; a broken one reports itself where it is used.
    for template in macros.template_names() {
        let _ = env.get_template(&template);
    }
    env
}

fn environment<'s>(
    scope: &'s Arc<Scope>,
    phase: Phase,
    node: &RenderTarget<'_>,
    recorded: Arc<Mutex<Recorded>>,
    source: &str,
) -> Result<Environment<'s>, ProjectError> {
    let mut env = scope
        .base
        .get_or_init(|| base_environment(&scope.macros))
        .clone();
    for (name, value) in &scope.macro_overrides {
        let value = Value::from(minijinja::value::Serde(value.clone()));
        env.add_global(
            name.clone(),
            Value::from_function(move |_args: &[Value]| -> Result<Value, Error> {
                Ok(value.clone())
            }),
        );
    }
    env.add_template_owned(node.path.to_string_lossy().into_owned(), source.to_string())
        .map_err(|e| template_error(scope, node.path, &e))?;

    // ref('name') / ref('package', 'name')
    {
        let recorded = recorded.clone();
        let scope = scope.clone();
        let batch = node.batch.cloned();
        env.add_function("ref", move |args: &[Value]| -> Result<Value, Error> {
            let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
            let _ = kwargs.get::<Option<Value>>("v");
            let _ = kwargs.get::<Option<Value>>("version");
            let name = match positional {
                [name] | [_, name] => name.to_string(),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "ref() takes a model name, or a package and a model name",
                    ));
                }
            };
            let Some(unique_id) = scope.names.get(&name) else {
                let closest = closest_name(&name, scope.names.keys().map(String::as_str));
                lock(&recorded).failure = Some(Failure::Ref(name.clone(), closest));
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("ref('{name}') does not name a model, seed or snapshot"),
                ));
            };
            lock(&recorded).refs.push(name.clone());
            let relation = scope
                .relations
                .get(unique_id)
                .cloned()
                .unwrap_or_else(|| Relation::new("__pending__", name));
            // In a microbatch, upstream models with an event time are read one batch at a time.
            if let (Some(batch), Some(column)) = (&batch, scope.event_times.get(unique_id)) {
                let column = quote_ident(column);
                return Ok(Value::from(format!(
                    "(select * from {relation} where {column} >= timestamp '{}' and {column} < timestamp '{}')",
                    batch.start, batch.end
                )));
            }
            Ok(Value::from_object(relation))
        });
    }

    // source('source_name', 'table_name')
    {
        let recorded = recorded.clone();
        let scope = scope.clone();
        env.add_function(
            "source",
            move |source_name: String, table: String| -> Result<Value, Error> {
                match scope.sources.get(&(source_name.clone(), table.clone())) {
                    Some((_, relation)) => {
                        lock(&recorded).sources.push((source_name, table));
                        Ok(Value::from_object(relation.clone()))
                    }
                    None => {
                        let all: Vec<String> = scope
                            .sources
                            .keys()
                            .map(|(s, t)| format!("{s}.{t}"))
                            .collect();
                        let closest = closest_name(
                            &format!("{source_name}.{table}"),
                            all.iter().map(String::as_str),
                        );
                        lock(&recorded).failure =
                            Some(Failure::Source(source_name.clone(), table.clone(), closest));
                        Err(Error::new(
                            ErrorKind::InvalidOperation,
                            format!("source('{source_name}', '{table}') is not defined"),
                        ))
                    }
                }
            },
        );
    }

    env.add_global(
        "config",
        Value::from_object(ConfigCall {
            recorded: recorded.clone(),
            known: node.config.clone(),
        }),
    );

    {
        let recorded = recorded.clone();
        let scope = scope.clone();
        env.add_function(
            "var",
            move |name: String, default: Option<Value>| -> Result<Value, Error> {
                if let Some(v) = scope.vars.get(&name) {
                    return Ok(Value::from(minijinja::value::Serde(v.clone())));
                }
                match default {
                    Some(d) => Ok(d),
                    None => {
                        lock(&recorded).failure = Some(Failure::Var(name.clone()));
                        Err(Error::new(
                            ErrorKind::InvalidOperation,
                            format!("var('{name}') is not set"),
                        ))
                    }
                }
            },
        );
    }

    let env_overrides = scope.env_overrides.clone();
    env.add_function(
        "env_var",
        move |name: String, default: Option<Value>| -> Result<Value, Error> {
            if let Some(v) = env_overrides.get(&name) {
                return Ok(Value::from(v.clone()));
            }
            let value = std::env::var(&name).ok();
            lock(&ENV_READ).insert(name.clone(), value.clone());
            match value {
                Some(v) => Ok(Value::from(v)),
                None => default.ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("env_var('{name}') is not set and has no default"),
                    )
                }),
            }
        },
    );

    let is_incremental = node.is_incremental;
    env.add_function("is_incremental", move || is_incremental);

    env.add_global("execute", phase == Phase::Compile);
    env.add_global("invocation_id", scope.invocation_id.clone());
    env.add_global(
        "run_started_at",
        Value::from_object(Timestamp(scope.run_started_at)),
    );
    let adapter = Arc::new(adapter::Adapter {
        scope: scope.clone(),
        lookups: node.lookups.clone().unwrap_or_default(),
        recorded: recorded.clone(),
    });
    env.add_global("adapter", Value::from_dyn_object(adapter.clone()));
    env.add_function("run_query", move |sql: String| -> Value {
        adapter::run_query(&adapter, &sql)
    });
    env.add_global(
        "this",
        node.this
            .clone()
            .map(Value::from_object)
            .unwrap_or(Value::from(())),
    );
    if let Some(target) = &scope.target {
        let mut t = BTreeMap::new();
        t.insert("name", Value::from(target.name.clone()));
        t.insert("schema", Value::from(target.schema.clone()));
        t.insert("database", Value::from("orderlake"));
        t.insert("type", Value::from("orderlake"));
        t.insert("threads", Value::from(target.threads));
        t.insert("profile_name", Value::from("orderlake"));
        env.add_global("target", Value::from(t));
    }
    let mut model = BTreeMap::new();
    model.insert("name", Value::from(node.name.to_string()));
    model.insert("unique_id", Value::from(node.unique_id.to_string()));
    model.insert("resource_type", Value::from(node.resource_type.to_string()));
    model.insert(
        "path",
        Value::from(node.path.to_string_lossy().into_owned()),
    );
    model.insert(
        "config",
        Value::from(minijinja::value::Serde(Json::Object(node.config.clone()))),
    );
    if let Some(batch) = node.batch {
        let mut b = BTreeMap::new();
        b.insert("event_time_start", Value::from(batch.start.clone()));
        b.insert("event_time_end", Value::from(batch.end.clone()));
        model.insert("batch", Value::from(b));
    }
    env.add_global("model", Value::from(model));
    Ok(env)
}

/// `config(...)` records configuration; `config.get(key, default)` reads it.
#[derive(Debug)]
struct ConfigCall {
    recorded: Arc<Mutex<Recorded>>,
    known: serde_json::Map<String, Json>,
}

impl ConfigCall {
    fn lookup(&self, key: &str) -> Option<Json> {
        lock(&self.recorded)
            .config
            .get(key)
            .cloned()
            .or_else(|| self.known.get(key).cloned())
    }
}

impl Object for ConfigCall {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let mut rec = lock(&self.recorded);
        // config({'materialized': 'table'}) is also accepted.
        for arg in positional {
            let json = serde_json::to_value(arg)
                .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            if let Json::Object(map) = json {
                rec.config.extend(map);
            }
        }
        for key in kwargs.args().map(str::to_string).collect::<Vec<_>>() {
            let value: Value = kwargs.get(&key)?;
            let json = serde_json::to_value(&value)
                .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            rec.config.insert(key, json);
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" => {
                let (key, default): (String, Option<Value>) = from_args(args)?;
                Ok(self
                    .lookup(&key)
                    .map(|j| Value::from(minijinja::value::Serde(j)))
                    .or(default)
                    .unwrap_or(Value::from(())))
            }
            "require" => {
                let (key,): (String,) = from_args(args)?;
                self.lookup(&key)
                    .map(|j| Value::from(minijinja::value::Serde(j)))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("config '{key}' is required"),
                        )
                    })
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("")
    }
}

/// `run_started_at`: prints as ISO 8601 and has `strftime` and `isoformat`.
#[derive(Debug)]
struct Timestamp(DateTime<Utc>);

impl Object for Timestamp {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                Ok(Value::from(self.0.format(&fmt).to_string()))
            }
            "isoformat" => Ok(Value::from(self.0.to_rfc3339())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.6f+00:00"))
    }
}

/// `exceptions.raise_compiler_error(msg)` and `exceptions.warn(msg)`.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (msg,): (String,) = from_args(args)?;
        match method {
            "raise_compiler_error" => Err(Error::new(ErrorKind::InvalidOperation, msg)),
            "warn" => {
                tracing::warn!("{msg}");
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn template_error(scope: &Scope, path: &Path, err: &Error) -> ProjectError {
    let (path, line) = error_location(scope, path, err);
    ProjectError::Template {
        path,
        line,
        message: error_message(err),
    }
}

fn error_location(scope: &Scope, path: &Path, err: &Error) -> (PathBuf, usize) {
    let line = err.line().unwrap_or(1);
    err.name()
        .and_then(|name| scope.macros.locate(name, line))
        .unwrap_or_else(|| (path.to_path_buf(), line))
}

fn error_message(err: &Error) -> String {
    let mut message = err
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| err.kind().to_string());
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(e) = inner.downcast_ref::<Error>()
            && let Some(d) = e.detail()
        {
            message = format!("{message}: {d}");
        }
        source = inner.source();
    }
    message
}

fn render_error(scope: &Scope, path: &Path, err: &Error, recorded: &Recorded) -> ProjectError {
    // The innermost error has the line where the failing call is.
    let mut innermost = err;
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(e) = inner.downcast_ref::<Error>() {
            innermost = e;
        }
        source = inner.source();
    }
    let (path, line) = error_location(scope, path, innermost);
    match recorded.failure.clone() {
        Some(Failure::Ref(name, closest)) => ProjectError::MissingRef {
            path,
            line,
            name,
            closest,
        },
        Some(Failure::Source(source_name, table, closest)) => ProjectError::MissingSource {
            path,
            line,
            source_name,
            table,
            closest,
        },
        Some(Failure::Var(name)) => ProjectError::MissingVar { path, line, name },
        None => ProjectError::Template {
            path,
            line,
            message: error_message(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with(macros: &[(&str, &str)]) -> Arc<Scope> {
        scope_with_packages(macros, &[])
    }

    fn scope_with_packages(macros: &[(&str, &str)], local: &[PackageMacros]) -> Arc<Scope> {
        let files: Vec<(PathBuf, String)> = macros
            .iter()
            .map(|(p, s)| (PathBuf::from(p), s.to_string()))
            .collect();
        let bundled = crate::packages::Packages {
            folders: Vec::new(),
            bundled: vec!["dbt".into(), "dbt_utils".into()],
        };
        let mut packages = bundled.macros(Path::new(".")).unwrap();
        packages.extend(local.iter().cloned());
        let mut scope = Scope {
            macros: Arc::new(MacroLibrary::build_with_packages(&files, &packages)),
            ..Default::default()
        };
        scope.names.insert("orders".into(), "model.p.orders".into());
        scope
            .relations
            .insert("model.p.orders".into(), Relation::new("main", "orders"));
        scope
            .vars
            .insert("methods".into(), serde_json::json!(["card", "cash"]));
        Arc::new(scope)
    }

    fn target<'a>(path: &'a Path, config: &'a serde_json::Map<String, Json>) -> RenderTarget<'a> {
        RenderTarget {
            path,
            name: "m",
            unique_id: "model.p.m",
            resource_type: "model",
            this: Some(Relation::new("main", "m")),
            is_incremental: false,
            config,
            batch: None,
            lookups: None,
        }
    }

    #[test]
    fn renders_refs_vars_macros_and_records_config() {
        let scope = scope_with(&[(
            "macros/cents.sql",
            "{% macro cents_to_dollars(col) %}({{ col }} / 100){% endmacro %}\n{% macro twice(c) %}{{ cents_to_dollars(c) }} * 2{% endmacro %}",
        )]);
        let cfg = serde_json::Map::new();
        let path = PathBuf::from("models/m.sql");
        let src = "{{ config(materialized='table', tags=['a']) }}select {% for m in var('methods') %}{{ m }}{% if not loop.last %}, {% endif %}{% endfor %}, {{ twice('amount') }} from {{ ref('orders') }} -- {{ this }}";
        let (sql, rec) = render(
            &scope,
            Phase::Compile,
            &target(&path, &cfg),
            src,
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            sql,
            "select card, cash, (amount / 100) * 2 from \"main\".\"orders\" -- \"main\".\"m\""
        );
        assert_eq!(rec.refs, vec!["orders"]);
        assert_eq!(rec.config["materialized"], "table");
    }

    #[test]
    fn missing_ref_names_line_and_closest() {
        let scope = scope_with(&[]);
        let cfg = serde_json::Map::new();
        let path = PathBuf::from("models/m.sql");
        let err = render(
            &scope,
            Phase::Parse,
            &target(&path, &cfg),
            "select 1\nfrom {{ ref('order') }}",
            BTreeMap::new(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, ProjectError::MissingRef { line: 2, .. }),
            "{msg}"
        );
        assert!(msg.contains("models/m.sql:2"), "{msg}");
        assert!(msg.contains("did you mean 'orders'"), "{msg}");
    }

    #[test]
    fn project_macro_overrides_builtin_and_errors_point_into_macro_files() {
        let scope = scope_with(&[
            (
                "macros/schema.sql",
                "{% macro generate_schema_name(custom_schema_name, node) %}{{ custom_schema_name | trim }}{% endmacro %}",
            ),
            (
                "macros/bad.sql",
                "\n\n{% macro boom() %}{{ exceptions.raise_compiler_error('no') }}{% endmacro %}",
            ),
        ]);
        let cfg = serde_json::Map::new();
        let path = PathBuf::from("models/m.sql");
        let out = render_snippet(
            &scope,
            &target(&path, &cfg),
            "{{ generate_schema_name(' gold ', none) }}",
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(out, "gold");
        let err = render_snippet(
            &scope,
            &target(&path, &cfg),
            "{{ boom() }}",
            BTreeMap::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("macros/bad.sql:3"), "{err}");
    }

    fn compile(scope: &Arc<Scope>, src: &str, lookups: Option<Lookups>) -> (String, Recorded) {
        let cfg = serde_json::Map::new();
        let path = PathBuf::from("models/m.sql");
        let mut node = target(&path, &cfg);
        node.lookups = lookups.map(Arc::new);
        render(scope, Phase::Compile, &node, src, BTreeMap::new()).unwrap()
    }

    #[test]
    fn macros_return_values_and_the_first_return_wins() {
        let scope = scope_with(&[(
            "macros/m.sql",
            "{% macro cols() %}{{ return(['a', 'b']) }}{% endmacro %}\n{% macro pick(x) %}{% if x %}{{ return('yes') }}{% endif %}{{ return('no') }}{% endmacro %}\n{% macro both() %}{{ return(cols() | length) }}{% endmacro %}",
        )]);
        let (sql, _) = compile(
            &scope,
            "{% for c in cols() %}{{ c }}{% endfor %} {{ pick(true) }} {{ pick(false) }} {{ both() }}",
            None,
        );
        assert_eq!(sql, "ab yes no 2");
    }

    #[test]
    fn package_macros_are_namespaced_and_call_their_siblings() {
        let local = PackageMacros {
            name: "acme".into(),
            files: vec![(
                PathBuf::from("../acme/macros/a.sql"),
                "{% macro inner() %}{{ return([1, 2, 3]) }}{% endmacro %}{% macro outer() %}{{ inner() | sum }}{% endmacro %}{% macro default__greet(n) %}hi {{ n }}{% endmacro %}".into(),
            )],
        };
        let scope = scope_with_packages(&[], &[local]);
        let (sql, _) = compile(
            &scope,
            "{{ acme.outer() }} {{ adapter.dispatch('greet', 'acme')('bo') }} {{ dbt.type_string() }} {{ type_string() }}",
            None,
        );
        assert_eq!(sql, "6 hi bo varchar varchar");
    }

    #[test]
    fn dbt_utils_star_asks_for_columns_then_uses_them() {
        let scope = scope_with(&[]);
        let src = "select {{ dbt_utils.star(ref('orders'), except=['Secret']) }}, {{ dbt_utils.generate_surrogate_key(['id', 'day']) }} as k from {{ ref('orders') }}";
        let (_, recorded) = compile(&scope, src, None);
        let key = "\"main\".\"orders\"".to_string();
        assert_eq!(recorded.wanted.columns.iter().collect::<Vec<_>>(), [&key]);
        let mut lookups = Lookups::default();
        lookups.columns.insert(
            key,
            ["id", "secret", "amount"]
                .map(|n| ColumnInfo {
                    name: n.into(),
                    data_type: "BIGINT".into(),
                })
                .to_vec(),
        );
        let (listed, _) = compile(
            &scope,
            "{{ dbt_utils.get_filtered_columns_in_relation(ref('orders'), except=['SECRET']) | join(',') }}",
            Some(lookups.clone()),
        );
        assert_eq!(listed, "id,amount");
        let (sql, recorded) = compile(&scope, src, Some(lookups));
        assert!(recorded.wanted.is_empty());
        assert_eq!(
            sql,
            "select \"id\",\n  \"amount\", md5(cast(concat(coalesce(cast(id as varchar), '_dbt_utils_surrogate_key_null_'), '-', coalesce(cast(day as varchar), '_dbt_utils_surrogate_key_null_')) as varchar)) as k from \"main\".\"orders\""
        );
    }

    #[test]
    fn run_query_results_reach_get_column_values() {
        let scope = scope_with(&[]);
        let src =
            "{{ dbt_utils.pivot('status', dbt_utils.get_column_values(ref('orders'), 'status')) }}";
        let (_, recorded) = compile(&scope, src, None);
        let query = recorded.wanted.queries.iter().next().cloned().unwrap();
        assert!(
            query.starts_with("select status as value from \"main\".\"orders\""),
            "{query}"
        );
        let mut lookups = Lookups::default();
        lookups.queries.insert(
            query,
            QueryResult {
                columns: vec!["value".into()],
                rows: vec![vec![Json::from("paid")], vec![Json::from("it's")]],
            },
        );
        let (sql, _) = compile(&scope, src, Some(lookups));
        assert_eq!(
            sql,
            "sum(case when status = 'paid' then 1 else 0 end) as \"paid\",\n  sum(case when status = 'it''s' then 1 else 0 end) as \"it's\""
        );
    }

    #[test]
    fn test_blocks_become_macros() {
        assert_eq!(
            macros::rewrite_blocks("{% test is_even(model, column_name) %}x{% endtest %}"),
            "{% macro test_is_even(model, column_name) %}x{% endmacro %}"
        );
    }
}
