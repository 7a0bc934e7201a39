//! The daemon loop: poll(2) over a fixed fd table, driving the core.
