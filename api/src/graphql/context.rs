//! The one way a resolver reaches its dependencies and its caller.

use crate::auth::{Caller, RequestMeta};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use async_graphql::Context;

static ANONYMOUS: Caller = Caller::Anonymous;
static NO_META: RequestMeta = RequestMeta {
    ip: None,
    user_agent: None,
};

pub trait ContextExt {
    fn app(&self) -> AppResult<&AppState>;
    /// The caller attached at the edge; anonymous when none was.
    fn caller(&self) -> &Caller;
    fn meta(&self) -> &RequestMeta;
}

impl ContextExt for Context<'_> {
    fn app(&self) -> AppResult<&AppState> {
        self.data::<AppState>().map_err(|_| {
            AppError::internal(anyhow::anyhow!("application state missing from schema"))
        })
    }

    fn caller(&self) -> &Caller {
        self.data_opt::<Caller>().unwrap_or(&ANONYMOUS)
    }

    fn meta(&self) -> &RequestMeta {
        self.data_opt::<RequestMeta>().unwrap_or(&NO_META)
    }
}
