//! Alerts: an incident is told once when it opens and once when it clears, to every destination
//! of `health.yml`. What was told is the Delta table `_orderlake.alerts` (one row per opening or
//! clearing), so every process that checks the health (a build, a scheduled check, another
//! machine on the same warehouse) knows what is already open.
//!
//! Each row names the destinations that took the notice. A destination that missed an opening
//! (down, or added since) is told at the next check while the incident is open, and only it;
//! a clearing goes to the destinations that were told of the opening. A notice that reached no
//! destination is not recorded, so the next check tries again: an alert may come twice, it is
//! never lost.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use orderlake_engine::{Warehouse, WriteMode};
use orderlake_project::Relation;
use serde::{Deserialize, Serialize};

use crate::config::{Destination, HealthConfig};
use crate::incidents::{Incident, Severity};
use crate::report::{ReportError, rows};

pub const ALERTS_TABLE: &str = "alerts";
/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

pub fn relation() -> Relation {
    Relation::new(orderlake_engine::layout::SYSTEM_SCHEMA, ALERTS_TABLE)
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("reading the alert log: {0}")]
    Read(#[from] ReportError),
    #[error("the alert log: {0}")]
    Warehouse(#[from] orderlake_engine::EngineError),
    #[error("building the alert log row: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

/// Whether an incident opened or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Opened,
    Resolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Opened => "opened",
            Event::Resolved => "resolved",
        }
    }
}

/// What one check told.
#[derive(Debug, Default)]
pub struct Notified {
    pub opened: Vec<Incident>,
    pub resolved: Vec<Incident>,
    /// Deliveries that failed, as `destination: error`.
    pub failures: Vec<String>,
}

/// The JSON a webhook receives: Slack shows `text`; the rest is for anything that reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notice {
    pub text: String,
    pub project: String,
    pub event: Event,
    pub key: String,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    pub at: String,
}

impl Notice {
    pub fn new(project: &str, event: Event, incident: &Incident, at: DateTime<Utc>) -> Notice {
        let text = match event {
            Event::Opened => format!(
                "[orderlake {project}] {} {}: {}\n{}",
                if incident.severity == Severity::Error {
                    "🔴"
                } else {
                    "🟠"
                },
                incident.severity.as_str().to_uppercase(),
                incident.title,
                incident.detail
            ),
            Event::Resolved => format!("[orderlake {project}] ✅ resolved: {}", incident.title),
        };
        Notice {
            text,
            project: project.to_string(),
            event,
            key: incident.key.clone(),
            severity: incident.severity,
            title: incident.title.clone(),
            detail: incident.detail.clone(),
            at: at.to_rfc3339(),
        }
    }

    fn subject(&self) -> String {
        match self.event {
            Event::Opened => format!(
                "[orderlake {}] {}: {}",
                self.project,
                self.severity.as_str().to_uppercase(),
                self.title
            ),
            Event::Resolved => format!("[orderlake {}] resolved: {}", self.project, self.title),
        }
    }
}

#[derive(Deserialize)]
struct OpenRow {
    key: String,
    severity: Severity,
    title: String,
    detail: String,
    delivered_to: String,
}

/// How `delivered_to` joins destinations.
const DESTINATION_SEPARATOR: &str = "; ";

/// The incidents told as opened and not yet as resolved.
pub async fn open_incidents(warehouse: &Warehouse) -> Result<Vec<Incident>, AlertError> {
    Ok(told_open(warehouse)
        .await?
        .into_iter()
        .map(|(incident, _)| incident)
        .collect())
}

/// Open incidents with the destinations told of each.
async fn told_open(warehouse: &Warehouse) -> Result<Vec<(Incident, Vec<String>)>, AlertError> {
    let log = relation();
    if warehouse.kind_of(&log).await?.is_none() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select key, severity, title, detail, delivered_to from (select *, row_number() over \
         (partition by key order by at desc) as n from {log}) where n = 1 and event = 'opened' \
         order by key"
    );
    let open: Vec<OpenRow> = rows(warehouse, &sql, "open incidents").await?;
    Ok(open
        .into_iter()
        .map(|r| {
            let told = r
                .delivered_to
                .split(DESTINATION_SEPARATOR)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect();
            let incident = Incident {
                key: r.key,
                severity: r.severity,
                title: r.title,
                detail: r.detail,
            };
            (incident, told)
        })
        .collect())
}

/// A notice to send: what happened to which incident, to whom, and who already knows of it.
struct Pending<'a> {
    event: Event,
    incident: Incident,
    to: Vec<&'a (String, &'a Destination)>,
    knew: Vec<String>,
}

/// Tells every destination of `config` about incidents that opened or cleared since the last
/// check (and a destination that missed an open incident's opening about it), and records what
/// was told. Without destinations nothing is told or recorded.
pub async fn notify(
    warehouse: &Warehouse,
    config: &HealthConfig,
    project: &str,
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> Result<Notified, AlertError> {
    let mut notified = Notified::default();
    if config.alerts.is_empty() {
        return Ok(notified);
    }
    let destinations: Vec<(String, &Destination)> =
        config.alerts.iter().map(|d| (d.describe(), d)).collect();
    let open = told_open(warehouse).await?;
    let mut notices: Vec<Pending> = Vec::new();
    for incident in incidents {
        match open.iter().find(|(o, _)| o.key == incident.key) {
            None => notices.push(Pending {
                event: Event::Opened,
                incident: incident.clone(),
                to: destinations.iter().collect(),
                knew: Vec::new(),
            }),
            Some((_, told)) => {
                let missing: Vec<_> = destinations
                    .iter()
                    .filter(|(name, _)| !told.contains(name))
                    .collect();
                if !missing.is_empty() {
                    notices.push(Pending {
                        event: Event::Opened,
                        incident: incident.clone(),
                        to: missing,
                        knew: told.clone(),
                    });
                }
            }
        }
    }
    for (was, told) in open {
        if incidents.iter().any(|i| i.key == was.key) {
            continue;
        }
        let heard: Vec<_> = destinations
            .iter()
            .filter(|(name, _)| told.contains(name))
            .collect();
        // Destinations all replaced since the opening: the current ones hear the clearing.
        let to = if heard.is_empty() {
            destinations.iter().collect()
        } else {
            heard
        };
        notices.push(Pending {
            event: Event::Resolved,
            incident: was,
            to,
            knew: Vec::new(),
        });
    }
    let mut told = Vec::new();
    for Pending {
        event,
        incident,
        to,
        mut knew,
    } in notices
    {
        let notice = Notice::new(project, event, &incident, now);
        let mut reached = Vec::new();
        for (name, destination) in to {
            match deliver(destination, &notice).await {
                Ok(()) => reached.push(name.clone()),
                Err(e) => {
                    let failure = format!("{name}: {e}");
                    tracing::warn!("alert for {} not delivered: {failure}", incident.key);
                    notified.failures.push(failure);
                }
            }
        }
        if reached.is_empty() {
            continue;
        }
        knew.extend(reached);
        told.push((notice, knew.join(DESTINATION_SEPARATOR)));
        match event {
            Event::Opened => notified.opened.push(incident),
            Event::Resolved => notified.resolved.push(incident),
        }
    }
    record(warehouse, &told).await?;
    Ok(notified)
}

/// Rows are stamped with the wall clock (not the time judged, which `--at` can move), so the
/// latest row of an incident is the last thing told about it.
async fn record(warehouse: &Warehouse, told: &[(Notice, String)]) -> Result<(), AlertError> {
    if told.is_empty() {
        return Ok(());
    }
    let utc: Arc<str> = Arc::from("UTC");
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some(utc.clone())),
            false,
        ),
        Field::new("project", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("delivered_to", DataType::Utf8, false),
    ]));
    let text = |f: &dyn Fn(&(Notice, String)) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(told.iter().map(f)))
    };
    // Rows of one check are a microsecond apart, so "the latest row of a key" is never a tie.
    let base = Utc::now().timestamp_micros();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from_iter_values((0..told.len() as i64).map(|i| base + i))
                .with_timezone(utc),
        ),
        text(&|t| &t.0.project),
        text(&|t| &t.0.key),
        text(&|t| t.0.event.as_str()),
        text(&|t| t.0.severity.as_str()),
        text(&|t| &t.0.title),
        text(&|t| &t.0.detail),
        text(&|t| &t.1),
    ];
    let batch = RecordBatch::try_new(schema, columns)?;
    let df = warehouse
        .context()
        .read_batch(batch)
        .map_err(orderlake_engine::EngineError::from)?;
    warehouse.write(&relation(), df, WriteMode::Append).await?;
    Ok(())
}

/// Sends one notice to one destination.
pub async fn deliver(destination: &Destination, notice: &Notice) -> Result<(), String> {
    match destination {
        Destination::Webhook { url } => {
            let client = reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .map_err(|e| e.to_string())?;
            let response = client
                .post(url)
                .json(notice)
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                let body = response.text().await.unwrap_or_default();
                Err(format!(
                    "answered {status}: {}",
                    body.chars().take(200).collect::<String>()
                ))
            }
        }
        Destination::Email { smtp, from, to } => send_mail(smtp, from, to, notice).await,
    }
}

async fn send_mail(smtp: &str, from: &str, to: &[String], notice: &Notice) -> Result<(), String> {
    use lettre::message::{Mailbox, header::ContentType};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("`{a}` is not a mail address: {e}"))
    };
    let mut message = Message::builder()
        .from(mailbox(from)?)
        .subject(notice.subject())
        .header(ContentType::TEXT_PLAIN);
    for recipient in to {
        message = message.to(mailbox(recipient)?);
    }
    let body = format!(
        "{}\n\nincident: {}\nseverity: {}\nat: {}\n",
        notice.text,
        notice.key,
        notice.severity.as_str(),
        notice.at
    );
    let message = message.body(body).map_err(|e| e.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp)
        .map_err(|e| format!("the SMTP address: {e}"))?
        .timeout(Some(DELIVERY_TIMEOUT))
        .build();
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(key: &str) -> Incident {
        Incident {
            key: key.into(),
            severity: Severity::Error,
            title: format!("{key} broke"),
            detail: "details".into(),
        }
    }

    #[test]
    fn a_notice_reads_well_in_slack() {
        let at = DateTime::parse_from_rfc3339("2024-06-29T06:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let opened = Notice::new("oms", Event::Opened, &incident("node:test.x"), at);
        assert_eq!(
            opened.text,
            "[orderlake oms] 🔴 ERROR: node:test.x broke\ndetails"
        );
        let json = serde_json::to_value(&opened).expect("json");
        assert_eq!(json["event"], "opened");
        assert_eq!(json["severity"], "error");
        let resolved = Notice::new("oms", Event::Resolved, &incident("node:test.x"), at);
        assert_eq!(
            resolved.text,
            "[orderlake oms] ✅ resolved: node:test.x broke"
        );
        assert_eq!(
            resolved.subject(),
            "[orderlake oms] resolved: node:test.x broke"
        );
    }

    #[tokio::test]
    async fn incidents_are_told_once_until_they_clear_and_an_unreachable_destination_is_retried() {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = Warehouse::open(dir.path(), "main").await.expect("open");
        let now = Utc::now();
        // Nothing listens on this port: the notice is not delivered and not recorded.
        let unreachable = HealthConfig {
            alerts: vec![Destination::Webhook {
                url: "http://127.0.0.1:9/hook".into(),
            }],
            ..HealthConfig::default()
        };
        let told = notify(&warehouse, &unreachable, "p", &[incident("a")], now)
            .await
            .expect("notify");
        assert!(told.opened.is_empty());
        assert_eq!(told.failures.len(), 1, "{:?}", told.failures);
        assert!(open_incidents(&warehouse).await.expect("open").is_empty());
        // No destinations: nothing is told or recorded.
        let none = notify(
            &warehouse,
            &HealthConfig::default(),
            "p",
            &[incident("a")],
            now,
        )
        .await
        .expect("notify");
        assert!(none.opened.is_empty() && none.failures.is_empty());
    }

    /// A webhook receiver on loopback that answers 200 and counts what it got.
    async fn receiver() -> (String, Arc<std::sync::Mutex<Vec<Notice>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                let notice = loop {
                    let Ok(n) = socket.read(&mut buffer).await else {
                        break None;
                    };
                    if n == 0 {
                        break None;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break serde_json::from_slice::<Notice>(
                            &request[end + 4..end + 4 + length],
                        )
                        .ok();
                    }
                };
                if let Some(notice) = notice {
                    sink.lock().expect("lock").push(notice);
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        (url, got)
    }

    #[tokio::test]
    async fn a_destination_that_missed_an_opening_is_told_later_and_only_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = Warehouse::open(dir.path(), "main").await.expect("open");
        let now = Utc::now();
        let (first, first_got) = receiver().await;
        let (second, second_got) = receiver().await;
        let config = |urls: &[&str]| HealthConfig {
            alerts: urls
                .iter()
                .map(|u| Destination::Webhook { url: u.to_string() })
                .collect(),
            ..HealthConfig::default()
        };
        let down = "http://127.0.0.1:9/hook";
        let check = async |urls: &[&str], incidents: &[Incident]| {
            notify(&warehouse, &config(urls), "p", incidents, now)
                .await
                .expect("notify")
        };
        let told = check(&[&first, down], &[incident("a")]).await;
        assert_eq!(told.opened.len(), 1);
        assert_eq!(told.failures.len(), 1, "{:?}", told.failures);
        // Next check: the first is not told again; the one still down is tried again.
        let told = check(&[&first, down], &[incident("a")]).await;
        assert!(told.opened.is_empty());
        assert_eq!(told.failures.len(), 1);
        // It is replaced by one that works: that one hears of the open incident, and only it.
        let told = check(&[&first, &second], &[incident("a")]).await;
        assert_eq!(told.opened.len(), 1);
        assert!(told.failures.is_empty());
        let events = |got: &Arc<std::sync::Mutex<Vec<Notice>>>| -> Vec<(Event, String)> {
            got.lock()
                .expect("lock")
                .iter()
                .map(|n| (n.event, n.key.clone()))
                .collect()
        };
        assert_eq!(events(&first_got), [(Event::Opened, "a".to_string())]);
        assert_eq!(events(&second_got), [(Event::Opened, "a".to_string())]);
        // Cleared: both heard of it, both hear it cleared; then nothing more.
        let told = check(&[&first, &second], &[]).await;
        assert_eq!(told.resolved.len(), 1);
        let told = check(&[&first, &second], &[]).await;
        assert!(told.resolved.is_empty() && told.opened.is_empty());
        for got in [&first_got, &second_got] {
            assert_eq!(
                events(got),
                [
                    (Event::Opened, "a".to_string()),
                    (Event::Resolved, "a".to_string())
                ]
            );
        }
        assert!(open_incidents(&warehouse).await.expect("open").is_empty());
    }
}
