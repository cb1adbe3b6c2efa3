//! The actor of a request: who calls, from where, and when, with the application it acts on.
//! Built once at the edge (an HTTP request, a WebSocket operation) and handed to every service
//! call, so no service takes the caller, the request's origin and the time separately.

use super::scopes::Scopes;
use super::{ActorType, Caller, RequestMeta};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use std::ops::Deref;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct Actor {
    pub app: AppState,
    pub caller: Caller,
    pub meta: RequestMeta,
    /// The request's time, read once from the application's clock.
    pub now: DateTime<Utc>,
    /// For a team member, the licenses it holds a seat on (what it may see of them).
    pub seats: Arc<[Uuid]>,
    /// The sign-in session the request's access token belongs to, if it came with one.
    pub session: Option<Uuid>,
    /// The API token the request came with: the caller is its owner, limited to its scopes.
    pub token: Option<TokenGrant>,
}

/// An API token a request presented: which one, and what it may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    pub id: Uuid,
    pub scopes: Scopes,
}

impl Actor {
    pub fn new(app: &AppState, caller: Caller, meta: RequestMeta) -> Self {
        Self {
            now: app.clock.now(),
            app: app.clone(),
            caller,
            meta,
            seats: Arc::from([]),
            session: None,
            token: None,
        }
    }

    /// The same actor in the sign-in session its access token named.
    pub fn in_session(self, session: Uuid) -> Self {
        Self {
            session: Some(session),
            ..self
        }
    }

    /// The same actor acting through an API token.
    pub fn through(self, token: Option<TokenGrant>) -> Self {
        Self { token, ..self }
    }

    /// Who this actor is in the audit trail: the token, when it acts through one.
    pub fn audit_actor(&self) -> (ActorType, Option<Uuid>) {
        match self.token {
            Some(token) => (ActorType::Partner, Some(token.id)),
            None => self.caller.audit_actor(),
        }
    }

    /// The same actor knowing the seats its caller holds (see `Audience`).
    pub fn holding(self, seats: Vec<Uuid>) -> Self {
        Self {
            seats: seats.into(),
            ..self
        }
    }

    /// The platform itself: start-up work, the command line, the scheduler.
    pub fn system(app: &AppState) -> Self {
        Self::new(app, Caller::Anonymous, RequestMeta::default())
    }

    /// The same request, acting with another credential (the developer a signup just created,
    /// the license a presented key opened).
    pub fn acting_as(&self, caller: Caller) -> Self {
        Self {
            caller,
            seats: Arc::from([]),
            session: None,
            token: None,
            ..self.clone()
        }
    }

    /// The same actor at the clock's current time: one per operation on a long-lived connection.
    pub fn renewed(&self) -> Self {
        Self {
            now: self.app.clock.now(),
            ..self.clone()
        }
    }
}

/// An actor is asked what its caller may do (`actor.require_admin()`), so it reads as one.
impl Deref for Actor {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}
