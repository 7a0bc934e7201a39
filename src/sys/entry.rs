//! The process entry point of the `keepvip` binary: the C `main` that
//! musl's (or glibc's) start code calls. src/main.rs includes this file
//! with `#[path]` and is `#![no_main]`, so its `unsafe` stays in src/sys.
//!
//! Why not std's runtime start (`fn main`): at exit it flushes std's
//! `Stdout`, which links the whole line-buffered stdout machinery (keepvip
//! writes its output with `write(2)`, [`keepvip::sys::stdio`]), and it
//! keeps the arguments for `std::env::args` (not needed: they are passed
//! in). What that start does that keepvip relies on is done here the same
//! way, before anything else:
//! - descriptors 0, 1 and 2, if closed, are opened on `/dev/null`, so that
//!   no socket or file the daemon opens later becomes "standard error";
//! - `SIGPIPE` is ignored: a write to a vanished reader is an `EPIPE` error,
//!   not death by signal (children get the default back, see
//!   [`keepvip::sys::exec`]).
//!
//! One difference: an argument that is not UTF-8 is a usage error (exit 2)
//! instead of a panic in `std::env::args`.

use std::ffi::{CStr, c_char, c_int};

/// std's start-up, as far as keepvip needs it.
fn init() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only queries the descriptor.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        // Lower descriptors are open by now: open(2) returns `fd` itself.
        // Not CLOEXEC: it stands in for an inherited standard descriptor.
        // SAFETY: the path is a NUL-terminated literal.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            // As std: no safe way on without standard descriptors.
            std::process::abort();
        }
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no
    // preconditions (single-threaded here).
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// The arguments after the program name; `Err(n)` if argument `n` is not
/// UTF-8.
///
/// # Safety
/// `argv` must hold `argc` valid NUL-terminated strings that live for the
/// rest of the process (what the C start code passes to `main`).
unsafe fn args(argc: c_int, argv: *const *const c_char) -> Result<Vec<&'static str>, usize> {
    let n = usize::try_from(argc).unwrap_or(0);
    let mut out = Vec::with_capacity(n.saturating_sub(1));
    for i in 1..n {
        // SAFETY: i < argc, so argv[i] is one of the caller's strings.
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: NUL-terminated and never freed (see above).
        let s = unsafe { CStr::from_ptr(p) };
        out.push(s.to_str().map_err(|_| i)?);
    }
    Ok(out)
}

#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    init();
    // SAFETY: the C start code's `argc`/`argv`, valid for the whole process.
    match unsafe { args(argc, argv) } {
        Ok(a) => crate::run(&a).clamp(0, 255),
        Err(n) => crate::usage_error(format_args!("argument {n} is not valid UTF-8")),
    }
}
