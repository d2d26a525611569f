//! Session authentication, independent of Pingora: cookie signatures, the session cache, and
//! the validator that combines them with the store.

pub mod cache;
pub mod cookie;
pub mod cookie_cache;
pub mod identity;
pub mod revocation;
pub mod validator;

pub use identity::AuthenticatedSession;
pub use revocation::Revocation;
pub use validator::{AnonReason, AuthOutcome, SessionValidator, StoreUnavailable};
