//! Domain events: recorded inside a transaction, delivered to subscribers only once it commits.

mod bus;
mod unit_of_work;

pub use bus::{DomainEvent, EventBus, RESYNC, Signal};
pub use unit_of_work::UnitOfWork;
