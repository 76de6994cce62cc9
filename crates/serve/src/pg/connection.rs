//! What keeps the endpoint up when clients misbehave: a connection limit (the extra ones are
//! told `too many clients` and closed), an idle timeout (a connection that sends nothing and
//! runs nothing for that long is closed), and a login failure that names the user.

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::{ClientInfo, METADATA_USER};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How many clients at once, and how long one may sit idle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100,
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// When a connection last did something, and how many of its results are still streaming.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    last_millis: AtomicU64,
    running: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_millis: AtomicU64::new(0),
            running: AtomicUsize::new(0),
        }
    }

    pub fn touch(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.last_millis.store(now, Ordering::Relaxed);
    }

    /// Idle for this long, or zero while a statement runs.
    fn idle_for(&self) -> Duration {
        if self.running.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Marks a statement running until the guard drops (with the last row sent).
    pub fn running(self: &Arc<Self>) -> Running {
        self.touch();
        self.running.fetch_add(1, Ordering::Relaxed);
        Running(self.clone())
    }
}

/// A statement in progress on a connection (see [`Activity::running`]).
pub struct Running(Arc<Activity>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.touch();
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every open connection's activity, by the client's address (what handlers can see).
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<HashMap<SocketAddr, Arc<Activity>>>,
}

impl Connections {
    pub fn of(&self, peer: SocketAddr) -> Option<Arc<Activity>> {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&peer)
            .cloned()
    }

    fn open(&self, peer: SocketAddr) -> Arc<Activity> {
        let activity = Arc::new(Activity::new());
        activity.touch();
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer, activity.clone());
        activity
    }

    fn close(&self, peer: SocketAddr) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&peer);
    }
}

/// Removes a connection's entry however its task ends.
struct Registered<'a> {
    connections: &'a Connections,
    peer: SocketAddr,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.connections.close(self.peer);
    }
}

thread_local! {
    /// Set while a client connection's protocol handling runs on this thread.
    static IN_CONNECTION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Polls a connection with [`IN_CONNECTION`] set, so a panic in it is known for one.
struct Flagged<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for Flagged<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_CONNECTION.with(|flag| flag.set(self.0));
            }
        }
        let _reset = Reset(IN_CONNECTION.with(|flag| flag.replace(true)));
        self.0.as_mut().poll(cx)
    }
}

/// pgwire 0.42's message decoders panic on some malformed messages (a short Parse or Bind).
/// Such a panic ends only its own connection; this hook makes it one warning line instead of
/// a backtrace per hostile packet. Panics anywhere else reach the previous hook unchanged.
fn quiet_connection_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CONNECTION.with(|flag| flag.get()) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                tracing::warn!(
                    "pg: a client's malformed message ended its connection ({message} at {at})"
                );
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one connection until it ends, panics on a malformed message, or has been idle for
/// `idle_timeout`.
pub async fn run<F>(connections: &Connections, peer: SocketAddr, idle_timeout: Duration, conn: F)
where
    F: std::future::Future<Output = std::io::Result<()>>,
{
    use futures::FutureExt;
    quiet_connection_panics();
    let activity = connections.open(peer);
    let _registered = Registered { connections, peer };
    let conn = std::panic::AssertUnwindSafe(Flagged(Box::pin(conn))).catch_unwind();
    tokio::pin!(conn);
    let check_every = (idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::select! {
            ended = &mut conn => {
                match ended {
                    Ok(Err(e)) => tracing::debug!(%peer, "pg connection ended: {e}"),
                    Err(_) => tracing::debug!(%peer, "pg connection ended by a panic"),
                    Ok(Ok(())) => {}
                }
                break;
            }
            _ = tokio::time::sleep(check_every) => {
                if activity.idle_for() >= idle_timeout {
                    tracing::info!(%peer, "closing a pg connection idle for {idle_timeout:?}");
                    break;
                }
            }
        }
    }
}

/// Answers a connection over the limit as PostgreSQL does (`FATAL 53300`), then closes it.
/// A client that first asks for TLS is told no, so it reads the error in plain text.
pub async fn refuse_too_many(mut socket: TcpStream, limit: usize) {
    const SSL_REQUEST: i32 = 80_877_103;
    const GSSENC_REQUEST: i32 = 80_877_104;
    let negotiate = async {
        let mut head = [0u8; 8];
        socket.read_exact(&mut head).await?;
        let code = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            socket.write_all(b"N").await?;
            // The startup packet that follows (unread: the answer is the same).
            let mut length = [0u8; 4];
            socket.read_exact(&mut length).await?;
        }
        std::io::Result::Ok(())
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(5), negotiate).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL".to_string()),
        (b'V', "FATAL".to_string()),
        (b'C', "53300".to_string()),
        (
            b'M',
            format!("sorry, too many clients already (the limit is {limit} connections)"),
        ),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    message.extend_from_slice(&body);
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.write_all(&message)).await;
    let _ = socket.shutdown().await;
}

/// The SCRAM handshake, with a failed login naming the user who tried (the SCRAM message
/// itself carries no user name: libpq leaves it empty), and a malformed first SASL message
/// refused before pgwire decodes it (its decoder panics on a short or lying one).
pub struct NamedLogin<H> {
    inner: Arc<H>,
    /// Whether the SASL initial response has been seen (one handler per connection).
    initial_seen: std::sync::atomic::AtomicBool,
}

impl<H> NamedLogin<H> {
    pub fn new(inner: Arc<H>) -> Self {
        NamedLogin {
            inner,
            initial_seen: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Whether `body` is a well-formed SASLInitialResponse: a mechanism name ending in NUL, then
/// the length of the data that follows (-1 for none) and exactly that much data.
pub fn is_sasl_initial_response(body: &[u8]) -> bool {
    let Some(nul) = body.iter().position(|b| *b == 0) else {
        return false;
    };
    let rest = &body[nul + 1..];
    if rest.len() < 4 {
        return false;
    }
    let declared = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let data = rest.len() - 4;
    declared == -1 || (declared >= 0 && declared as usize <= data)
}

#[async_trait]
impl<H: StartupHandler> StartupHandler for NamedLogin<H> {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::PasswordMessageFamily(PasswordMessageFamily::Raw(body)) =
            &message
            && !self.initial_seen.swap(true, Ordering::Relaxed)
            && !is_sasl_initial_response(body)
        {
            tracing::info!(peer = %client.socket_addr(), "pg: malformed SASL initial response");
            return Err(PgWireError::InvalidScramMessage(
                "malformed SASLInitialResponse".to_string(),
            ));
        }
        match self.inner.on_startup(client, message).await {
            Err(PgWireError::InvalidPassword(named)) => {
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .filter(|u| !u.is_empty())
                    .unwrap_or(named);
                tracing::info!(user, peer = %client.socket_addr(), "pg login failed");
                Err(PgWireError::InvalidPassword(user))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_sasl_initial_response_passes() {
        let mut good = b"SCRAM-SHA-256\0".to_vec();
        good.extend_from_slice(&5i32.to_be_bytes());
        good.extend_from_slice(b"n,,n=");
        assert!(is_sasl_initial_response(&good));
        let mut none = b"SCRAM-SHA-256\0".to_vec();
        none.extend_from_slice(&(-1i32).to_be_bytes());
        assert!(is_sasl_initial_response(&none));
        // What made pgwire panic: no length, a short length, a length past the end.
        assert!(!is_sasl_initial_response(b""));
        assert!(!is_sasl_initial_response(b"SCRAM-SHA-256\0"));
        assert!(!is_sasl_initial_response(b"SCRAM-SHA-256\0\0\0"));
        let mut lying = b"SCRAM-SHA-256\0".to_vec();
        lying.extend_from_slice(&100i32.to_be_bytes());
        lying.extend_from_slice(b"short");
        assert!(!is_sasl_initial_response(&lying));
        let mut negative = b"x\0".to_vec();
        negative.extend_from_slice(&(-7i32).to_be_bytes());
        assert!(!is_sasl_initial_response(&negative));
        assert!(!is_sasl_initial_response(b"no terminator"));
    }
}
