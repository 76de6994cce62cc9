//! Server-rendered web forms: order entry (optionally billed at once), payments, and every report
//! as a table with its parameters. The API token is entered once and kept in an HTTP-only,
//! same-site cookie; every action still goes through the desk's role checks.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use orderlake_desk::{BillOutcome, DeskError, NewLine, cents_text};
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::{ApiError, AppState};

const COOKIE: &str = "desk_token";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/orders/new", get(order_form).post(raise_order))
        .route("/orders/{id}/bill", post(bill))
        .route("/payments/new", get(payment_form).post(pay))
        .route("/reports/{name}", get(report))
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("layout.html", include_str!("../templates/layout.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("order.html", include_str!("../templates/order.html")),
            ("payment.html", include_str!("../templates/payment.html")),
            ("table.html", include_str!("../templates/table.html")),
        ] {
            env.add_template(name, source)
                .expect("the bundled templates parse");
        }
        env
    })
}

/// A page: `template` rendered with `ctx`, inside the layout.
struct Page {
    title: String,
    who: Option<String>,
    error: Option<String>,
    message: Option<String>,
    template: &'static str,
    ctx: Value,
    status: StatusCode,
}

impl Page {
    fn new(title: &str, template: &'static str, ctx: Value) -> Self {
        Page {
            title: title.to_string(),
            who: None,
            error: None,
            message: None,
            template,
            ctx,
            status: StatusCode::OK,
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let env = templates();
        let rendered = env
            .get_template(self.template)
            .and_then(|t| t.render(&self.ctx))
            .and_then(|body| {
                env.get_template("layout.html")?.render(context! {
                    title => self.title, who => self.who, error => self.error,
                    message => self.message, body => Value::from_safe_string(body),
                })
            });
        match rendered {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => ApiError::internal(format!("template: {e}")).into_response(),
        }
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn login_page(error: Option<String>) -> Response {
    let mut page = Page::new("Sign in", "login.html", context! {});
    if error.is_some() {
        page.status = StatusCode::UNAUTHORIZED;
    }
    page.error = error;
    page.into_response()
}

/// An operation's refusal as the page shows it: the field and the rule.
fn refusal(e: &ApiError) -> String {
    match &e.body.field {
        Some(f) => format!("{f}: {}", e.body.message),
        None => e.body.message.clone(),
    }
}

/// Who is signed in, or the sign-in page.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(String, String), Response> {
    let Some(token) = cookie_token(headers) else {
        return Err(login_page(None));
    };
    let t = token.clone();
    match state.authenticate(Some(t)).await {
        Ok(actor) => Ok((token, format!("{} ({})", actor.name, actor.role.as_str()))),
        Err(e) => Err(login_page(Some(refusal(&e)))),
    }
}

#[derive(serde::Deserialize)]
struct Flash {
    message: Option<String>,
    error: Option<String>,
}

async fn home(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let (token, who) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let rows = s
        .read_token(Some(token), |d, a| d.outstanding_orders(a))
        .await;
    let mut page = match rows {
        Ok(rows) => Page::new(
            "Outstanding orders",
            "table.html",
            table(&rows, None, Some("order_id")),
        ),
        Err(e) => {
            let mut p = Page::new("Outstanding orders", "table.html", context! {});
            p.error = Some(refusal(&e));
            p
        }
    };
    page.who = Some(who);
    page.message = flash.message;
    page.error = page.error.or(flash.error);
    page.into_response()
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

async fn login(State(s): State<AppState>, Form(f): Form<Login>) -> Response {
    let token = f.token.trim().to_string();
    let t = token.clone();
    match s.authenticate(Some(t)).await {
        Ok(_) => {
            let mut r = Redirect::to("/").into_response();
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => login_page(Some(refusal(&e))),
    }
}

async fn logout() -> Response {
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("desk_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

fn flash_to(kind: &str, text: &str) -> Response {
    let mut url = String::from("/?");
    url.push_str(kind);
    url.push('=');
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => url.push(b as char),
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    Redirect::to(&url).into_response()
}

/// A form field as a number, or an error naming it.
fn number(form: &HashMap<String, String>, field: &str) -> Result<Option<i64>, ApiError> {
    match form.get(field).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(field, format!("'{v}' is not a whole number"))),
    }
}

fn required(form: &HashMap<String, String>, field: &str) -> Result<i64, ApiError> {
    number(form, field)?.ok_or_else(|| ApiError::invalid(field, "is required"))
}

/// A form page, empty or filled in again with the refused input and the refusal.
fn form_page(
    title: &str,
    template: &'static str,
    form: HashMap<String, String>,
    who: String,
    refused: Option<ApiError>,
) -> Response {
    let mut page = Page::new(title, template, context! { form => form });
    page.who = Some(who);
    if let Some(e) = refused {
        page.status = e.status;
        page.error = Some(refusal(&e));
    }
    page.into_response()
}

async fn order_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let who = match signed_in(&s, &headers).await {
        Ok(v) => v.1,
        Err(page) => return page,
    };
    form_page("New order", "order.html", HashMap::new(), who, None)
}

async fn raise_order(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (token, who) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let parsed = (|| -> Result<(i64, i64, Vec<NewLine>), ApiError> {
        let customer = required(&form, "customer_id")?;
        let location = required(&form, "location_id")?;
        let mut lines = Vec::new();
        for i in 1..=6 {
            let product = number(&form, &format!("product_id_{i}"))?;
            let quantity = number(&form, &format!("quantity_{i}"))?;
            match (product, quantity) {
                (None, None) => {}
                (Some(product_id), Some(quantity)) => lines.push(NewLine {
                    product_id,
                    quantity,
                }),
                (Some(_), None) => {
                    return Err(ApiError::invalid(
                        format!("quantity_{i}"),
                        "is required for a product",
                    ));
                }
                (None, Some(_)) => {
                    return Err(ApiError::invalid(
                        format!("product_id_{i}"),
                        "is required for a quantity",
                    ));
                }
            }
        }
        Ok((customer, location, lines))
    })();
    let bill = form.contains_key("bill");
    let outcome = match parsed {
        Ok((customer, location, lines)) => {
            s.call_token(Some(token), move |d, a| {
                let id = d.raise_order(a, customer, location, &lines)?;
                let billed = if bill {
                    Some(d.bill_order(a, id)?)
                } else {
                    None
                };
                Ok((id, billed))
            })
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok((id, billed)) => flash_to(
            "message",
            &match billed {
                None => format!("Order {id} raised."),
                Some(b) => format!("Order {id} raised; {}", bill_text(&b)),
            },
        ),
        Err(e) => form_page("New order", "order.html", form, who, Some(e)),
    }
}

fn bill_text(b: &BillOutcome) -> String {
    match b {
        BillOutcome::Billed { total_cents, .. } => {
            format!("billed {} (VAT included).", cents_text(*total_cents))
        }
        BillOutcome::OnHold { reason } => format!("on hold: {reason}."),
    }
}

async fn bill(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let token = match signed_in(&s, &headers).await {
        Ok(v) => v.0,
        Err(page) => return page,
    };
    let Ok(id) = id.parse::<i64>() else {
        return flash_to("error", &format!("order_id: '{id}' is not a number"));
    };
    match s
        .call_token(Some(token), move |d, a| d.bill_order(a, id))
        .await
    {
        Ok(b) => flash_to("message", &format!("Order {id} {}", bill_text(&b))),
        Err(e) => flash_to("error", &refusal(&e)),
    }
}

async fn payment_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let who = match signed_in(&s, &headers).await {
        Ok(v) => v.1,
        Err(page) => return page,
    };
    form_page("Payment", "payment.html", HashMap::new(), who, None)
}

async fn pay(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (token, who) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let parsed = (|| -> Result<(i64, i64, Option<i64>), ApiError> {
        let customer = required(&form, "customer_id")?;
        let amount = orderlake_desk::parse_cents(
            "amount",
            form.get("amount").map(String::as_str).unwrap_or(""),
        )?;
        Ok((customer, amount, number(&form, "order_id")?))
    })();
    let outcome = match parsed {
        Ok((customer, amount, order)) => {
            s.call_token(Some(token), move |d, a| {
                d.pay(a, customer, amount, order)?;
                Ok((customer, amount, d.balance(customer)?))
            })
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok((customer, amount, balance)) => flash_to(
            "message",
            &format!(
                "Payment of {} from customer {customer} recorded; balance now {}.",
                cents_text(amount),
                cents_text(balance)
            ),
        ),
        Err(e) => form_page("Payment", "payment.html", form, who, Some(e)),
    }
}

#[derive(Serialize)]
struct Param {
    name: &'static str,
    label: &'static str,
    value: String,
    placeholder: &'static str,
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

async fn report(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (token, who) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let today = today();
    let get = |k: &str, default: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let param =
        |name: &'static str, label: &'static str, value: String, placeholder: &'static str| Param {
            name,
            label,
            value,
            placeholder,
        };
    let month_start = format!("{}-01", &today[..7]);
    let (title, params, result): (&str, Vec<Param>, Result<Value, ApiError>) = match name.as_str() {
        "aging" => {
            let as_of = get("as_of", &today);
            let a2 = as_of.clone();
            let r = s
                .read_token(Some(token), move |d, a| d.credit_aging(a, &a2))
                .await;
            (
                "Credit aging",
                vec![param("as_of", "As of", as_of, "YYYY-MM-DD")],
                r.map(|rows| table(&rows, None, None)),
            )
        }
        "sales" | "reversals" => {
            let (from, to) = (get("from", &month_start), get("to", &today));
            let (f, t) = (from.clone(), to.clone());
            let params = vec![
                param("from", "From", from, "YYYY-MM-DD"),
                param("to", "To", to, "YYYY-MM-DD"),
            ];
            if name == "sales" {
                let r = s
                    .read_token(Some(token), move |d, a| d.sales(a, &f, &t))
                    .await;
                (
                    "Sales",
                    params,
                    r.map(|rows| {
                        let net: i64 = rows.iter().map(|r| r.net_cents).sum();
                        let margin: i64 = rows.iter().map(|r| r.margin_cents).sum();
                        table(
                            &rows,
                            Some(format!(
                                "Net sales {}, margin {}.",
                                cents_text(net),
                                cents_text(margin)
                            )),
                            None,
                        )
                    }),
                )
            } else {
                let r = s
                    .read_token(Some(token), move |d, a| d.reversals(a, &f, &t))
                    .await;
                ("Reversals", params, r.map(|rows| table(&rows, None, None)))
            }
        }
        "rebates" => {
            let month = get("month", &today[..7]);
            let m = month.clone();
            let r = s
                .read_token(Some(token), move |d, a| d.rebates(a, &m))
                .await;
            (
                "Rebates",
                vec![param("month", "Month", month, "YYYY-MM")],
                r.map(|rows| table(&rows, None, None)),
            )
        }
        "inventory" => {
            let day = get("day", &today);
            let d2 = day.clone();
            let r = s
                .read_token(Some(token), move |d, a| d.inventory(a, &d2))
                .await;
            (
                "Inventory",
                vec![param("day", "Day", day, "YYYY-MM-DD")],
                r.map(|rows| table(&rows, None, None)),
            )
        }
        "statement" => {
            let (customer, from, to) = (
                get("customer_id", ""),
                get("from", &month_start),
                get("to", &today),
            );
            let params = vec![
                param("customer_id", "Customer id", customer.clone(), ""),
                param("from", "From", from.clone(), "YYYY-MM-DD"),
                param("to", "To", to.clone(), "YYYY-MM-DD"),
            ];
            let r = if customer.is_empty() {
                Ok(context! {})
            } else {
                match customer.parse::<i64>() {
                    Err(_) => Err(ApiError::invalid(
                        "customer_id",
                        format!("'{customer}' is not a number"),
                    )),
                    Ok(id) => s
                        .read_token(Some(token), move |d, a| d.statement(a, id, &from, &to))
                        .await
                        .map(|st| {
                            let summary = format!(
                                "{} — opening balance {}, closing balance {}.",
                                st.customer_name,
                                cents_text(st.opening_balance_cents),
                                cents_text(st.closing_balance_cents)
                            );
                            table(&st.entries, Some(summary), None)
                        }),
                }
            };
            ("Customer statement", params, r)
        }
        _ => {
            let e = ApiError::from(DeskError::invalid(
                "report",
                format!("no report named '{name}'"),
            ));
            return flash_to("error", &refusal(&e));
        }
    };
    let (ctx, error, status) = match result {
        Ok(ctx) => (ctx, None, StatusCode::OK),
        Err(e) => (context! {}, Some(refusal(&e)), e.status),
    };
    let ctx = context! { params => Value::from(Serde(params)), ..ctx };
    let mut page = Page::new(title, "table.html", ctx);
    page.who = Some(who);
    page.error = error;
    page.status = status;
    page.into_response()
}

/// A serialized row's fields in declaration order (serde_json's map would sort them).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    out.push(kv);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Rows as a table: money (`*_cents`) shown as amounts, numbers right-aligned. With
/// `bill_by`, each row gets a Bill button for the order id in that column.
fn table<T: Serialize>(rows: &[T], summary: Option<String>, bill_by: Option<&str>) -> Value {
    let (columns, cells) = tabulate(rows);
    // Headers are the field names with `_` as spaces (see `tabulate`).
    let id_at = bill_by.and_then(|key| {
        let header = key.replace('_', " ");
        columns.iter().position(|c| *c == header)
    });
    let out: Vec<Value> = cells
        .into_iter()
        .map(|row| {
            let id = id_at.map(|i| row[i].text.clone()).unwrap_or_default();
            let cells: Vec<Value> = row
                .into_iter()
                .map(|c| context! { text => c.text, num => c.numeric })
                .collect();
            context! { cells => cells, id => id }
        })
        .collect();
    let bill = bill_by.is_some();
    context! { columns => columns, rows => out, summary => summary, bill => bill, ran => true }
}

/// A cell of a tabulated report.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    /// Right-align it.
    pub numeric: bool,
}

/// Serializable rows as column headers and text cells, fields in declaration order; `*_cents`
/// fields become amounts (`1234` → `12.34`) under a header without the suffix.
pub fn tabulate<T: Serialize>(rows: &[T]) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut columns = Vec::new();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Ok(text) = serde_json::to_string(row) else {
            continue;
        };
        let Ok(Ordered(fields)) = serde_json::from_str::<Ordered>(&text) else {
            continue;
        };
        if i == 0 {
            columns = fields
                .iter()
                .map(|(k, _)| k.strip_suffix("_cents").unwrap_or(k).replace('_', " "))
                .collect();
        }
        out.push(
            fields
                .iter()
                .map(|(k, v)| {
                    let (text, numeric) = match v {
                        serde_json::Value::Number(n) if k.ends_with("_cents") => {
                            (n.as_i64().map(cents_text).unwrap_or_default(), true)
                        }
                        serde_json::Value::Number(n) => (n.to_string(), true),
                        serde_json::Value::Null => (String::new(), false),
                        serde_json::Value::Bool(b) => {
                            ((if *b { "yes" } else { "no" }).to_string(), false)
                        }
                        serde_json::Value::String(s) => (s.clone(), false),
                        other => (other.to_string(), false),
                    };
                    Cell { text, numeric }
                })
                .collect(),
        );
    }
    (columns, out)
}
