//! [`ConfigSource`] over the real file system (std::fs). Only the daemon and
//! the CLI use it; the parser itself never touches files.

use super::source::{ConfigSource, SourceError};
use std::io::ErrorKind;

/// Files larger than this are refused (a router's config is a few KiB).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

#[derive(Clone, Copy, Debug, Default)]
pub struct FsSource;

fn map_err(e: std::io::Error) -> SourceError {
    match e.kind() {
        ErrorKind::NotFound => SourceError::NotFound,
        ErrorKind::PermissionDenied => SourceError::PermissionDenied,
        _ => SourceError::Io(e.raw_os_error().unwrap_or(0)),
    }
}

impl ConfigSource for FsSource {
    fn read_file(&self, path: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), SourceError> {
        let meta = std::fs::metadata(path).map_err(map_err)?;
        if !meta.is_file() {
            return Err(SourceError::WrongType);
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(SourceError::TooLarge);
        }
        let bytes = std::fs::read(path).map_err(map_err)?;
        f(&bytes);
        Ok(())
    }

    fn list_dir(&self, dir: &str, f: &mut dyn FnMut(&str)) -> Result<(), SourceError> {
        let dir = if dir.is_empty() { "." } else { dir };
        let rd = std::fs::read_dir(dir).map_err(map_err)?;
        for entry in rd {
            let entry = entry.map_err(map_err)?;
            if let Some(name) = entry.file_name().to_str() {
                f(name);
            }
        }
        Ok(())
    }
}
