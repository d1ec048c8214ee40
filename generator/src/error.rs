//! Errors of the engine. Content and template problems are [`Diagnostic`]s that name the file,
//! line and column and say what was expected; a build gathers all of them before failing, so an
//! editor fixes every mistake in one pass. I/O failures are [`Error::Io`].

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a site's sources, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file at fault, relative to the site root when inside it.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Diagnostic {
    /// A problem with a whole file.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line: None, column: None, message: message.into() }
    }

    /// A problem at a line and column.
    pub fn at(file: impl Into<PathBuf>, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line: Some(line), column: Some(column), message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything that can stop a build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in the site's sources, all of them.
    #[error("{}", render_diagnostics(.0))]
    Site(Vec<Diagnostic>),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The output folder holds files we did not write.
    #[error("{} is not empty and was not built by atelier; pass --force to build into it anyway", .0.display())]
    ForeignOutput(PathBuf),
}

fn render_diagnostics(list: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    if list.len() > 1 {
        out.push_str(&format!("\n{} problems found", list.len()));
    }
    out
}

impl Error {
    /// An I/O error on a path.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// A single source problem.
    pub fn one(d: Diagnostic) -> Self {
        Error::Site(vec![d])
    }

    /// The diagnostics, if this is a source problem.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Site(d) => d,
            _ => &[],
        }
    }
}

/// Result of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a byte offset in `text` into a 1-based (line, column), columns counted in characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "ab\ncdé\nf";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 7), (2, 4));
        assert_eq!(line_col(t, 99), (3, 2));
    }
}
