//! One GraphQL WebSocket connection: client messages pass the protocol rules (`ws_rules`)
//! before they reach the engine, the engine's answers go back through them, and a socket that
//! never initialises is closed after the configured wait (4408).

use super::ws_rules::{Rules, Verdict};
use crate::auth::Actor;
use crate::events::overrun::Overrun;
use crate::graphql::limits::{QueryLimits, coded, refused};
use crate::graphql::{AppSchema, scope_check, spending};
use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{BoxStream, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::any::TypeId;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use uuid::Uuid;

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// The schema as a connection's engine sees it: every operation gets the connection's actor at
/// the time the operation starts, so a mutation sent an hour into a connection is not dated
/// when the connection opened.
/// It also holds every operation to the document limits, as HTTP does, and codes its errors.
#[derive(Clone)]
struct ActorPerOperation {
    schema: AppSchema,
    limits: QueryLimits,
}

impl Executor for ActorPerOperation {
    async fn execute(&self, mut request: Request) -> Response {
        match self.limits.admit(&mut request) {
            Ok(()) => coded(self.schema.execute(request).await),
            Err(refusal) => refused(refusal),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let actor = session_data
            .as_deref()
            .and_then(|data| data.get(&TypeId::of::<Actor>()))
            .and_then(|actor| actor.downcast_ref::<Actor>())
            .map(Actor::renewed);
        let mut request = match actor.clone() {
            Some(actor) => request.data(actor),
            None => request,
        };
        let admitted = self.limits.admit(&mut request).and_then(|()| match &actor {
            Some(actor) => scope_check::admit(&mut request, actor),
            None => Ok(()),
        });
        if let Err(refusal) = admitted {
            return Box::pin(futures_util::stream::once(async move { refused(refusal) }));
        }
        let Some(actor) = actor.filter(|actor| actor.token.is_some()) else {
            return Box::pin(
                Executor::execute_stream(&self.schema, request, session_data).map(coded),
            );
        };
        // An API token's budget is spent before the operation runs (subscriptions from reads).
        let schema = self.schema.clone();
        Box::pin(
            futures_util::stream::once(async move {
                match spending::spend(&mut request, &actor).await {
                    Ok(_) => Executor::execute_stream(&schema, request, session_data)
                        .map(coded)
                        .boxed(),
                    Err((refusal, _)) => {
                        futures_util::stream::once(async move { refused(refusal) }).boxed()
                    }
                }
            })
            .flatten(),
        )
    }
}

/// How long a socket may take to initialise, how many operations it may run at once, and how
/// long it may refuse what is sent to it.
pub struct SocketLimits {
    pub queries: QueryLimits,
    pub init_timeout: Duration,
    pub max_operations: usize,
    pub send_timeout: Duration,
}

/// What the socket's credential allows for how long: when it expires, and the id whose ending
/// ends it (a sign-in session, a license whose key it is, an instance token); the socket closes
/// with 4403 at either's end. Set by `connection_init`.
pub struct Lifetime {
    pub ends_at: Option<Instant>,
    pub ends_with: Option<Uuid>,
}

/// What closes a socket from outside: credentials ending (sessions, keys, tokens), the
/// gateway shutting down, and one of its subscriptions falling too far behind.
pub struct Closers {
    pub endings: broadcast::Receiver<Arc<[Uuid]>>,
    pub draining: tokio::sync::watch::Receiver<bool>,
    pub overrun: Overrun,
}

/// Counts a socket among those open while it lives.
pub struct OpenSocket(tokio::sync::watch::Sender<usize>);

impl OpenSocket {
    pub fn new(open: &tokio::sync::watch::Sender<usize>) -> Self {
        open.send_modify(|n| *n += 1);
        Self(open.clone())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Client frames read ahead of the loop that handles them.
const FRAMES_QUEUED: usize = 8;

async fn read_frames(
    mut from_client: SplitStream<WebSocket>,
    frames: mpsc::Sender<Result<Message, axum::Error>>,
) {
    while let Some(frame) = from_client.next().await {
        if frames.send(frame).await.is_err() {
            break;
        }
    }
}

/// Stops the socket's reader when the connection ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a socket whose credential has ended stays open to deliver what is in flight.
const CREDENTIAL_END_DRAIN: Duration = Duration::from_millis(500);

pub async fn serve<OnInit, InitFuture>(
    socket: WebSocket,
    schema: AppSchema,
    protocol: WebSocketProtocols,
    limits: SocketLimits,
    credential: Arc<OnceLock<Lifetime>>,
    closers: Closers,
    on_connection_init: OnInit,
) where
    OnInit: FnOnce(serde_json::Value) -> InitFuture + Send + 'static,
    InitFuture: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let Closers {
        mut endings,
        mut draining,
        overrun,
    } = closers;
    let send_timeout = limits.send_timeout;
    let mut rules = Rules::new(
        protocol == WebSocketProtocols::GraphQLWS,
        limits.max_operations,
    );
    let (mut to_client, from_client) = socket.split();
    // Read by a task of its own: a read attempted on every pass of the loop below would cost a
    // buffer's worth of work per message sent, and the loop passes once per message.
    let (frames_in, mut frames) = mpsc::channel(FRAMES_QUEUED);
    let reader = tokio::spawn(read_frames(from_client, frames_in));
    let _stop_reading = AbortOnDrop(reader);
    let (to_engine, engine_input) = mpsc::unbounded_channel::<Vec<u8>>();
    let engine = async_graphql::http::WebSocket::new(
        ActorPerOperation {
            schema,
            limits: limits.queries,
        },
        UnboundedReceiverStream::new(engine_input),
        protocol,
    )
    .on_connection_init(on_connection_init);
    let mut engine = std::pin::pin!(engine);
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    let mut init_deadline = std::pin::pin!(init_deadline);
    // Armed once `connection_init` has named a credential that expires.
    let expiry = tokio::time::sleep(Duration::ZERO);
    let mut expiry = std::pin::pin!(expiry);
    let mut expiry_armed = false;
    // A credential that has ended closes the socket a moment later, so that what its end
    // caused (a license's REVOKED standing, say) reaches the client first.
    let ending = tokio::time::sleep(Duration::ZERO);
    let mut ending = std::pin::pin!(ending);
    let mut ending_armed = false;

    loop {
        if !expiry_armed && let Some(end) = credential.get().and_then(|c| c.ends_at) {
            expiry.as_mut().reset(end.into());
            expiry_armed = true;
        }
        let outgoing = tokio::select! {
            frame = frames.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                match rules.inbound(&text) {
                    Verdict::Forward => {
                        if to_engine.send(text.into_bytes()).is_err() {
                            break;
                        }
                        continue;
                    }
                    Verdict::Close(code, reason) => close(code, reason),
                    Verdict::Answer(text) => Message::Text(text.into()),
                }
            }
            answer = engine.next() => match answer {
                Some(WsMessage::Text(text)) => {
                    rules.outbound(&text);
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    let (code, reason) = rules.closing(code, reason);
                    close(code, reason)
                }
                None => break,
            },
            () = &mut init_deadline, if rules.awaiting_init() => {
                close(4408, "Connection initialisation timeout".into())
            }
            () = &mut expiry, if expiry_armed => {
                close(4403, "Forbidden: the credential has expired".into())
            }
            () = &mut ending, if ending_armed => {
                close(4403, "Forbidden: the credential has ended".into())
            }
            () = overrun.reported() => {
                close(1013, "Try again later: a subscription fell too far behind; resume from its last cursor".into())
            }
            changed = draining.wait_for(|draining| *draining) => match changed {
                Ok(_) => close(1001, "Going away: the gateway is shutting down; resume elsewhere from your cursor".into()),
                Err(_) => close(1001, "Going away".into()),
            },
            ended = endings.recv() => {
                let ends_with = credential.get().and_then(|c| c.ends_with);
                match ended {
                    Ok(ended) if ends_with.is_some_and(|id| ended.contains(&id)) => {
                        if !ending_armed {
                            ending.as_mut().reset(tokio::time::Instant::now() + CREDENTIAL_END_DRAIN);
                            ending_armed = true;
                        }
                        continue;
                    }
                    // Missed endings might include this one: look it up again.
                    Err(broadcast::error::RecvError::Lagged(_)) if ends_with.is_some() => {
                        close(4403, "Forbidden: the credential may have ended; present it again".into())
                    }
                    // The application itself is going away.
                    Err(broadcast::error::RecvError::Closed) => close(1001, "Going away".into()),
                    _ => continue,
                }
            }
        };
        let closing = matches!(outgoing, Message::Close(_));
        match tokio::time::timeout(send_timeout, to_client.send(outgoing)).await {
            Ok(Ok(())) if !closing => {}
            Ok(_) => break,
            Err(_) => {
                // Its client stopped reading: dropping the socket frees what it holds.
                tracing::info!(
                    seconds = send_timeout.as_secs(),
                    "a WebSocket accepted nothing sent to it: dropped"
                );
                break;
            }
        }
    }
}
