//! The warehouse over the PostgreSQL wire protocol, read-only: psql, psycopg, SQLAlchemy,
//! pandas, JDBC and Npgsql clients (Metabase, Power BI, Grafana) query the tables directly.
//!
//! Simple and extended query protocols, SCRAM-SHA-256 password authentication, every schema
//! of the warehouse with a `pg_catalog` that describes it. Each statement plans and runs on
//! the snapshot current when it was parsed, and results stream batch by batch.

pub mod catalog;
pub mod connection;
pub mod copy;
pub mod encode;
pub mod functions;
pub mod rewrite;
pub mod session;
pub mod tls;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::StreamExt;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo,
    QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::{ClientInfo, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use tokio::net::TcpListener;

use crate::live::{Live, Snapshot};
use session::Command;

/// SCRAM iterations, as PostgreSQL's default.
const SCRAM_ITERATIONS: usize = 4096;

/// A login and its password.
#[derive(Clone)]
pub struct PgUser {
    pub name: String,
    pub password: String,
}

impl PgUser {
    /// Parses `name:password`.
    pub fn parse(text: &str) -> Option<PgUser> {
        let (name, password) = text.split_once(':')?;
        if name.is_empty() || password.is_empty() {
            return None;
        }
        Some(PgUser {
            name: name.to_string(),
            password: password.to_string(),
        })
    }
}

impl Debug for PgUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgUser({})", self.name)
    }
}

/// Salted SCRAM secrets, computed once: the passwords themselves are not kept.
#[derive(Debug)]
struct Users {
    secrets: HashMap<String, (Vec<u8>, Vec<u8>)>,
    /// Answered for unknown users so their attempt fails like a wrong password.
    decoy: (Vec<u8>, Vec<u8>),
}

fn salt() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes()[..16].to_vec()
}

impl Users {
    fn new(users: &[PgUser]) -> Users {
        let secrets = users
            .iter()
            .map(|u| {
                let salt = salt();
                let hashed = gen_salted_password(&u.password, &salt, SCRAM_ITERATIONS);
                (u.name.clone(), (salt, hashed))
            })
            .collect();
        let decoy_salt = salt();
        let decoy_password = uuid::Uuid::new_v4().to_string();
        let decoy = (
            decoy_salt.clone(),
            gen_salted_password(&decoy_password, &decoy_salt, SCRAM_ITERATIONS),
        );
        Users { secrets, decoy }
    }
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let (salt, hashed) = login
            .user()
            .and_then(|u| self.secrets.get(u))
            .unwrap_or(&self.decoy);
        Ok(Password::new(Some(salt.clone()), hashed.clone()))
    }
}

/// A statement as parsed: how it will be answered and, for a query, its plan.
#[derive(Clone)]
pub enum Prepared {
    Query {
        plan: Box<LogicalPlan>,
        snapshot: Arc<Snapshot>,
        params: Vec<Option<DataType>>,
    },
    Session(Command),
    /// `COPY (query) TO STDOUT`: the query's rows in a COPY format.
    Copy {
        plan: Box<LogicalPlan>,
        snapshot: Arc<Snapshot>,
        format: copy::CopyFormat,
    },
}

impl Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prepared::Query { plan, .. } => write!(f, "Query({})", plan.display()),
            Prepared::Copy { plan, format, .. } => {
                write!(f, "Copy({format:?}, {})", plan.display())
            }
            Prepared::Session(command) => write!(f, "{command:?}"),
        }
    }
}

/// Parses, rewrites and plans statements on the live warehouse.
pub struct SqlParser {
    live: Arc<Live>,
    connections: Arc<connection::Connections>,
}

fn user_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// SQLSTATE for a DataFusion error, so clients can tell a typo from a bug.
fn datafusion_error(e: datafusion::error::DataFusionError) -> PgWireError {
    let message = e.to_string();
    let code = if message.contains("table") && message.contains("not found") {
        "42P01"
    } else if message.contains("No field named") || message.contains("Schema error") {
        "42703"
    } else if message.contains("SQL error") || message.contains("ParserError") {
        "42601"
    } else if message.contains("Invalid function") || message.contains("No function matches") {
        "42883"
    } else if message.contains("Error during planning") {
        "42000"
    } else {
        "XX000"
    };
    user_error(code, message)
}

fn refused(verb: &str) -> PgWireError {
    user_error(
        "25006",
        format!(
            "cannot execute {verb}: the orderlake SQL endpoint is read-only \
             (tables change through `orderlake build` and `orderlake ingest`)"
        ),
    )
}

/// The schemas a client's bare table names are looked up in: its `SET search_path`, else the
/// startup `options` (`-c search_path=...`), else none (the warehouse's default schema).
fn search_path_of<C: ClientInfo>(client: &C) -> Vec<String> {
    let metadata = client.metadata();
    if let Some(path) = metadata.get(session::SEARCH_PATH) {
        return path
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    metadata
        .get("options")
        .and_then(|o| session::search_path_from_options(o))
        .unwrap_or_default()
}

/// Records a `SET search_path` on the connection.
fn set_search_path<C: ClientInfo>(client: &mut C, prepared: &Prepared) {
    if let Prepared::Session(Command::SearchPath(path)) = prepared {
        client
            .metadata_mut()
            .insert(session::SEARCH_PATH.to_string(), path.join(","));
    }
}

impl SqlParser {
    async fn prepare(&self, sql: &str, search_path: &[String]) -> PgWireResult<Prepared> {
        tracing::debug!(target: "orderlake_serve::pg::sql", "{sql}");
        let command = session::classify(sql);
        match command {
            Command::Query => {}
            Command::Refused(verb) if verb == "COPY" => {
                return self.prepare_copy(sql, search_path).await;
            }
            Command::Refused(verb) => return Err(refused(&verb)),
            Command::Show(Some(name))
                if !search_path.is_empty()
                    && name.trim().eq_ignore_ascii_case(session::SEARCH_PATH) =>
            {
                return Ok(Prepared::Session(Command::Shown(
                    name,
                    search_path.join(", "),
                )));
            }
            other => return Ok(Prepared::Session(other)),
        }
        let statement = parse_one(sql)?;
        let snapshot = self.live.snapshot();
        let (plan, params) = self.plan(statement, &snapshot, search_path).await?;
        Ok(Prepared::Query {
            plan: Box::new(plan),
            snapshot,
            params,
        })
    }

    /// `COPY ... TO STDOUT` becomes its query; any other COPY is refused.
    async fn prepare_copy(&self, sql: &str, search_path: &[String]) -> PgWireResult<Prepared> {
        let out = copy::parse(parse_one(sql)?).map_err(|refusal| match refusal {
            copy::CopyRefusal::Write => refused("COPY FROM"),
            copy::CopyRefusal::ServerFile => user_error(
                "42501",
                "COPY to a file or program would write on the server: use COPY ... TO STDOUT \
                 (psql: \\copy) to receive the rows on the client",
            ),
            copy::CopyRefusal::Option(message) => user_error("22023", message),
        })?;
        let snapshot = self.live.snapshot();
        let (plan, params) = self.plan(out.query, &snapshot, search_path).await?;
        if !params.is_empty() {
            return Err(user_error(
                "42P02",
                "COPY cannot take bind parameters: inline the values",
            ));
        }
        Ok(Prepared::Copy {
            plan: Box::new(plan),
            snapshot,
            format: out.format,
        })
    }

    /// Rewrites and plans one read statement; the types of its `$n` parameters.
    async fn plan(
        &self,
        mut statement: datafusion::sql::sqlparser::ast::Statement,
        snapshot: &Snapshot,
        search_path: &[String],
    ) -> PgWireResult<(LogicalPlan, Vec<Option<DataType>>)> {
        // Models may read files with these; a network client may not read the server's files.
        if let Some(function) = orderlake_engine::file_functions::calls(&statement).first() {
            return Err(user_error(
                "42501",
                format!(
                    "{function}() reads files on the server: it is for models and the local CLI, \
                     not the SQL endpoint (query the tables they build)"
                ),
            ));
        }
        rewrite::rewrite(&mut statement);
        let mut state = snapshot.warehouse.context().state();
        // Bare names resolve in the first schema of the search path that exists.
        if let Some(schema) = search_path
            .iter()
            .find(|s| snapshot.relations.iter().any(|r| &r.schema == *s))
        {
            // `state` is this statement's own copy of the session's state.
            state.config_mut().options_mut().catalog.default_schema = schema.clone();
            state
                .register_udf(Arc::new(functions::current_schema(schema.clone())))
                .map_err(datafusion_error)?;
        }
        let plan = state
            .statement_to_plan(DfStatement::Statement(Box::new(statement)))
            .await
            .map_err(datafusion_error)?;
        if let Some(verb) = writes(&plan) {
            return Err(refused(verb));
        }
        let types = plan.get_parameter_types().map_err(datafusion_error)?;
        let mut params = vec![None; types.len()];
        for (name, data_type) in types {
            if let Some(index) = name
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n >= 1 && *n <= params.len())
            {
                params[index - 1] = data_type;
            }
        }
        Ok((plan, params))
    }
}

/// Parses exactly one statement.
fn parse_one(sql: &str) -> PgWireResult<datafusion::sql::sqlparser::ast::Statement> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| user_error("42601", format!("syntax error: {e}")))?;
    if statements.len() != 1 {
        return Err(user_error(
            "42601",
            "cannot insert multiple commands into a prepared statement",
        ));
    }
    Ok(statements.remove(0))
}

/// The statement a plan would write with, if it writes.
fn writes(plan: &LogicalPlan) -> Option<&'static str> {
    match plan {
        LogicalPlan::Dml(_) => Some("INSERT/UPDATE/DELETE"),
        LogicalPlan::Ddl(_) => Some("DDL"),
        LogicalPlan::Copy(_) => Some("COPY"),
        LogicalPlan::Statement(_) => Some("this statement"),
        _ => None,
    }
}

fn result_fields(plan: &LogicalPlan, format: &Format) -> Vec<FieldInfo> {
    plan.schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ty = catalog::pg_type(f.data_type());
            FieldInfo::new(f.name().clone(), None, None, ty, format.format_for(i))
                .with_type_modifier(catalog::type_modifier(f.data_type()))
        })
        .collect()
}

fn show_fields(name: &str) -> Vec<FieldInfo> {
    vec![FieldInfo::new(
        name.to_string(),
        None,
        None,
        Type::TEXT,
        FieldFormat::Text,
    )]
}

#[async_trait]
impl QueryParser for SqlParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if let Some(activity) = self.connections.of(client.socket_addr()) {
            activity.touch();
        }
        self.prepare(sql, &search_path_of(client)).await.map(Some)
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(match stmt {
            Prepared::Query { params, .. } => params
                .iter()
                .map(|p| p.as_ref().map(catalog::pg_type).unwrap_or(Type::UNKNOWN))
                .collect(),
            Prepared::Session(_) | Prepared::Copy { .. } => vec![],
        })
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let format = column_format.cloned().unwrap_or(Format::UnifiedText);
        Ok(match stmt {
            Prepared::Query { plan, .. } => result_fields(plan, &format),
            Prepared::Session(Command::Show(Some(name)) | Command::Shown(name, _)) => {
                show_fields(name)
            }
            Prepared::Session(Command::Show(None)) => show_fields("setting"),
            Prepared::Session(_) | Prepared::Copy { .. } => vec![],
        })
    }
}

/// The handler of both query protocols.
pub struct SqlService {
    parser: Arc<SqlParser>,
}

impl SqlService {
    pub fn new(live: Arc<Live>) -> SqlService {
        SqlService {
            parser: Arc::new(SqlParser {
                live,
                connections: Arc::default(),
            }),
        }
    }

    /// The guard that marks `client`'s connection busy until a result's last row is sent.
    fn running<C: ClientInfo>(&self, client: &C) -> Option<connection::Running> {
        self.parser
            .connections
            .of(client.socket_addr())
            .map(|activity| activity.running())
    }

    async fn run(
        &self,
        prepared: &Prepared,
        values: Vec<ScalarValue>,
        format: &Format,
        running: Option<connection::Running>,
    ) -> PgWireResult<Response> {
        match prepared {
            Prepared::Session(command) => Ok(session_response(command)),
            Prepared::Copy {
                plan,
                snapshot,
                format,
            } => copy_out(plan, snapshot, format, running).await,
            Prepared::Query { plan, snapshot, .. } => {
                let plan = if values.is_empty() {
                    (**plan).clone()
                } else {
                    (**plan)
                        .clone()
                        .with_param_values(values)
                        .map_err(datafusion_error)?
                };
                let fields = Arc::new(result_fields(&plan, format));
                let df = snapshot
                    .warehouse
                    .context()
                    .execute_logical_plan(plan)
                    .await
                    .map_err(datafusion_error)?;
                let stream = df.execute_stream().await.map_err(datafusion_error)?;
                let schema = fields.clone();
                let rows = stream.flat_map(move |batch| {
                    let _busy = &running;
                    let rows: Vec<PgWireResult<_>> = match batch {
                        Ok(batch) => match encode::encode_batch(&batch, schema.clone()) {
                            Ok(rows) => rows.into_iter().map(Ok).collect(),
                            Err(e) => vec![Err(e)],
                        },
                        Err(e) => vec![Err(datafusion_error(e))],
                    };
                    futures::stream::iter(rows)
                });
                Ok(Response::Query(QueryResponse::new(fields, rows)))
            }
        }
    }
}

/// Streams a query's rows as `COPY ... TO STDOUT` data.
async fn copy_out(
    plan: &LogicalPlan,
    snapshot: &Snapshot,
    format: &copy::CopyFormat,
    running: Option<connection::Running>,
) -> PgWireResult<Response> {
    let fields = result_fields(plan, &Format::UnifiedText);
    let header = format.header(&fields);
    let mut encoder = format.encoder(&fields);
    let df = snapshot
        .warehouse
        .context()
        .execute_logical_plan(plan.clone())
        .await
        .map_err(datafusion_error)?;
    let stream = df.execute_stream().await.map_err(datafusion_error)?;
    let rows = stream.flat_map(move |batch| {
        let _busy = &running;
        let rows: Vec<PgWireResult<_>> = match batch {
            Ok(batch) => match encode::encode_copy(&batch, &mut encoder) {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            },
            Err(e) => vec![Err(datafusion_error(e))],
        };
        futures::stream::iter(rows)
    });
    let data = futures::stream::iter(header.map(Ok)).chain(rows);
    Ok(Response::CopyOut(pgwire::api::results::CopyResponse::new(
        format.code(),
        fields.len(),
        data,
    )))
}

fn session_response(command: &Command) -> Response {
    match command {
        Command::Show(_) | Command::Shown(..) => {
            let (name, values): (&str, Vec<String>) = match command {
                Command::Shown(name, value) => (name, vec![value.clone()]),
                Command::Show(Some(name)) => {
                    (name, vec![session::setting(name).unwrap_or("").to_string()])
                }
                _ => (
                    "setting",
                    session::SETTINGS
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect(),
                ),
            };
            let fields = Arc::new(show_fields(name));
            let mut rows = Vec::new();
            for value in values {
                let mut encoder = DataRowEncoder::new(fields.clone());
                let row = encoder.encode_field(&value).map(|_| encoder.take_row());
                rows.push(row);
            }
            Response::Query(QueryResponse::new(fields, futures::stream::iter(rows)))
        }
        Command::Ack(tag) => Response::Execution(Tag::new(tag)),
        Command::SearchPath(_) => Response::Execution(Tag::new("SET")),
        Command::Begin => Response::TransactionStart(Tag::new("BEGIN")),
        Command::End(tag) => Response::TransactionEnd(Tag::new(tag)),
        Command::Query | Command::Refused(_) => Response::Execution(Tag::new("SELECT")),
    }
}

#[async_trait]
impl SimpleQueryHandler for SqlService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut responses = Vec::new();
        for sql in split_statements(query) {
            let running = self.running(client);
            let search_path = search_path_of(client);
            let outcome = match self.parser.prepare(&sql, &search_path).await {
                Ok(prepared) => {
                    set_search_path(client, &prepared);
                    self.run(&prepared, vec![], &Format::UnifiedText, running)
                        .await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(response) => responses.push(response),
                Err(PgWireError::UserError(info)) => {
                    // As PostgreSQL: the rest of a multi-statement query is skipped.
                    responses.push(Response::Error(info));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(responses)
    }
}

/// Splits a simple-protocol query on the semicolons between statements (not in quotes,
/// identifiers or comments).
pub fn split_statements(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = query.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            current.push('\n');
                            break;
                        }
                    }
                }
                ';' => {
                    if !current.trim().is_empty() {
                        out.push(current.trim().to_string());
                    }
                    current.clear();
                }
                _ => current.push(c),
            },
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Decodes the bound parameter values into the types the plan expects.
fn bind_values(
    portal: &Portal<Prepared>,
    params: &[Option<DataType>],
) -> PgWireResult<Vec<ScalarValue>> {
    let mut values = Vec::with_capacity(portal.parameter_len());
    for i in 0..portal.parameter_len() {
        let declared = portal
            .statement
            .parameter_types
            .get(i)
            .cloned()
            .flatten()
            .filter(|t| *t != Type::UNKNOWN);
        let expected = params.get(i).cloned().flatten();
        let pg_type = declared
            .clone()
            .or_else(|| expected.as_ref().map(catalog::pg_type))
            .unwrap_or(Type::TEXT);
        let value = encode::decode_parameter(portal, i, &pg_type)?;
        let value = match &expected {
            Some(t) if value.data_type() != *t => value.cast_to(t).map_err(|e| {
                user_error(
                    "22P02",
                    format!("parameter ${}: cannot use {value} as {t}: {e}", i + 1),
                )
            })?,
            _ => value,
        };
        values.push(value);
    }
    Ok(values)
}

#[async_trait]
impl ExtendedQueryHandler for SqlService {
    type Statement = Prepared;
    type QueryParser = SqlParser;

    fn query_parser(&self) -> Arc<SqlParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let running = self.running(client);
        let prepared = &portal.statement.statement;
        set_search_path(client, prepared);
        let values = match prepared {
            Prepared::Query { params, .. } => bind_values(portal, params)?,
            Prepared::Session(_) | Prepared::Copy { .. } => vec![],
        };
        self.run(prepared, values, &portal.result_column_format, running)
            .await
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        stmt: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let inferred = self.parser.get_parameter_types(&stmt.statement)?;
        let params = inferred
            .into_iter()
            .enumerate()
            .map(
                |(i, t)| match stmt.parameter_types.get(i).cloned().flatten() {
                    Some(declared) if declared != Type::UNKNOWN => declared,
                    _ if t == Type::UNKNOWN => Type::TEXT,
                    _ => t,
                },
            )
            .collect();
        let fields = self
            .parser
            .get_result_schema(&stmt.statement, Some(&Format::UnifiedBinary))?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let fields = self.parser.get_result_schema(
            &portal.statement.statement,
            Some(&portal.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(fields))
    }
}

/// Hands each connection its handlers.
struct Handlers {
    service: Arc<SqlService>,
    users: Arc<Users>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = "15.0".to_string();
        parameters.default_transaction_read_only = true;
        let mut scram = ScramAuth::new(self.users.clone());
        scram.set_iterations(SCRAM_ITERATIONS);
        Arc::new(connection::NamedLogin::new(Arc::new(
            SASLAuthStartupHandler::new(Arc::new(parameters)).with_scram(scram),
        )))
    }
}

/// How the SQL endpoint takes clients: who may log in, TLS, and the limits.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    pub users: Vec<PgUser>,
    pub tls: Option<tls::Tls>,
    pub limits: connection::Limits,
}

/// Serves SQL on `listener` until `shutdown` changes.
pub async fn serve(
    live: Arc<Live>,
    listener: TcpListener,
    options: &PgOptions,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let service = Arc::new(SqlService::new(live));
    let connections = service.parser.connections.clone();
    let handlers = Arc::new(Handlers {
        service,
        users: Arc::new(Users::new(&options.users)),
    });
    let limits = options.limits;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let acceptor = options.tls.as_ref().map(|t| t.acceptor.clone());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("pg accept: {e}");
                        // Out of file descriptors, say: do not spin.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "pg: refusing a connection over the limit of {}", limits.max_connections);
                    tokio::spawn(connection::refuse_too_many(socket, limits.max_connections));
                    continue;
                };
                let handlers = handlers.clone();
                let connections = connections.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let conn = pgwire::tokio::process_socket(socket, acceptor, handlers);
                    connection::run(&connections, peer, limits.idle_timeout, conn).await;
                });
            }
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_semicolons_outside_quotes_and_comments() {
        assert_eq!(
            split_statements("select 'a;b'; -- c;d\nselect \"x;y\" ;;"),
            vec!["select 'a;b'".to_string(), "select \"x;y\"".to_string()]
        );
    }

    #[test]
    fn users_parse_from_name_colon_password() {
        let user = PgUser::parse("ana:s3cret:x").expect("parses");
        assert_eq!(
            (user.name.as_str(), user.password.as_str()),
            ("ana", "s3cret:x")
        );
        assert!(PgUser::parse("ana").is_none());
        assert!(PgUser::parse(":pw").is_none());
    }
}
