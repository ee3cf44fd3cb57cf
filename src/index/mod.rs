//! The repository-wide facts the index phase gathers from every file, for the rules that
//! judge across files: each render root's IRSA rows and account rows. (The kustomize graph
//! they are made with is `locate::kustomize::Graph`.)

pub mod accounts;
pub mod irsa;
