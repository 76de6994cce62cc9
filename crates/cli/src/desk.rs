//! `orderlake desk …`: the order desk from the command line. Every operation and report, with
//! the same role checks as the HTTP API: the caller is the API token in `--token` or
//! `ORDERLAKE_DESK_TOKEN`. Amounts are typed as `125.50`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use orderlake_desk::{
    Actor, BillOutcome, Desk, DeskDb, DeskError, NewLine, NewProduct, Role, cents_text, parse_cents,
};
use serde::Serialize;

#[derive(Args)]
pub struct DeskArgs {
    /// The desk database: an SQLite file, or a PostgreSQL database as
    /// `postgres://user[:password]@host:port/dbname` (set up by `desk init`).
    #[arg(
        long,
        global = true,
        env = "ORDERLAKE_DESK_DB",
        hide_env_values = true,
        default_value = "desk.db",
        value_parser = parse_desk_db
    )]
    db: DeskDb,
    /// Your API token.
    #[arg(
        long,
        global = true,
        env = "ORDERLAKE_DESK_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Print reports as CSV (for exports).
    #[arg(long, global = true, conflicts_with = "json")]
    csv: bool,
    /// Apply this operation once: run again with the same key (after a timeout, say), it
    /// prints the first result instead of acting twice. The same key with other arguments is
    /// refused.
    #[arg(long, global = true, value_name = "KEY")]
    idempotency_key: Option<String>,
    #[command(subcommand)]
    command: DeskCommand,
}

#[derive(Subcommand, Debug)]
enum DeskCommand {
    /// Create the desk database and print its first manager token.
    Init {
        /// Who the first manager token is for.
        #[arg(long, default_value = "admin")]
        name: String,
    },
    /// Serve the JSON API (with its OpenAPI document) and the web forms.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8090")]
        http: SocketAddr,
        /// Publish change events into this landing folder in the background.
        #[arg(long)]
        landing: Option<PathBuf>,
        /// How often to publish, in seconds (often: an unpublished event costs one indexed
        /// query, and a billed order should reach a watching lakehouse within a second).
        #[arg(long, default_value_t = 0.25)]
        publish_every: f64,
    },
    /// Write unpublished change events into a landing folder as NDJSON (managers).
    Publish {
        #[arg(long)]
        landing: PathBuf,
    },
    /// Issue or revoke API tokens (managers).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Master data (managers).
    #[command(subcommand)]
    Add(AddCommand),
    /// Change a product's price and/or cost from now on (managers).
    Price {
        product: i64,
        #[arg(long)]
        price: Option<String>,
        #[arg(long)]
        cost: Option<String>,
    },
    /// Receive stock into a product (managers).
    Receive { product: i64, quantity: i64 },
    /// Change a customer's credit limit (managers).
    CreditLimit { customer: i64, amount: String },
    /// Delist a customer: no new orders; never erased (managers).
    Delist { customer: i64 },
    /// Raise an order: `--line PRODUCT:QUANTITY`, repeated.
    Raise {
        #[arg(long)]
        customer: i64,
        #[arg(long)]
        location: i64,
        #[arg(long = "line", required = true, value_name = "PRODUCT:QUANTITY")]
        lines: Vec<String>,
    },
    /// Raise a product again on an open order (replaces its quantity).
    Reraise {
        order: i64,
        #[arg(value_name = "PRODUCT:QUANTITY")]
        line: String,
    },
    /// Cancel an order that is not yet billed.
    Cancel {
        order: i64,
        #[arg(long)]
        reason: String,
    },
    /// Bill an order (stock and credit checks; on hold when one fails).
    Bill { order: i64 },
    /// Ship a billed order.
    Ship {
        order: i64,
        #[arg(long)]
        carrier: i64,
        /// The shipping warehouse's id (`--warehouse` is the lakehouse's folder).
        #[arg(long = "warehouse-id", id = "ship_warehouse")]
        warehouse: i64,
        /// Promised delivery time, `YYYY-MM-DD HH:MM:SS` (UTC).
        #[arg(long)]
        promised: String,
    },
    /// Record delivery of a shipped order.
    Deliver { order: i64 },
    /// Return units of a billed line.
    Return {
        order: i64,
        #[arg(long)]
        line: i64,
        #[arg(long)]
        quantity: i64,
        #[arg(long)]
        reason: String,
    },
    /// Record a payment from a customer.
    Pay {
        customer: i64,
        amount: String,
        #[arg(long)]
        order: Option<i64>,
    },
    /// Write off part of what a customer owes (managers).
    WriteOff {
        customer: i64,
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Run the monthly rebates for `YYYY-MM` (managers; running a month twice changes nothing).
    RebateRun { month: String },
    /// Copy the desk database (SQLite) into a folder while the desk runs, check the copy, and
    /// delete copies older than --keep-days. No token needed: it takes access to the file.
    Backup {
        #[arg(long)]
        to: PathBuf,
        #[arg(long, default_value_t = 14)]
        keep_days: u32,
        /// Name and prune the copy as of this time (RFC 3339; default now): the scheduler
        /// passes a job's due time.
        #[arg(long)]
        at: Option<String>,
    },
    /// Put a backup in place as the desk database; with --force an existing database is
    /// replaced, after being kept beside it. Stop every desk process first.
    Restore {
        backup: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Reports (every role).
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Issue a token for NAME with a role; it is printed once.
    Add {
        name: String,
        #[arg(long)]
        role: String,
    },
    /// Revoke every token of NAME.
    Revoke { name: String },
}

#[derive(Subcommand, Debug)]
enum AddCommand {
    Territory {
        name: String,
        #[arg(long)]
        manager_first: String,
        #[arg(long)]
        manager_last: String,
    },
    Location {
        #[arg(long)]
        region: String,
        #[arg(long)]
        territory: i64,
        #[arg(long)]
        state: String,
        #[arg(long)]
        city: String,
    },
    CustomerType {
        name: String,
    },
    Customer {
        name: String,
        #[arg(long = "type")]
        customer_type: i64,
        #[arg(long)]
        location: i64,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value = "0")]
        credit_limit: String,
    },
    Product {
        description: String,
        #[arg(long)]
        brand: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        price: String,
        #[arg(long)]
        cost: String,
        #[arg(long, default_value_t = 0)]
        on_hand: i64,
    },
    Carrier {
        name: String,
        #[arg(long)]
        location: Option<i64>,
    },
    Warehouse {
        name: String,
        #[arg(long)]
        location: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// Orders raised but not billed.
    Outstanding,
    /// What customers owe, by invoice age (oldest settled first).
    Aging {
        #[arg(long)]
        as_of: Option<String>,
    },
    /// A month's rebates (`YYYY-MM`).
    Rebates { month: String },
    /// Billed lines in a date range (both days included).
    Sales {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Returns in a date range.
    Reversals {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Stock per product on a day: opening at 00:00, moved, closing.
    Inventory {
        #[arg(long)]
        day: Option<String>,
    },
    /// A product's price, cost and stock as of a moment (now when left out).
    Product {
        product: i64,
        /// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (its start).
        #[arg(long)]
        at: Option<String>,
    },
    /// A customer's ledger for a date range with opening and closing balances.
    Statement {
        customer: i64,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn parse_desk_db(value: &str) -> Result<DeskDb, orderlake_desk::UnsupportedDeskDb> {
    DeskDb::parse(value)
}

fn open(db: &DeskDb) -> Result<Desk> {
    Desk::open(db).with_context(|| format!("opening the desk database {db}"))
}

fn caller(desk: &Desk, token: &Option<String>) -> Result<Actor> {
    let Some(token) = token else {
        bail!("an API token is required: pass --token or set ORDERLAKE_DESK_TOKEN");
    };
    Ok(desk.authenticate(token)?)
}

fn line(text: &str) -> Result<NewLine> {
    let parse = |s: &str| s.trim().parse::<i64>().ok();
    match text.split_once(':').map(|(p, q)| (parse(p), parse(q))) {
        Some((Some(product_id), Some(quantity))) => Ok(NewLine {
            product_id,
            quantity,
        }),
        _ => bail!("line: '{text}' is not PRODUCT:QUANTITY (e.g. 42:3)"),
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printing {
    Text,
    Json,
    Csv,
}

/// Prints rows as an aligned table, as JSON (`--json`) or as CSV (`--csv`).
fn print_rows<T: Serialize>(rows: &[T], out: Printing) -> Result<()> {
    if out == Printing::Json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let (columns, cells) = orderlake_desk_http::tabulate(rows);
    if out == Printing::Csv {
        let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
        writer.write_record(&columns)?;
        for row in &cells {
            writer.write_record(row.iter().map(|c| c.text.as_str()))?;
        }
        writer.flush()?;
        return Ok(());
    }
    if cells.is_empty() {
        println!("(no rows)");
        return Ok(());
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].text.chars().count())
                .chain([columns[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header: Vec<String> = columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| format!("{c:<w$}"))
        .collect();
    println!("{}", header.join("  ").trim_end());
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                if c.numeric {
                    format!("{:>w$}", c.text)
                } else {
                    format!("{:<w$}", c.text)
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    println!("({} rows)", cells.len());
    Ok(())
}

/// What an operation reports: JSON for `--json`, a sentence otherwise. Kept whole so an
/// idempotent retry prints exactly what the first run printed.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Said {
    value: serde_json::Value,
    text: String,
}

fn done(said: &mut Option<Said>, value: serde_json::Value, text: String) {
    *said = Some(Said { value, text });
}

pub async fn run(args: DeskArgs) -> Result<ExitCode> {
    let DeskArgs {
        db,
        token,
        json,
        csv,
        idempotency_key,
        command,
    } = args;
    let out = match (json, csv) {
        (true, _) => Printing::Json,
        (_, true) => Printing::Csv,
        _ => Printing::Text,
    };
    if let DeskCommand::Serve {
        http,
        landing,
        publish_every,
    } = command
    {
        // PostgreSQL's synchronous client connects off the async threads.
        let desk = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || open(&db)).await??
        };
        if !(publish_every > 0.0 && publish_every.is_finite()) {
            bail!("--publish-every: must be a positive number of seconds");
        }
        println!(
            "desk API on http://{http}/api (OpenAPI: /api/openapi.json), web forms on http://{http}/"
        );
        let options = orderlake_desk_http::ServeOptions {
            addr: http,
            landing,
            publish_every: Duration::from_secs_f64(publish_every),
        };
        orderlake_desk_http::serve(desk, options, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .with_context(|| format!("serving the desk on {http}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    // Everything else is a short blocking call on the database.
    tokio::task::spawn_blocking(move || run_blocking(&db, &token, out, idempotency_key, command))
        .await?
}

fn run_blocking(
    db: &DeskDb,
    token: &Option<String>,
    out: Printing,
    idempotency_key: Option<String>,
    command: DeskCommand,
) -> Result<ExitCode> {
    let json = out == Printing::Json;
    match &command {
        DeskCommand::Backup { to, keep_days, at } => {
            let at = match at {
                Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                    .with_context(|| {
                        format!("--at `{text}`: write a time as 2026-11-30T03:00:00Z")
                    })?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            let keep = Duration::from_secs(u64::from(*keep_days) * 86_400);
            let made = orderlake_desk::backup::backup(db, to, keep, at)?;
            println!(
                "backed up {db} to {} ({} bytes, schema version {}); {} older copies deleted",
                made.path.display(),
                made.bytes,
                made.schema_version,
                made.pruned.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        DeskCommand::Restore { backup, force } => {
            let restored = orderlake_desk::backup::restore(backup, db, *force, chrono::Utc::now())?;
            if let Some(kept) = &restored.kept_previous {
                println!(
                    "the desk database that was there is kept as {}",
                    kept.display()
                );
            }
            // Opening it applies any migration newer than the backup.
            open(db)?;
            println!(
                "restored {db} from {} (schema version {})",
                backup.display(),
                restored.schema_version
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let mut desk = open(db)?;
    if let DeskCommand::Init { name } = &command {
        let token = desk.bootstrap_token(name)?;
        println!("desk database ready: {db}");
        println!("manager token for {name} (shown once; keep it safe):\n{token}");
        return Ok(ExitCode::SUCCESS);
    }
    let a = caller(&desk, token)?;
    let mut said = None;
    match idempotency_key {
        None => execute(&mut desk, &a, out, command, &mut said)?,
        Some(key) => {
            // The command as parsed is the request: the same key with other arguments is refused.
            let request = format!("{command:?}");
            let operation = request
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("command")
                .to_string();
            let digest = orderlake_desk::request_digest(&[request.as_bytes()]);
            let remembered = desk.idempotent(&a, &key, &operation, &digest, |d| {
                let mut first = None;
                execute(d, &a, out, command, &mut first).map_err(|e| {
                    match e.downcast::<DeskError>() {
                        Ok(desk_error) => desk_error,
                        Err(other) => DeskError::invalid("command", format!("{other:#}")),
                    }
                })?;
                serde_json::to_string(&first)
                    .map_err(|e| DeskError::invalid("result", e.to_string()))
            })?;
            said = serde_json::from_str(&remembered.result)?;
            if remembered.replayed {
                eprintln!(
                    "(idempotency key '{key}' was used before: its first result, nothing applied again)"
                );
            }
        }
    }
    if let Some(Said { value, text }) = said {
        if json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one desk command as `a`; what it reports goes to `said` (reports print directly).
fn execute(
    d: &mut Desk,
    a: &Actor,
    out: Printing,
    command: DeskCommand,
    said: &mut Option<Said>,
) -> Result<()> {
    let a = a.clone();
    match command {
        DeskCommand::Init { .. }
        | DeskCommand::Serve { .. }
        | DeskCommand::Backup { .. }
        | DeskCommand::Restore { .. } => unreachable!("handled above"),
        DeskCommand::Publish { landing } => {
            let files = d.publish_for(&a, &landing)?;
            let events: usize = files.iter().map(|f| f.events).sum();
            if out == Printing::Json {
                println!("{}", serde_json::to_string(&files)?);
            } else {
                println!(
                    "published {events} events in {} files to {}",
                    files.len(),
                    landing.display()
                );
            }
        }
        DeskCommand::Token(TokenCommand::Add { name, role }) => {
            let role = Role::parse("role", &role)?;
            let t = d.issue_token(&a, &name, role)?;
            done(
                said,
                serde_json::json!({"token": t}),
                format!("{} token for {name} (shown once):\n{t}", role.as_str()),
            );
        }
        DeskCommand::Token(TokenCommand::Revoke { name }) => {
            let n = d.revoke_tokens(&a, &name)?;
            done(
                said,
                serde_json::json!({"revoked": n}),
                format!("revoked {n} tokens of {name}"),
            );
        }
        DeskCommand::Add(add) => {
            let (what, id) = match add {
                AddCommand::Territory {
                    name,
                    manager_first,
                    manager_last,
                } => (
                    "territory",
                    d.add_territory(&a, &name, &manager_first, &manager_last)?,
                ),
                AddCommand::Location {
                    region,
                    territory,
                    state,
                    city,
                } => (
                    "location",
                    d.add_location(&a, &region, territory, &state, &city)?,
                ),
                AddCommand::CustomerType { name } => {
                    ("customer type", d.add_customer_type(&a, &name)?)
                }
                AddCommand::Customer {
                    name,
                    customer_type,
                    location,
                    email,
                    credit_limit,
                } => {
                    let limit = parse_cents("credit_limit", &credit_limit)?;
                    (
                        "customer",
                        d.add_customer(
                            &a,
                            &name,
                            customer_type,
                            email.as_deref(),
                            location,
                            limit,
                        )?,
                    )
                }
                AddCommand::Product {
                    description,
                    brand,
                    category,
                    price,
                    cost,
                    on_hand,
                } => {
                    let product = NewProduct {
                        description: &description,
                        brand: &brand,
                        category: &category,
                        price_cents: parse_cents("price", &price)?,
                        cost_cents: parse_cents("cost", &cost)?,
                        on_hand,
                    };
                    ("product", d.add_product(&a, &product)?)
                }
                AddCommand::Carrier { name, location } => {
                    ("carrier", d.add_carrier(&a, &name, location)?)
                }
                AddCommand::Warehouse { name, location } => {
                    ("warehouse", d.add_warehouse(&a, &name, location)?)
                }
            };
            done(
                said,
                serde_json::json!({"id": id}),
                format!("added {what} {id}"),
            );
        }
        DeskCommand::Price {
            product,
            price,
            cost,
        } => {
            let price = price.map(|p| parse_cents("price", &p)).transpose()?;
            let cost = cost.map(|c| parse_cents("cost", &c)).transpose()?;
            d.change_price(&a, product, price, cost)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("product {product} repriced"),
            );
        }
        DeskCommand::Receive { product, quantity } => {
            d.receive_stock(&a, product, quantity)?;
            let on_hand = d.on_hand(product)?;
            done(
                said,
                serde_json::json!({"on_hand": on_hand}),
                format!("product {product}: {on_hand} on hand"),
            );
        }
        DeskCommand::CreditLimit { customer, amount } => {
            d.change_credit_limit(&a, customer, parse_cents("credit_limit", &amount)?)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("customer {customer}: credit limit {amount}"),
            );
        }
        DeskCommand::Delist { customer } => {
            d.delist_customer(&a, customer)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("customer {customer} delisted"),
            );
        }
        DeskCommand::Raise {
            customer,
            location,
            lines,
        } => {
            let lines = lines.iter().map(|l| line(l)).collect::<Result<Vec<_>>>()?;
            let id = d.raise_order(&a, customer, location, &lines)?;
            done(
                said,
                serde_json::json!({"id": id}),
                format!("raised order {id}"),
            );
        }
        DeskCommand::Reraise { order, line: l } => {
            d.reraise_line(&a, order, line(&l)?)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("order {order}: line {l} set"),
            );
        }
        DeskCommand::Cancel { order, reason } => {
            d.cancel_order(&a, order, &reason)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("order {order} cancelled"),
            );
        }
        DeskCommand::Bill { order } => {
            let outcome = d.bill_order(&a, order)?;
            let text = match &outcome {
                BillOutcome::Billed {
                    net_cents,
                    vat_cents,
                    total_cents,
                } => format!(
                    "order {order} billed: net {}, VAT {}, total {}",
                    cents_text(*net_cents),
                    cents_text(*vat_cents),
                    cents_text(*total_cents)
                ),
                BillOutcome::OnHold { reason } => format!("order {order} on hold: {reason}"),
            };
            done(said, serde_json::to_value(&outcome)?, text);
        }
        DeskCommand::Ship {
            order,
            carrier,
            warehouse,
            promised,
        } => {
            d.ship_order(&a, order, carrier, warehouse, &promised)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("order {order} shipped"),
            );
        }
        DeskCommand::Deliver { order } => {
            d.deliver_order(&a, order)?;
            done(
                said,
                serde_json::json!({"ok": true}),
                format!("order {order} delivered"),
            );
        }
        DeskCommand::Return {
            order,
            line,
            quantity,
            reason,
        } => {
            let refund = d.return_units(&a, order, line, quantity, &reason)?;
            done(
                said,
                serde_json::json!({"refund_cents": refund}),
                format!(
                    "returned {quantity} of order {order} line {line}: refund {}",
                    cents_text(refund)
                ),
            );
        }
        DeskCommand::Pay {
            customer,
            amount,
            order,
        } => {
            let entry = d.pay(&a, customer, parse_cents("amount", &amount)?, order)?;
            let balance = d.balance(customer)?;
            done(
                said,
                serde_json::json!({"entry_id": entry, "balance_cents": balance}),
                format!(
                    "payment recorded (entry {entry}); balance {}",
                    cents_text(balance)
                ),
            );
        }
        DeskCommand::WriteOff {
            customer,
            amount,
            reason,
        } => {
            let entry = d.write_off(&a, customer, parse_cents("amount", &amount)?, &reason)?;
            let balance = d.balance(customer)?;
            done(
                said,
                serde_json::json!({"entry_id": entry, "balance_cents": balance}),
                format!(
                    "written off (entry {entry}); balance {}",
                    cents_text(balance)
                ),
            );
        }
        DeskCommand::RebateRun { month } => {
            let posted = d.rebate_run(&a, &month)?;
            let total: i64 = posted.iter().map(|p| p.1).sum();
            done(
                said,
                serde_json::json!(
                    posted
                        .iter()
                        .map(|(c, r)| serde_json::json!({"customer_id": c, "rebate_cents": r}))
                        .collect::<Vec<_>>()
                ),
                format!(
                    "rebates for {month}: {} customers, {}",
                    posted.len(),
                    cents_text(total)
                ),
            );
        }
        DeskCommand::Report(report) => match report {
            ReportCommand::Outstanding => print_rows(&d.outstanding_orders(&a)?, out)?,
            ReportCommand::Aging { as_of } => {
                print_rows(&d.credit_aging(&a, &as_of.unwrap_or_else(today))?, out)?
            }
            ReportCommand::Rebates { month } => print_rows(&d.rebates(&a, &month)?, out)?,
            ReportCommand::Sales { from, to } => print_rows(&d.sales(&a, &from, &to)?, out)?,
            ReportCommand::Reversals { from, to } => {
                print_rows(&d.reversals(&a, &from, &to)?, out)?
            }
            ReportCommand::Inventory { day } => {
                print_rows(&d.inventory(&a, &day.unwrap_or_else(today))?, out)?
            }
            ReportCommand::Product { product, at } => {
                let at = at.unwrap_or_else(|| {
                    chrono::Utc::now()
                        .format("%Y-%m-%d %H:%M:%S%.6f")
                        .to_string()
                });
                print_rows(&[d.product_at(&a, product, &at)?], out)?
            }
            ReportCommand::Statement { customer, from, to } => {
                let st = d.statement(&a, customer, &from, &to)?;
                if out == Printing::Json {
                    println!("{}", serde_json::to_string_pretty(&st)?);
                } else {
                    println!(
                        "statement of {} ({}) from {} to {}",
                        st.customer_name, st.customer_id, st.from, st.to
                    );
                    println!("opening balance {}", cents_text(st.opening_balance_cents));
                    print_rows(&st.entries, Printing::Text)?;
                    println!("closing balance {}", cents_text(st.closing_balance_cents));
                }
            }
        },
    }
    Ok(())
}
