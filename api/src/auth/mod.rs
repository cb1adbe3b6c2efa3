//! Who is calling: access tokens, passwords, and the caller attached to each request.

mod caller;
pub mod jwt;
pub mod password;

pub use caller::{Caller, RequestMeta, Role};
pub use jwt::{IssuedToken, JwtKeys};
