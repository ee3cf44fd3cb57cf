//! manifix: find and fix placeholder AWS accounts, mutable image tags and IRSA mistakes in
//! GitOps repositories, with edits that change only the values they mean to change.

pub mod cli;
pub mod commands;
pub mod config;
pub mod discover;
pub mod emit;
pub mod engine;
pub mod escape;
pub mod finding;
pub mod fix;
pub mod fsio;
pub mod index;
pub mod locate;
pub mod recipe;
pub mod resolve;
pub mod rules;
pub mod text;
pub mod vcs;
pub mod yaml;
