//! The JSON API: one endpoint per desk operation and report. Money is integer cents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use orderlake_desk::reports::{
    AgingRow, InventoryRow, OutstandingOrder, ProductAt, RebateRow, ReversalRow, SalesRow,
    Statement,
};
use orderlake_desk::{BillOutcome, NewLine, NewProduct, Published, Role};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::{ApiError, AppState, Body, Caller, ErrorBody, Id, Params};

type Reply<T> = Result<Json<T>, ApiError>;
type CreatedReply = Result<(StatusCode, Json<Created>), ApiError>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderlake order desk",
        description = "The operational order desk: orders, billing, payments, returns, rebates and reports. \
Every call needs `Authorization: Bearer <token>`; the token's role (clerk, manager, analyst) decides what it may do. \
Refusals are 4xx with a JSON body naming the field and the rule; nothing is written."
    ),
    paths(
        add_territory, add_location, add_customer_type, add_customer, add_product, change_price,
        receive_stock, add_carrier, add_warehouse, change_credit_limit, delist_customer, issue_token,
        raise_order, reraise_line, cancel_order, bill_order, ship_order, deliver_order, return_units,
        order, pay, write_off, rebate_run, customer, publish, product_at,
        outstanding, aging, rebates, sales, reversals, inventory, statement
    ),
    modifiers(&BearerAuth),
    security(("token" = [])),
    tags(
        (name = "master data", description = "Managers only"),
        (name = "orders", description = "Clerks and managers"),
        (name = "money", description = "Payments (clerks); credit limits, write-offs, rebates (managers)"),
        (name = "reports", description = "Every role, analysts included")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/health", get(|| async { "ok" }))
        .route("/api/territories", post(add_territory))
        .route("/api/locations", post(add_location))
        .route("/api/customer-types", post(add_customer_type))
        .route("/api/customers", post(add_customer))
        .route("/api/customers/{id}", get(customer))
        .route(
            "/api/customers/{id}/credit-limit",
            post(change_credit_limit),
        )
        .route("/api/customers/{id}/delist", post(delist_customer))
        .route("/api/customers/{id}/statement", get(statement))
        .route("/api/products", post(add_product))
        .route("/api/products/{id}", get(product_at))
        .route("/api/products/{id}/price", post(change_price))
        .route("/api/products/{id}/stock", post(receive_stock))
        .route("/api/carriers", post(add_carrier))
        .route("/api/warehouses", post(add_warehouse))
        .route("/api/tokens", post(issue_token))
        .route("/api/orders", post(raise_order))
        .route("/api/orders/{id}", get(order))
        .route("/api/orders/{id}/lines", put(reraise_line))
        .route("/api/orders/{id}/cancel", post(cancel_order))
        .route("/api/orders/{id}/bill", post(bill_order))
        .route("/api/orders/{id}/ship", post(ship_order))
        .route("/api/orders/{id}/deliver", post(deliver_order))
        .route("/api/orders/{id}/returns", post(return_units))
        .route("/api/payments", post(pay))
        .route("/api/write-offs", post(write_off))
        .route("/api/rebate-runs", post(rebate_run))
        .route("/api/publish", post(publish))
        .route("/api/reports/outstanding", get(outstanding))
        .route("/api/reports/aging", get(aging))
        .route("/api/reports/rebates", get(rebates))
        .route("/api/reports/sales", get(sales))
        .route("/api/reports/reversals", get(reversals))
        .route("/api/reports/inventory", get(inventory))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The id of what was created.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

const DONE: Done = Done { ok: true };

fn created(id: i64) -> (StatusCode, Json<Created>) {
    (StatusCode::CREATED, Json(Created { id }))
}

// ----- master data -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerritory {
    name: String,
    manager_first_name: String,
    manager_last_name: String,
}

#[utoipa::path(post, path = "/api/territories", tag = "master data", request_body = NewTerritory,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_territory(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NewTerritory>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            d.add_territory(a, &b.name, &b.manager_first_name, &b.manager_last_name)
        })
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLocation {
    region: String,
    territory_id: i64,
    state: String,
    city: String,
}

#[utoipa::path(post, path = "/api/locations", tag = "master data", request_body = NewLocation,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_location(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NewLocation>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            d.add_location(a, &b.region, b.territory_id, &b.state, &b.city)
        })
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Named {
    name: String,
}

#[utoipa::path(post, path = "/api/customer-types", tag = "master data", request_body = Named,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_customer_type(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<Named>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| d.add_customer_type(a, &b.name))
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    name: String,
    customer_type_id: i64,
    email: Option<String>,
    location_id: i64,
    credit_limit_cents: i64,
}

#[utoipa::path(post, path = "/api/customers", tag = "master data", request_body = NewCustomer,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_customer(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NewCustomer>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            d.add_customer(
                a,
                &b.name,
                b.customer_type_id,
                b.email.as_deref(),
                b.location_id,
                b.credit_limit_cents,
            )
        })
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    description: String,
    brand: String,
    category: String,
    price_cents: i64,
    cost_cents: i64,
    #[serde(default)]
    on_hand: i64,
}

#[utoipa::path(post, path = "/api/products", tag = "master data", request_body = ProductBody,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_product(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<ProductBody>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            d.add_product(
                a,
                &NewProduct {
                    description: &b.description,
                    brand: &b.brand,
                    category: &b.category,
                    price_cents: b.price_cents,
                    cost_cents: b.cost_cents,
                    on_hand: b.on_hand,
                },
            )
        })
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    price_cents: Option<i64>,
    cost_cents: Option<i64>,
}

#[utoipa::path(post, path = "/api/products/{id}/price", tag = "master data", request_body = PriceChange,
    params(("id" = i64, Path, description = "product id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn change_price(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<PriceChange>,
) -> Reply<Done> {
    s.call(t, move |d, a| {
        d.change_price(a, id, b.price_cents, b.cost_cents)
    })
    .await?;
    Ok(Json(DONE))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    quantity: i64,
}

#[utoipa::path(post, path = "/api/products/{id}/stock", tag = "master data", request_body = Quantity,
    params(("id" = i64, Path, description = "product id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn receive_stock(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<Quantity>,
) -> Reply<Done> {
    s.call(t, move |d, a| d.receive_stock(a, id, b.quantity))
        .await?;
    Ok(Json(DONE))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedAt {
    name: String,
    location_id: Option<i64>,
}

#[utoipa::path(post, path = "/api/carriers", tag = "master data", request_body = NamedAt,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_carrier(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NamedAt>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| d.add_carrier(a, &b.name, b.location_id))
        .await?;
    Ok(created(id))
}

#[utoipa::path(post, path = "/api/warehouses", tag = "master data", request_body = NamedAt,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn add_warehouse(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NamedAt>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| d.add_warehouse(a, &b.name, b.location_id))
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLimit {
    credit_limit_cents: i64,
}

#[utoipa::path(post, path = "/api/customers/{id}/credit-limit", tag = "money", request_body = CreditLimit,
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn change_credit_limit(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<CreditLimit>,
) -> Reply<Done> {
    s.call(t, move |d, a| {
        d.change_credit_limit(a, id, b.credit_limit_cents)
    })
    .await?;
    Ok(Json(DONE))
}

#[utoipa::path(post, path = "/api/customers/{id}/delist", tag = "master data",
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn delist_customer(State(s): State<AppState>, Caller(t): Caller, Id(id): Id) -> Reply<Done> {
    s.call(t, move |d, a| d.delist_customer(a, id)).await?;
    Ok(Json(DONE))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// clerk, manager or analyst
    role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    /// Shown once; the desk keeps only its digest.
    pub token: String,
}

#[utoipa::path(post, path = "/api/tokens", tag = "master data", request_body = NewToken,
    responses((status = 201, body = IssuedToken), (status = "4XX", body = ErrorBody)))]
async fn issue_token(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NewToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let token = s
        .call(t, move |d, a| {
            let role = Role::parse("role", &b.role)?;
            d.issue_token(a, &b.name, role)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(IssuedToken { token })))
}

// ----- orders -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    product_id: i64,
    quantity: i64,
}

impl From<&LineBody> for NewLine {
    fn from(l: &LineBody) -> Self {
        NewLine {
            product_id: l.product_id,
            quantity: l.quantity,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    customer_id: i64,
    location_id: i64,
    lines: Vec<LineBody>,
}

#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = NewOrder,
    responses((status = 201, body = Created), (status = "4XX", body = ErrorBody)))]
async fn raise_order(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<NewOrder>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            let lines: Vec<NewLine> = b.lines.iter().map(NewLine::from).collect();
            d.raise_order(a, b.customer_id, b.location_id, &lines)
        })
        .await?;
    Ok(created(id))
}

#[utoipa::path(put, path = "/api/orders/{id}/lines", tag = "orders", request_body = LineBody,
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn reraise_line(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<LineBody>,
) -> Reply<Done> {
    s.call(t, move |d, a| d.reraise_line(a, id, NewLine::from(&b)))
        .await?;
    Ok(Json(DONE))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders", request_body = Reason,
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn cancel_order(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<Reason>,
) -> Reply<Done> {
    s.call(t, move |d, a| d.cancel_order(a, id, &b.reason))
        .await?;
    Ok(Json(DONE))
}

#[utoipa::path(post, path = "/api/orders/{id}/bill", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = BillOutcome, description = "billed, or on hold with the reason"), (status = "4XX", body = ErrorBody)))]
async fn bill_order(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
) -> Reply<BillOutcome> {
    Ok(Json(s.call(t, move |d, a| d.bill_order(a, id)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    carrier_id: i64,
    warehouse_id: i64,
    /// `YYYY-MM-DD HH:MM:SS` (UTC)
    promised_at: String,
}

#[utoipa::path(post, path = "/api/orders/{id}/ship", tag = "orders", request_body = Shipment,
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn ship_order(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<Shipment>,
) -> Reply<Done> {
    s.call(t, move |d, a| {
        d.ship_order(a, id, b.carrier_id, b.warehouse_id, &b.promised_at)
    })
    .await?;
    Ok(Json(DONE))
}

#[utoipa::path(post, path = "/api/orders/{id}/deliver", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
async fn deliver_order(State(s): State<AppState>, Caller(t): Caller, Id(id): Id) -> Reply<Done> {
    s.call(t, move |d, a| d.deliver_order(a, id)).await?;
    Ok(Json(DONE))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    line_no: i64,
    quantity: i64,
    reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    pub refund_cents: i64,
}

#[utoipa::path(post, path = "/api/orders/{id}/returns", tag = "orders", request_body = ReturnBody,
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = Refund), (status = "4XX", body = ErrorBody)))]
async fn return_units(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Body(b): Body<ReturnBody>,
) -> Reply<Refund> {
    let refund_cents = s
        .call(t, move |d, a| {
            d.return_units(a, id, b.line_no, b.quantity, &b.reason)
        })
        .await?;
    Ok(Json(Refund { refund_cents }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub order_id: i64,
    pub status: String,
}

#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = "4XX", body = ErrorBody)))]
async fn order(State(s): State<AppState>, Caller(t): Caller, Id(id): Id) -> Reply<OrderView> {
    let status = s.read(t, move |d, _| d.order_status(id)).await?;
    Ok(Json(OrderView {
        order_id: id,
        status,
    }))
}

// ----- money -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    customer_id: i64,
    amount_cents: i64,
    order_id: Option<i64>,
}

#[utoipa::path(post, path = "/api/payments", tag = "money", request_body = Payment,
    responses((status = 201, body = Created, description = "the ledger entry"), (status = "4XX", body = ErrorBody)))]
async fn pay(State(s): State<AppState>, Caller(t): Caller, Body(b): Body<Payment>) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            d.pay(a, b.customer_id, b.amount_cents, b.order_id)
        })
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOff {
    customer_id: i64,
    amount_cents: i64,
    reason: String,
}

#[utoipa::path(post, path = "/api/write-offs", tag = "money", request_body = WriteOff,
    responses((status = 201, body = Created, description = "the ledger entry"), (status = "4XX", body = ErrorBody)))]
async fn write_off(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<WriteOff>,
) -> CreatedReply {
    let id = s
        .call(t, move |d, a| {
            d.write_off(a, b.customer_id, b.amount_cents, &b.reason)
        })
        .await?;
    Ok(created(id))
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Month {
    /// `YYYY-MM`
    month: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RebatePosted {
    pub customer_id: i64,
    pub rebate_cents: i64,
}

#[utoipa::path(post, path = "/api/rebate-runs", tag = "money", request_body = Month,
    responses((status = 200, body = Vec<RebatePosted>, description = "what this run posted (nothing when the month already ran)"), (status = "4XX", body = ErrorBody)))]
async fn rebate_run(
    State(s): State<AppState>,
    Caller(t): Caller,
    Body(b): Body<Month>,
) -> Reply<Vec<RebatePosted>> {
    let rows = s.call(t, move |d, a| d.rebate_run(a, &b.month)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(customer_id, rebate_cents)| RebatePosted {
                customer_id,
                rebate_cents,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    pub customer_id: i64,
    /// Positive: the customer owes this much.
    pub balance_cents: i64,
}

#[utoipa::path(get, path = "/api/customers/{id}", tag = "reports",
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = CustomerView), (status = "4XX", body = ErrorBody)))]
async fn customer(State(s): State<AppState>, Caller(t): Caller, Id(id): Id) -> Reply<CustomerView> {
    let balance_cents = s.read(t, move |d, a| d.customer_balance(a, id)).await?;
    Ok(Json(CustomerView {
        customer_id: id,
        balance_cents,
    }))
}

#[utoipa::path(post, path = "/api/publish", tag = "master data",
    responses((status = 200, body = Vec<Published>, description = "the landing files written"), (status = "4XX", body = ErrorBody)))]
async fn publish(State(s): State<AppState>, Caller(t): Caller) -> Reply<Vec<Published>> {
    let landing = s.landing.clone().ok_or_else(|| {
        ApiError::invalid(
            "landing",
            "this desk server was started without a landing folder (--landing)",
        )
    })?;
    let files = s.call(t, move |d, a| d.publish_for(a, &landing)).await?;
    Ok(Json(files))
}

// ----- reports -----

#[utoipa::path(get, path = "/api/reports/outstanding", tag = "reports",
    responses((status = 200, body = Vec<OutstandingOrder>), (status = "4XX", body = ErrorBody)))]
async fn outstanding(State(s): State<AppState>, Caller(t): Caller) -> Reply<Vec<OutstandingOrder>> {
    Ok(Json(s.read(t, move |d, a| d.outstanding_orders(a)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    /// `YYYY-MM-DD`; today when left out.
    as_of: Option<String>,
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[utoipa::path(get, path = "/api/reports/aging", tag = "reports", params(AsOf),
    responses((status = 200, body = Vec<AgingRow>), (status = "4XX", body = ErrorBody)))]
async fn aging(
    State(s): State<AppState>,
    Caller(t): Caller,
    Params(q): Params<AsOf>,
) -> Reply<Vec<AgingRow>> {
    let as_of = q.as_of.unwrap_or_else(today);
    Ok(Json(
        s.read(t, move |d, a| d.credit_aging(a, &as_of)).await?,
    ))
}

#[utoipa::path(get, path = "/api/reports/rebates", tag = "reports", params(Month),
    responses((status = 200, body = Vec<RebateRow>), (status = "4XX", body = ErrorBody)))]
async fn rebates(
    State(s): State<AppState>,
    Caller(t): Caller,
    Params(q): Params<Month>,
) -> Reply<Vec<RebateRow>> {
    Ok(Json(s.read(t, move |d, a| d.rebates(a, &q.month)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day, `YYYY-MM-DD`
    from: String,
    /// Last day (included), `YYYY-MM-DD`
    to: String,
}

#[utoipa::path(get, path = "/api/reports/sales", tag = "reports", params(DateRange),
    responses((status = 200, body = Vec<SalesRow>), (status = "4XX", body = ErrorBody)))]
async fn sales(
    State(s): State<AppState>,
    Caller(t): Caller,
    Params(q): Params<DateRange>,
) -> Reply<Vec<SalesRow>> {
    Ok(Json(
        s.read(t, move |d, a| d.sales(a, &q.from, &q.to)).await?,
    ))
}

#[utoipa::path(get, path = "/api/reports/reversals", tag = "reports", params(DateRange),
    responses((status = 200, body = Vec<ReversalRow>), (status = "4XX", body = ErrorBody)))]
async fn reversals(
    State(s): State<AppState>,
    Caller(t): Caller,
    Params(q): Params<DateRange>,
) -> Reply<Vec<ReversalRow>> {
    Ok(Json(
        s.read(t, move |d, a| d.reversals(a, &q.from, &q.to))
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Day {
    /// `YYYY-MM-DD`; today when left out.
    day: Option<String>,
}

#[utoipa::path(get, path = "/api/reports/inventory", tag = "reports", params(Day),
    responses((status = 200, body = Vec<InventoryRow>), (status = "4XX", body = ErrorBody)))]
async fn inventory(
    State(s): State<AppState>,
    Caller(t): Caller,
    Params(q): Params<Day>,
) -> Reply<Vec<InventoryRow>> {
    let day = q.day.unwrap_or_else(today);
    Ok(Json(s.read(t, move |d, a| d.inventory(a, &day)).await?))
}

#[utoipa::path(get, path = "/api/customers/{id}/statement", tag = "reports",
    params(("id" = i64, Path, description = "customer id"), DateRange),
    responses((status = 200, body = Statement), (status = "4XX", body = ErrorBody)))]
async fn statement(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Params(q): Params<DateRange>,
) -> Reply<Statement> {
    Ok(Json(
        s.read(t, move |d, a| d.statement(a, id, &q.from, &q.to))
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct At {
    /// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (its start); now when left out.
    at: Option<String>,
}

#[utoipa::path(get, path = "/api/products/{id}", tag = "reports",
    params(("id" = i64, Path, description = "product id"), At),
    responses((status = 200, body = ProductAt, description = "price, cost and stock as of `at`"), (status = "4XX", body = ErrorBody)))]
async fn product_at(
    State(s): State<AppState>,
    Caller(t): Caller,
    Id(id): Id,
    Params(q): Params<At>,
) -> Reply<ProductAt> {
    let at = q.at.unwrap_or_else(|| {
        chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string()
    });
    Ok(Json(s.read(t, move |d, a| d.product_at(a, id, &at)).await?))
}
