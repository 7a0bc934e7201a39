//! keepalived.conf subset: lexer, parser, typed bounded model, validation.
//!
//! Entry point: [`parse`] reads a file (and its includes) through a
//! [`ConfigSource`] into a caller-owned [`Config`], collecting every error and
//! warning in [`Diagnostics`]. The file system source lives in the shell:
//! `crate::sys::config_fs::FsSource`.

pub mod diag;
pub mod glob;
pub mod lexer;
pub mod lvs;
pub mod model;
pub mod parser;
pub mod source;
mod validate;
pub mod values;

pub use diag::{DiagKind, Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use parser::parse;
pub use source::{ConfigSource, MemorySource, SourceError};

#[cfg(test)]
mod tests;
