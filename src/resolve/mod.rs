//! What fixes need from outside a single file, worked out once per run before rules run.

pub mod account;

pub use account::{AccountResolver, Origin, TargetAccount};

/// Everything resolved for a run, handed to every rule.
#[derive(Debug, Default)]
pub struct Resolved {
    pub accounts: AccountResolver,
}
