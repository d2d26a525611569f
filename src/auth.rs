//! Session authentication, independent of Pingora: cookie signatures, the session cache, and
//! the validator that combines them with the store.

pub mod cache;
pub mod cookie;
pub mod cookie_cache;
pub(crate) mod identity;
pub(crate) mod revocation;
pub(crate) mod session_cookies;
pub mod standalone;
pub(crate) mod validator;

pub(crate) use identity::{AuthenticatedSession, SignedAssertion};
pub(crate) use revocation::Revocation;
pub(crate) use validator::{AuthOutcome, SessionValidator};
