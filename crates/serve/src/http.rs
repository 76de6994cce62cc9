//! The HTTP side: dashboard pages, their JSON API, the docs site at `/docs`, and the assets
//! (Chart.js included), all served from the binary.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use include_dir::{Dir, include_dir};
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde_json::json;

use crate::dashboard::{self, Filters, PAGES};
use crate::live::Live;

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");
const PAGE_TEMPLATE: &str = include_str!("../templates/page.html");

/// The docs site, rendered in memory: path → file content.
pub type DocsSite = Arc<RwLock<BTreeMap<String, Vec<u8>>>>;

#[derive(Clone)]
pub struct AppState {
    live: Arc<Live>,
    docs: DocsSite,
    templates: Arc<Environment<'static>>,
    jobs: Option<Arc<crate::JobsView>>,
    health: Arc<orderlake_monitor::HealthConfig>,
}

impl AppState {
    pub fn new(
        live: Arc<Live>,
        docs: DocsSite,
        jobs: Option<Arc<crate::JobsView>>,
        health: Arc<orderlake_monitor::HealthConfig>,
    ) -> AppState {
        let mut env = Environment::new();
        env.add_template("page.html", PAGE_TEMPLATE)
            .unwrap_or_else(|e| panic!("the bundled page template is invalid: {e}"));
        AppState {
            live,
            docs,
            templates: Arc::new(env),
            jobs,
            health,
        }
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/api/health", get(health_json))
        .route("/api/version", get(version))
        .route("/api/jobs", get(jobs_json))
        .route("/api/dashboard", get(pages))
        .route("/api/dashboard/{page}", get(page_json))
        .route("/api/dashboard/{page}/{panel}", get(panel_json))
        .route("/assets/{*path}", get(asset))
        .route("/docs", get(|| async { Redirect::to("/docs/") }))
        .route("/docs/", get(docs_index))
        .route("/docs/{*path}", get(docs_file))
        .route("/{page}", get(page_html))
        .with_state(state)
}

fn json_error(status: StatusCode, field: Option<&str>, message: String) -> Response {
    let body = json!({"error": status.canonical_reason().unwrap_or("error").to_lowercase(), "field": field, "message": message});
    (status, axum::Json(body)).into_response()
}

async fn version(State(state): State<AppState>) -> Response {
    let snapshot = state.live.snapshot();
    axum::Json(json!({
        "version": snapshot.version,
        "opened_at": snapshot.opened_at.to_rfc3339(),
    }))
    .into_response()
}

/// The first page this project has data for.
async fn home(State(state): State<AppState>) -> Redirect {
    let snapshot = state.live.snapshot();
    let first = dashboard::available_pages(&snapshot)
        .await
        .first()
        .map_or("sales", |p| p.slug);
    Redirect::to(&format!("/{first}"))
}

async fn pages(State(state): State<AppState>) -> Response {
    let snapshot = state.live.snapshot();
    let list: Vec<_> = dashboard::available_pages(&snapshot)
        .await
        .into_iter()
        .map(|p| {
            json!({
                "page": p.slug,
                "title": p.title,
                "filters": p.filters,
                "panels": p.panels.iter().map(|x| json!({"id": x.id, "title": x.title, "kind": x.kind, "url": format!("/api/dashboard/{}/{}", p.slug, x.id)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(list).into_response()
}

async fn filters_of(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<Filters, Response> {
    let snapshot = state.live.snapshot();
    let channels = dashboard::channels(&snapshot).await;
    let platforms = dashboard::platforms(&snapshot).await;
    Filters::parse(
        params.get("from").map(String::as_str),
        params.get("to").map(String::as_str),
        params.get("channel").map(String::as_str),
        &channels,
    )
    .and_then(|f| f.with_platform(params.get("platform").map(String::as_str), &platforms))
    .map_err(|e| json_error(StatusCode::BAD_REQUEST, Some(&e.field), e.message))
}

fn unknown_page(slug: &str) -> Response {
    let known: Vec<_> = PAGES.iter().map(|p| p.slug).collect();
    json_error(
        StatusCode::NOT_FOUND,
        Some("page"),
        format!("no dashboard page '{slug}' (pages: {})", known.join(", ")),
    )
}

async fn page_json(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(page) = dashboard::page(&slug) else {
        return unknown_page(&slug);
    };
    let filters = match filters_of(&state, &params).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let snapshot = state.live.snapshot();
    axum::Json(dashboard::page_data(&snapshot, page, &filters).await).into_response()
}

async fn panel_json(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(page) = dashboard::page(&slug) else {
        return unknown_page(&slug);
    };
    let Some(panel) = page.panels.iter().find(|p| p.id == id) else {
        let known: Vec<_> = page.panels.iter().map(|p| p.id).collect();
        return json_error(
            StatusCode::NOT_FOUND,
            Some("panel"),
            format!(
                "page '{slug}' has no panel '{id}' (panels: {})",
                known.join(", ")
            ),
        );
    };
    let filters = match filters_of(&state, &params).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let snapshot = state.live.snapshot();
    axum::Json(dashboard::panel_data(&snapshot, panel, &filters).await).into_response()
}

async fn page_html(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(page) = dashboard::page(&slug) else {
        return (
            StatusCode::NOT_FOUND,
            Html(format!(
                "<h1>No page {}</h1><p><a href=\"/sales\">Dashboard</a></p>",
                minijinja::HtmlEscape(&slug)
            )),
        )
            .into_response();
    };
    let snapshot = state.live.snapshot();
    let channels = dashboard::channels(&snapshot).await;
    let platforms = if page.filters.contains(&"platform") {
        dashboard::platforms(&snapshot).await
    } else {
        Vec::new()
    };
    let (filters, filter_error) = match Filters::parse(
        params.get("from").map(String::as_str),
        params.get("to").map(String::as_str),
        params.get("channel").map(String::as_str),
        &channels,
    )
    .and_then(|f| f.with_platform(params.get("platform").map(String::as_str), &platforms))
    {
        Ok(f) => (f, None),
        Err(e) => (Filters::default(), Some(e.to_string())),
    };
    let (first_day, last_day) = dashboard::date_bounds(&snapshot).await;
    let data = dashboard::page_data(&snapshot, page, &filters).await;
    let health = if page.slug == "health" {
        match health_report(&state).await {
            Ok(report) => Some(Value::from(Serde(report))),
            Err(e) => Some(Value::from(Serde(json!({"error": e.to_string()})))),
        }
    } else {
        None
    };
    let data_json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
    let nav: Vec<_> = dashboard::available_pages(&snapshot)
        .await
        .into_iter()
        .map(|p| json!({"slug": p.slug, "title": p.title}))
        .collect();
    let rendered = state.templates.get_template("page.html").and_then(|t| {
        t.render(context! {
            page => Value::from(Serde(json!({"slug": page.slug, "title": page.title, "about": page.about, "filters": page.filters}))),
            nav => Value::from(Serde(nav)),
            data => Value::from(Serde(&data)),
            data_json => data_json.replace("</", "<\\/"),
            channels => channels,
            platforms => platforms,
            filters => Value::from(Serde(json!({
                "from": filters.from.map(|d| d.to_string()).unwrap_or_default(),
                "to": filters.to.map(|d| d.to_string()).unwrap_or_default(),
                "channel": filters.channel.clone().unwrap_or_default(),
                "platform": filters.platform.clone().unwrap_or_default(),
            }))),
            filter_error => filter_error,
            first_day => first_day,
            last_day => last_day,
            project => state.live.project().name.clone(),
            version => snapshot.version,
            health => health,
            schedule => (page.slug == "jobs")
                .then(|| state.jobs.as_ref().map(|v| Value::from(Serde(v.jobs(chrono::Utc::now())))))
                .flatten(),
        })
    });
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering {slug}: {e}"),
        )
            .into_response(),
    }
}

async fn health_report(
    state: &AppState,
) -> Result<orderlake_monitor::HealthReport, orderlake_monitor::ReportError> {
    let snapshot = state.live.snapshot();
    orderlake_monitor::report::collect(
        &snapshot.warehouse,
        state.live.project(),
        &state.health,
        chrono::Utc::now(),
    )
    .await
}

/// The health report as JSON: `status` is `ok`, `warn` or `error`. Always 200 when the report
/// could be made (a probe that the server is up reads the status code; one that the data is
/// sound reads `status`).
async fn health_json(State(state): State<AppState>) -> Response {
    match health_report(&state).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()),
    }
}

/// The schedule with each job's next run and what is running; 404 when no scheduler runs here.
async fn jobs_json(State(state): State<AppState>) -> Response {
    match &state.jobs {
        Some(view) => axum::Json(json!({
            "schedules": view.schedules.path.display().to_string(),
            "jobs": view.jobs(chrono::Utc::now()),
        }))
        .into_response(),
        None => json_error(
            StatusCode::NOT_FOUND,
            None,
            "no scheduler runs in this server (the project has no schedules.yml, or serve was \
             started with --no-schedules)"
                .into(),
        ),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "md" => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn file_response(path: &str, bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    response
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.get_file(&path) {
        Some(file) => {
            let mut response = file_response(&path, file.contents().to_vec());
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            response
        }
        None => json_error(
            StatusCode::NOT_FOUND,
            Some("path"),
            format!("no asset {path}"),
        ),
    }
}

async fn docs_index(State(state): State<AppState>) -> Response {
    serve_doc(&state, "index.html")
}

async fn docs_file(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path
    };
    serve_doc(&state, &path)
}

fn serve_doc(state: &AppState, path: &str) -> Response {
    let site = state.docs.read().unwrap_or_else(|p| p.into_inner());
    match site.get(path) {
        Some(bytes) => file_response(path, bytes.clone()),
        None => (
            StatusCode::NOT_FOUND,
            Html(format!(
                "<h1>Not in the docs: {}</h1><p><a href=\"/docs/\">Docs home</a></p>",
                minijinja::HtmlEscape(path)
            )),
        )
            .into_response(),
    }
}
