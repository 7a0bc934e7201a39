//! The I/O shell: the only module allowed to use libc and `unsafe`.
