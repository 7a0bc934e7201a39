//! Command line: argument parsing and the config test (`-t`).
