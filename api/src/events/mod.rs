//! Domain events: recorded inside a transaction, delivered to subscribers only once it commits.
//! - `bus.rs`: the in-process broadcast, fed on PostgreSQL by LISTEN/NOTIFY, and signals
//!   between gateway processes.
//! - `log.rs`: the durable event log, and the reader that delivers it to this process in order.
//! - `overrun.rs`: what a subscriber that falls too far behind live delivery does.
//! - `resume.rs`: a subscription's events, replayed from a cursor and then live, each once.
//! - `unit_of_work.rs`: a mutation's transaction, recording each change (audit row and event)
//!   once, publishing only on commit.

mod bus;
pub mod log;
pub mod overrun;
pub mod resume;
mod unit_of_work;

pub use bus::{DomainEvent, EventBus, RESYNC, Signal};
pub use unit_of_work::{Change, Event, UnitOfWork};
