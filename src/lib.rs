//! manifix: find and fix placeholder AWS accounts, mutable image tags and IRSA mistakes in
//! GitOps repositories, with edits that change only the values they mean to change.

pub mod yaml;
pub mod locate;
pub mod config;
pub mod finding;
pub mod resolve;
pub mod rules;
pub mod discover;
pub mod engine;
pub mod text;
pub mod fix;
pub mod app;
pub mod cli;
pub mod emit;
