//! The desk over HTTP: every refusal is a 4xx JSON body naming the field and the rule, roles are
//! enforced per operation, the OpenAPI document covers every route, and the web forms work.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use orderlake_desk::{Desk, DeskDb};
use orderlake_desk_http::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    _dir: tempfile::TempDir,
    app: Router,
    manager: String,
}

/// The database the desk under test runs on.
#[derive(Debug, Clone, Copy)]
enum Store {
    Sqlite,
    Postgres,
}

impl Api {
    /// A desk on `store` behind the router, with a manager token; `None` where PostgreSQL is
    /// not installed outside CI.
    async fn new(store: Store) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("desk.db");
        // PostgreSQL's synchronous client connects off the async threads.
        let (desk, manager) = tokio::task::spawn_blocking(move || {
            let db = match store {
                Store::Sqlite => DeskDb::Sqlite(file),
                Store::Postgres => DeskDb::Postgres(orderlake_test_postgres::database()?),
            };
            let mut desk = Desk::open(db).unwrap();
            let manager = desk.bootstrap_token("mia").unwrap();
            Some((desk, manager))
        })
        .await
        .unwrap()?;
        let landing = dir.path().join("landing");
        Some(Api {
            app: router(AppState::new(desk, Some(landing))),
            _dir: dir,
            manager,
        })
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_with(method, uri, token, &[], body).await
    }

    /// A request with extra headers; the response's status and JSON body.
    async fn send_with(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// A POST carrying `Idempotency-Key: key`.
    async fn post_once(
        &self,
        uri: &str,
        token: &str,
        key: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.send_with(
            "POST",
            uri,
            Some(token),
            &[("idempotency-key", key)],
            Some(body),
        )
        .await
    }

    async fn post(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send("POST", uri, Some(token), Some(body)).await
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.send("GET", uri, Some(token), None).await
    }

    async fn created(&self, uri: &str, token: &str, body: Value) -> i64 {
        let (status, v) = self.post(uri, token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{uri}: {v}");
        v["id"].as_i64().unwrap()
    }

    async fn token(&self, name: &str, role: &str) -> String {
        let (status, v) = self
            .post(
                "/api/tokens",
                &self.manager,
                json!({"name": name, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_string()
    }
}

/// Master data through the API: returns (customer, location, product, carrier, warehouse).
async fn master_data(api: &Api) -> (i64, i64, i64, i64, i64) {
    let m = &api.manager;
    let territory = api
        .created("/api/territories", m, json!({"name": "South Lagos", "manager_first_name": "Tunde", "manager_last_name": "Adeyemi"}))
        .await;
    let location = api
        .created("/api/locations", m, json!({"region": "South", "territory_id": territory, "state": "Lagos", "city": "Ikeja"}))
        .await;
    let kind = api
        .created("/api/customer-types", m, json!({"name": "Retail"}))
        .await;
    let customer = api
        .created("/api/customers", m, json!({"name": "Ade Stores", "customer_type_id": kind, "email": "ade@example.com", "location_id": location, "credit_limit_cents": 100_000}))
        .await;
    let product = api
        .created("/api/products", m, json!({"description": "Malta 33cl", "brand": "Malta", "category": "Beverages", "price_cents": 1_000, "cost_cents": 600, "on_hand": 50}))
        .await;
    let carrier = api
        .created(
            "/api/carriers",
            m,
            json!({"name": "SwiftHaul", "location_id": location}),
        )
        .await;
    let warehouse = api
        .created(
            "/api/warehouses",
            m,
            json!({"name": "Lagos DC", "location_id": location}),
        )
        .await;
    (customer, location, product, carrier, warehouse)
}

fn refused(status: StatusCode, body: &Value, want: StatusCode, field: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["field"], json!(field), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

async fn an_order_goes_through_its_life_over_http(store: Store) {
    let Some(api) = Api::new(store).await else {
        return;
    };
    let (customer, location, product, carrier, warehouse) = master_data(&api).await;
    let clerk = api.token("cole", "clerk").await;
    let analyst = api.token("ana", "analyst").await;

    let order = api
        .created("/api/orders", &clerk, json!({"customer_id": customer, "location_id": location, "lines": [{"product_id": product, "quantity": 4}]}))
        .await;
    let (status, _) = api
        .send(
            "PUT",
            &format!("/api/orders/{order}/lines"),
            Some(&clerk),
            Some(json!({"product_id": product, "quantity": 6})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, bill) = api
        .post(&format!("/api/orders/{order}/bill"), &clerk, json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{bill}");
    // 6 × 10.00 = 60.00, VAT 7.5% = 4.50.
    assert_eq!(
        bill,
        json!({"outcome": "billed", "net_cents": 6_000, "vat_cents": 450, "total_cents": 6_450})
    );
    let (status, v) = api
        .post(&format!("/api/orders/{order}/ship"), &clerk, json!({"carrier_id": carrier, "warehouse_id": warehouse, "promised_at": "2030-01-01 12:00:00"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = api
        .post(&format!("/api/orders/{order}/deliver"), &clerk, json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.get(&format!("/api/orders/{order}"), &analyst).await.1["status"],
        "delivered"
    );

    let (status, refund) = api
        .post(
            &format!("/api/orders/{order}/returns"),
            &clerk,
            json!({"line_no": 1, "quantity": 2, "reason": "damaged"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refund["refund_cents"], 2_150);
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/returns"),
            &clerk,
            json!({"line_no": 1, "quantity": 5, "reason": "damaged"}),
        )
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "quantity");

    api.created(
        "/api/payments",
        &clerk,
        json!({"customer_id": customer, "amount_cents": 1_000}),
    )
    .await;
    let (_, c) = api
        .get(&format!("/api/customers/{customer}"), &analyst)
        .await;
    assert_eq!(c["balance_cents"], 6_450 - 2_150 - 1_000);

    let (status, body) = api
        .post(
            "/api/write-offs",
            &api.manager,
            json!({"customer_id": customer, "amount_cents": 999_999, "reason": "bad debt"}),
        )
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "amount");
    api.created(
        "/api/write-offs",
        &api.manager,
        json!({"customer_id": customer, "amount_cents": 300, "reason": "goodwill"}),
    )
    .await;

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (status, sales) = api
        .get(
            &format!("/api/reports/sales?from={today}&to={today}"),
            &analyst,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sales[0]["net_quantity"], 4);
    assert_eq!(sales[0]["net_cents"], 4_000);
    let (_, st) = api
        .get(
            &format!("/api/customers/{customer}/statement?from={today}&to={today}"),
            &analyst,
        )
        .await;
    assert_eq!(st["closing_balance_cents"], 6_450 - 2_150 - 1_000 - 300);
    assert_eq!(st["entries"].as_array().unwrap().len(), 4);
    let (_, inv) = api
        .get(&format!("/api/reports/inventory?day={today}"), &analyst)
        .await;
    assert_eq!(
        (inv[0]["opening"].as_i64(), inv[0]["closing"].as_i64()),
        (Some(0), Some(46))
    );
    let (_, now) = api.get(&format!("/api/products/{product}"), &analyst).await;
    assert_eq!(
        (now["on_hand"].as_i64(), now["price_cents"].as_i64()),
        (Some(46), Some(1_000)),
        "{now}"
    );
    let (status, body) = api
        .get(&format!("/api/products/{product}?at=2000-01-01"), &analyst)
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "at");
    let (_, aging) = api.get("/api/reports/aging", &analyst).await;
    assert_eq!(aging[0]["days_0_30"], 6_450 - 2_150 - 1_000 - 300);
    for report in [
        "outstanding",
        "reversals?from=2026-01-01&to=2999-01-01",
        &format!("rebates?month={}", &today[..7]),
    ] {
        let (status, v) = api.get(&format!("/api/reports/{report}"), &analyst).await;
        assert_eq!(status, StatusCode::OK, "{report}: {v}");
        assert!(v.is_array());
    }

    let (status, files) = api.post("/api/publish", &api.manager, json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{files}");
    let entities: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["entity"].as_str().unwrap())
        .collect();
    for e in [
        "orders",
        "order_lines",
        "ledger",
        "payments",
        "returns",
        "shipments",
        "inventory_movements",
        "customers",
        "products",
    ] {
        assert!(entities.contains(&e), "{e} published: {entities:?}");
    }
}

async fn refusals_are_json_naming_the_field_and_write_nothing(store: Store) {
    let Some(api) = Api::new(store).await else {
        return;
    };
    let (customer, location, product, _, _) = master_data(&api).await;
    let clerk = api.token("cole", "clerk").await;
    let analyst = api.token("ana", "analyst").await;
    let order =
        |lines: Value| json!({"customer_id": customer, "location_id": location, "lines": lines});

    let (status, body) = api
        .send(
            "POST",
            "/api/orders",
            None,
            Some(order(json!([{"product_id": product, "quantity": 1}]))),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let (status, body) = api
        .post(
            "/api/orders",
            "oltk_not_a_token",
            order(json!([{"product_id": product, "quantity": 1}])),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = api
        .post(
            "/api/orders",
            &analyst,
            order(json!([{"product_id": product, "quantity": 1}])),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["message"].as_str().unwrap().contains("analyst"),
        "{body}"
    );
    let (status, body) = api
        .post(
            &format!("/api/customers/{customer}/credit-limit"),
            &clerk,
            json!({"credit_limit_cents": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, body) = api
        .post(
            "/api/orders",
            &clerk,
            order(json!([{"product_id": product, "quantity": 0}])),
        )
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "lines[0].quantity",
    );
    let (status, body) = api
        .post(
            "/api/orders",
            &clerk,
            order(json!([{"product_id": product}])),
        )
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "lines[0].quantity",
    );
    let (status, body) = api
        .post(
            "/api/orders",
            &clerk,
            order(json!([{"product_id": "ten", "quantity": 1}])),
        )
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "lines[0].product_id",
    );
    let (status, body) = api
        .post(
            "/api/orders",
            &clerk,
            order(json!([{"product_id": 77, "quantity": 1}])),
        )
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "product_id",
    );
    let (status, body) = api
        .post("/api/orders", &clerk, json!({"customer_id": 5, "location_id": location, "lines": [{"product_id": product, "quantity": 1}]}))
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "customer_id",
    );
    let territory = api
        .created(
            "/api/territories",
            &api.manager,
            json!({"name": "North", "manager_first_name": "A", "manager_last_name": "B"}),
        )
        .await;
    let elsewhere = api
        .created(
            "/api/locations",
            &api.manager,
            json!({"region": "North", "territory_id": territory, "state": "Kano", "city": "Kano"}),
        )
        .await;
    let (status, body) = api
        .post("/api/orders", &clerk, json!({"customer_id": customer, "location_id": elsewhere, "lines": [{"product_id": product, "quantity": 1}]}))
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "location_id",
    );
    let (status, body) = api
        .post(
            "/api/orders",
            &clerk,
            json!({"customer_id": customer, "lines": []}),
        )
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "location_id",
    );
    let (status, body) = api
        .post(
            "/api/payments",
            &clerk,
            json!({"customer_id": customer, "amount_cents": -5}),
        )
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "amount");
    let (status, body) = api.post("/api/orders/abc/bill", &clerk, json!(null)).await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "id");
    let (status, body) = api
        .get("/api/reports/sales?from=2026-13-01&to=2026-01-01", &analyst)
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "from");
    let (status, body) = api
        .get("/api/reports/sales?from=2026-01-01", &analyst)
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "to");

    let billed = api
        .created(
            "/api/orders",
            &clerk,
            order(json!([{"product_id": product, "quantity": 1}])),
        )
        .await;
    api.post(&format!("/api/orders/{billed}/bill"), &clerk, json!(null))
        .await;
    let (status, body) = api
        .post(
            &format!("/api/orders/{billed}/cancel"),
            &clerk,
            json!({"reason": "changed mind"}),
        )
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "order_id");

    // Only the one good order was written.
    let (_, c) = api
        .get(&format!("/api/customers/{customer}"), &analyst)
        .await;
    assert_eq!(c["balance_cents"], 1_075);
    let (_, outstanding) = api.get("/api/reports/outstanding", &analyst).await;
    assert_eq!(outstanding, json!([]));
}

async fn the_openapi_document_describes_every_route_with_bearer_auth(store: Store) {
    let Some(api) = Api::new(store).await else {
        return;
    };
    let (status, doc) = api.send("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/orders", "post"),
        ("/api/orders/{id}/bill", "post"),
        ("/api/orders/{id}/lines", "put"),
        ("/api/orders/{id}/returns", "post"),
        ("/api/payments", "post"),
        ("/api/write-offs", "post"),
        ("/api/rebate-runs", "post"),
        ("/api/customers/{id}/credit-limit", "post"),
        ("/api/customers/{id}/statement", "get"),
        ("/api/reports/aging", "get"),
        ("/api/reports/inventory", "get"),
        ("/api/tokens", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} documented"
        );
    }
    assert_eq!(
        paths.len(),
        33,
        "every route but the document and health is documented: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(
        schemas.contains_key("NewOrder")
            && schemas.contains_key("ErrorBody")
            && schemas.contains_key("SalesRow")
    );
}

async fn page(
    api: &Api,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (StatusCode, String, Option<String>, Option<String>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let req = match form {
        Some(f) => req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(f.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = api.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let header_of = |h| {
        res.headers()
            .get(h)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(String::from)
    };
    let (set_cookie, location) = (header_of(header::SET_COOKIE), header_of(header::LOCATION));
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&bytes).into(),
        set_cookie,
        location,
    )
}

async fn web_forms_sign_in_raise_and_bill_an_order_and_show_reports(store: Store) {
    let Some(api) = Api::new(store).await else {
        return;
    };
    let (customer, location, product, _, _) = master_data(&api).await;
    let clerk = api.token("cole", "clerk").await;

    let (status, html, _, _) = page(&api, "GET", "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign in with your API token"));
    let (status, html, _, _) = page(&api, "POST", "/login", None, Some("token=wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("a valid API token is required"));
    let (_, _, set_cookie, _) = page(
        &api,
        "POST",
        "/login",
        None,
        Some(&format!("token={clerk}")),
    )
    .await;
    let cookie = set_cookie.unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_string();

    // A refused form comes back with the input kept and the field named.
    let form = format!(
        "customer_id={customer}&location_id={location}&product_id_1={product}&quantity_1=-3"
    );
    let (status, html, _, _) = page(&api, "POST", "/orders/new", Some(&cookie), Some(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("lines[0].quantity: must be greater than 0"),
        "{html}"
    );
    assert!(html.contains("value=\"-3\""));

    let form = format!(
        "customer_id={customer}&location_id={location}&product_id_1={product}&quantity_1=3&bill=yes"
    );
    let (status, _, _, location_header) =
        page(&api, "POST", "/orders/new", Some(&cookie), Some(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html, _, _) = page(&api, "GET", &location_header.unwrap(), Some(&cookie), None).await;
    assert!(html.contains("billed 32.25 (VAT included)"), "{html}");

    let (_, html, _, _) = page(&api, "GET", "/reports/sales", Some(&cookie), None).await;
    assert!(html.contains("Net sales 30.00, margin 12.00."), "{html}");
    let (_, html, _, _) = page(
        &api,
        "GET",
        &format!("/reports/statement?customer_id={customer}"),
        Some(&cookie),
        None,
    )
    .await;
    assert!(html.contains("closing balance 32.25"), "{html}");
    let (status, html, _, _) = page(
        &api,
        "GET",
        "/reports/inventory?day=someday",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("day: &#x27;someday&#x27; is not a date")
            || html.contains("day: 'someday' is not a date"),
        "{html}"
    );
    // Markup in data is escaped.
    let (_, html, _, _) = page(
        &api,
        "GET",
        "/reports/inventory?day=%3Cb%3E",
        Some(&cookie),
        None,
    )
    .await;
    assert!(!html.contains("<b>"));
}

async fn a_retried_post_with_an_idempotency_key_is_applied_once_and_answers_the_first_result(
    store: Store,
) {
    let Some(api) = Api::new(store).await else {
        return;
    };
    let (customer, location, product, _, _) = master_data(&api).await;
    let clerk = api.token("cole", "clerk").await;
    let order = json!({"customer_id": customer, "location_id": location, "lines": [{"product_id": product, "quantity": 4}]});
    let (first_status, first) = api
        .post_once("/api/orders", &clerk, "order-1", order.clone())
        .await;
    let (retry_status, retry) = api
        .post_once("/api/orders", &clerk, "order-1", order.clone())
        .await;
    assert_eq!(
        (first_status, retry_status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first, retry, "the retry answers the first order id");
    let id = first["id"].as_i64().unwrap();

    // A bill retried after a timeout bills once; the stock moves once.
    let bill = format!("/api/orders/{id}/bill");
    let (_, billed) = api.post_once(&bill, &clerk, "bill-1", json!(null)).await;
    let (_, again) = api.post_once(&bill, &clerk, "bill-1", json!(null)).await;
    assert_eq!(billed["outcome"], "billed", "{billed}");
    assert_eq!(billed, again);
    let (_, owed) = api.get(&format!("/api/customers/{customer}"), &clerk).await;
    assert_eq!(
        owed["balance_cents"],
        json!(4_300),
        "4 x 10.00 + 7.5% VAT, once: {owed}"
    );

    // A payment retried: one ledger entry, the same entry id answered.
    let payment = json!({"customer_id": customer, "amount_cents": 1_000});
    let (_, paid) = api
        .post_once("/api/payments", &clerk, "pay-1", payment.clone())
        .await;
    let (_, paid_again) = api
        .post_once("/api/payments", &clerk, "pay-1", payment)
        .await;
    assert_eq!(paid, paid_again);
    let (_, owed) = api.get(&format!("/api/customers/{customer}"), &clerk).await;
    assert_eq!(owed["balance_cents"], json!(3_300), "{owed}");

    // The same key with another body is refused, naming the header; nothing is applied.
    let (status, body) = api
        .post_once(
            "/api/payments",
            &clerk,
            "pay-1",
            json!({"customer_id": customer, "amount_cents": 999}),
        )
        .await;
    refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Idempotency-Key",
    );
    let (_, owed) = api.get(&format!("/api/customers/{customer}"), &clerk).await;
    assert_eq!(owed["balance_cents"], json!(3_300));

    // Without a key, every POST acts: two payments.
    let payment = json!({"customer_id": customer, "amount_cents": 100});
    api.created("/api/payments", &clerk, payment.clone()).await;
    api.created("/api/payments", &clerk, payment).await;
    let (_, owed) = api.get(&format!("/api/customers/{customer}"), &clerk).await;
    assert_eq!(owed["balance_cents"], json!(3_100));
}

/// Many clients at once through the batching writer: every bill is decided against the stock
/// the batch before it left, none oversells, and each answer matches what was committed.
async fn concurrent_clients_through_the_batching_writer_never_oversell(store: Store) {
    let Some(api) = Api::new(store).await else {
        return;
    };
    let api = std::sync::Arc::new(api);
    let (customer, location, product, _, _) = master_data(&api).await;
    // Enough credit for every order: stock is the only limit (50 units).
    api.post(
        &format!("/api/customers/{customer}/credit-limit"),
        &api.manager,
        json!({"credit_limit_cents": 100_000_000}),
    )
    .await;
    let clerk = api.token("cole", "clerk").await;
    let mut tasks = Vec::new();
    for client in 0..32 {
        let (api, clerk) = (api.clone(), clerk.clone());
        tasks.push(tokio::spawn(async move {
            let mut billed_units = 0;
            for i in 0..4 {
                let quantity = 1 + (client + i) % 3;
                let order = json!({"customer_id": customer, "location_id": location, "lines": [{"product_id": product, "quantity": quantity}]});
                let id = api.created("/api/orders", &clerk, order).await;
                let (status, outcome) = api.post(&format!("/api/orders/{id}/bill"), &clerk, json!(null)).await;
                assert_eq!(status, StatusCode::OK, "{outcome}");
                match outcome["outcome"].as_str() {
                    Some("billed") => billed_units += quantity,
                    Some("on_hold") => assert_eq!(outcome["reason"], "out of stock", "{outcome}"),
                    other => panic!("unexpected outcome {other:?}: {outcome}"),
                }
            }
            billed_units
        }));
    }
    let mut billed = 0;
    for task in tasks {
        billed += task.await.unwrap();
    }
    let (_, now) = api.get(&format!("/api/products/{product}"), &clerk).await;
    assert!(billed <= 50, "sold {billed} of 50");
    assert!(billed > 0);
    assert_eq!(now["on_hand"].as_i64(), Some(50 - billed as i64), "{now}");
    let (_, balance) = api.get(&format!("/api/customers/{customer}"), &clerk).await;
    // 10.00 a unit plus 7.5% VAT, per order (VAT rounded per invoice: 1 unit 10.75, 2 21.50, 3 32.25).
    assert_eq!(
        balance["balance_cents"].as_i64(),
        Some(billed as i64 * 1_075),
        "{balance}"
    );
}

/// Each test above, once per database.
macro_rules! on_both_stores {
    ($($attr:meta => $name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[$attr] async fn $name() { super::$name(super::Store::Sqlite).await })*
        }
        mod on_postgres {
            $(#[$attr] async fn $name() { super::$name(super::Store::Postgres).await })*
        }
    };
}

on_both_stores! {
    tokio::test => an_order_goes_through_its_life_over_http,
    tokio::test => refusals_are_json_naming_the_field_and_write_nothing,
    tokio::test => the_openapi_document_describes_every_route_with_bearer_auth,
    tokio::test => web_forms_sign_in_raise_and_bill_an_order_and_show_reports,
    tokio::test => a_retried_post_with_an_idempotency_key_is_applied_once_and_answers_the_first_result,
    tokio::test(flavor = "multi_thread", worker_threads = 4) => concurrent_clients_through_the_batching_writer_never_oversell,
}
