//! Where config files come from. The parser reads every file through
//! [`ConfigSource`], so it never touches the file system itself; tests use
//! [`MemorySource`], the daemon and `-t` `crate::sys::config_fs::FsSource`.

/// Why a file or directory could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceError {
    NotFound,
    PermissionDenied,
    /// `read_file`: not a regular file (a directory, a device, a FIFO).
    WrongType,
    /// `list_dir`: not a directory.
    NotADirectory,
    /// Larger than the source is willing to read.
    TooLarge,
    /// Any other I/O error (errno if known).
    Io(i32),
}

impl core::fmt::Display for SourceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SourceError::NotFound => f.write_str("no such file or directory"),
            SourceError::PermissionDenied => f.write_str("permission denied"),
            SourceError::WrongType => f.write_str("not a regular file"),
            SourceError::NotADirectory => f.write_str("not a directory"),
            SourceError::TooLarge => f.write_str("file too large"),
            SourceError::Io(0) => f.write_str("I/O error"),
            SourceError::Io(e) => write!(f, "I/O error (errno {e})"),
        }
    }
}

/// Read access to configuration files. Paths are passed as written (after
/// resolving relative includes against the including file's directory).
pub trait ConfigSource {
    /// Reads the whole file at `path` and calls `f` once with its bytes.
    fn read_file(&self, path: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), SourceError>;

    /// Calls `f` with the name (not the path) of every entry of directory
    /// `dir`, in any order. `dir` is "" for the current directory.
    fn list_dir(&self, dir: &str, f: &mut dyn FnMut(&str)) -> Result<(), SourceError>;
}

/// In-memory files for tests: `(path, content)` pairs. Directories are
/// implied by the paths.
#[derive(Clone, Copy, Debug)]
pub struct MemorySource<'a> {
    pub files: &'a [(&'a str, &'a [u8])],
}

impl<'a> MemorySource<'a> {
    pub fn new(files: &'a [(&'a str, &'a [u8])]) -> Self {
        MemorySource { files }
    }
}

fn split_dir(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

impl ConfigSource for MemorySource<'_> {
    fn read_file(&self, path: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), SourceError> {
        match self.files.iter().find(|(p, _)| *p == path) {
            Some((_, content)) => {
                f(content);
                Ok(())
            }
            None => Err(SourceError::NotFound),
        }
    }

    fn list_dir(&self, dir: &str, f: &mut dyn FnMut(&str)) -> Result<(), SourceError> {
        let dir = if dir.len() > 1 {
            dir.trim_end_matches('/')
        } else {
            dir
        };
        let mut found = false;
        for (p, _) in self.files {
            let (d, name) = split_dir(p);
            if d == dir {
                found = true;
                f(name);
            }
        }
        if found {
            Ok(())
        } else {
            Err(SourceError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_source_reads_and_lists() {
        let files: &[(&str, &[u8])] = &[
            ("/etc/k/a.conf", b"A"),
            ("/etc/k/conf.d/x.conf", b"X"),
            ("rel.conf", b"R"),
        ];
        let src = MemorySource::new(files);
        let mut got = std::vec::Vec::new();
        src.read_file("/etc/k/a.conf", &mut |b| got.extend_from_slice(b))
            .unwrap();
        assert_eq!(got, b"A");
        assert_eq!(
            src.read_file("/nope", &mut |_| {}),
            Err(SourceError::NotFound)
        );
        let mut names = std::vec::Vec::new();
        src.list_dir("/etc/k/", &mut |n| names.push(n.to_string()))
            .unwrap();
        assert_eq!(names, ["a.conf"]);
        names.clear();
        src.list_dir("", &mut |n| names.push(n.to_string()))
            .unwrap();
        assert_eq!(names, ["rel.conf"]);
    }
}
