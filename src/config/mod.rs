//! keepalived.conf subset: lexer, parser, typed bounded model, validation.

pub mod model;

pub use model::*;
