//! `adapter` and `run_query`: what a template may ask of the warehouse while it compiles.
//!
//! Rendering never waits on the warehouse (this crate has no engine). A template that asks for
//! the columns of a relation or for a query's result gets what the caller supplied in
//! [`Lookups`]; whatever is missing is recorded in [`Wanted`] and answered empty for now, and the
//! caller renders again once it has fetched it. The engine repeats that until nothing more is
//! wanted; rendering is pure, so a second render only differs by the answers it was given.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};
use serde::Serialize;
use serde_json::Value as Json;

use super::{Recorded, Scope, lock};
use crate::relation::quote_ident;

/// Answers a render may use: relation columns and query results, keyed by what was asked.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// Keyed by the relation as it renders in SQL (`"main"."orders"`).
    pub columns: BTreeMap<String, Vec<ColumnInfo>>,
    /// Keyed by the query's SQL text.
    pub queries: BTreeMap<String, QueryResult>,
}

/// A column as `adapter.get_columns_in_relation` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
}

/// The rows of a `run_query`, with their column names; values as JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

/// What a render asked for that [`Lookups`] did not have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Relations (as SQL text) whose columns are wanted.
    pub columns: BTreeSet<String>,
    /// Queries whose results are wanted.
    pub queries: BTreeSet<String>,
}

impl Wanted {
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.queries.is_empty()
    }

    pub fn extend(&mut self, other: Wanted) {
        self.columns.extend(other.columns);
        self.queries.extend(other.queries);
    }
}

/// The global `adapter`.
#[derive(Debug)]
pub(super) struct Adapter {
    pub(super) scope: Arc<Scope>,
    pub(super) lookups: Arc<Lookups>,
    pub(super) recorded: Arc<Mutex<Recorded>>,
}

impl Adapter {
    pub(super) fn columns(&self, relation: &Value) -> Value {
        let key = relation.to_string();
        match self.lookups.columns.get(&key) {
            Some(columns) => Value::from_iter(columns.iter().map(column_value)),
            None => {
                lock(&self.recorded).wanted.columns.insert(key);
                Value::from(Vec::<Value>::new())
            }
        }
    }
}

fn column_value(column: &ColumnInfo) -> Value {
    let mut map = BTreeMap::new();
    map.insert("name", Value::from(column.name.clone()));
    map.insert("column", Value::from(column.name.clone()));
    map.insert("quoted", Value::from(quote_ident(&column.name)));
    map.insert("data_type", Value::from(column.data_type.clone()));
    map.insert("dtype", Value::from(column.data_type.clone()));
    Value::from(map)
}

impl Object for Adapter {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "dispatch" => {
                let (name, namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let namespace = namespace.or(kwargs.get::<Option<String>>("macro_namespace")?);
                kwargs.assert_all_used()?;
                self.scope
                    .macros
                    .dispatch(&name, namespace.as_deref())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::UnknownFunction,
                            format!(
                                "adapter.dispatch('{name}'): no macro orderlake__{name}, duckdb__{name}, postgres__{name} or default__{name}{}",
                                namespace.map(|n| format!(" in '{n}' or the project")).unwrap_or_default()
                            ),
                        )
                    })
            }
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                Ok(self.columns(&relation))
            }
            "quote" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(quote_ident(&name)))
            }
            "get_relation" => {
                let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let get = |i: usize, key: &str| -> Result<Option<String>, Error> {
                    match positional.get(i) {
                        Some(v) => Ok(v.as_str().map(str::to_string)),
                        None => kwargs.get::<Option<String>>(key),
                    }
                };
                let (schema, identifier) = (get(1, "schema")?, get(2, "identifier")?);
                let found = self.scope.relations.values().find(|r| {
                    Some(&r.schema) == schema.as_ref() && Some(&r.identifier) == identifier.as_ref()
                });
                Ok(found
                    .cloned()
                    .map(Value::from_object)
                    .unwrap_or(Value::from(())))
            }
            "type" => Ok(Value::from("orderlake")),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("adapter.{method} is not supported by orderlake"),
            )),
        }
    }
}

/// `run_query(sql)`: the result if the caller supplied it, else an empty table (and the query
/// is recorded as wanted).
pub(super) fn run_query(adapter: &Adapter, sql: &str) -> Value {
    let sql = sql.trim().to_string();
    match adapter.lookups.queries.get(&sql) {
        Some(result) => Value::from_object(Table(result.clone())),
        None => {
            lock(&adapter.recorded).wanted.queries.insert(sql);
            Value::from_object(Table(QueryResult::default()))
        }
    }
}

fn json_value(v: &Json) -> Value {
    Value::from(minijinja::value::Serde(v.clone()))
}

/// A query result in the shape dbt's agate tables have: `columns[i].values()`, `rows`,
/// `column_names`, iteration over rows.
#[derive(Debug)]
struct Table(QueryResult);

impl Object for Table {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.row(i);
        }
        match key.as_str()? {
            "rows" => Some(Value::from_iter(
                (0..self.0.rows.len()).filter_map(|i| self.row(i)),
            )),
            "columns" => Some(Value::from_iter((0..self.0.columns.len()).map(|i| {
                Value::from_object(TableColumn {
                    name: self.0.columns[i].clone(),
                    values: self
                        .0
                        .rows
                        .iter()
                        .map(|r| r.get(i).map(json_value).unwrap_or(Value::from(())))
                        .collect(),
                })
            }))),
            "column_names" => Some(Value::from_iter(self.0.columns.iter().cloned())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl Table {
    fn row(&self, i: usize) -> Option<Value> {
        let row = self.0.rows.get(i)?;
        Some(Value::from_object(Row {
            columns: self.0.columns.clone(),
            values: row.iter().map(json_value).collect(),
        }))
    }
}

/// One row: indexable by position or by column name.
#[derive(Debug)]
struct Row {
    columns: Vec<String>,
    values: Vec<Value>,
}

impl Object for Row {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        let name = key.as_str()?;
        let i = self.columns.iter().position(|c| c == name)?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }
}

/// One column of a result: `name` and `values()`.
#[derive(Debug)]
struct TableColumn {
    name: String,
    values: Vec<Value>,
}

impl Object for TableColumn {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values.clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<column {}>", self.name)
    }
}
