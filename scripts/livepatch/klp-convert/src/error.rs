// SPDX-License-Identifier: GPL-2.0-only
//! Error types, one per layer.
//!
//! - [`ReadError`]: the input is not an ELF file klp-convert can read;
//! - [`Problem`]: one validation finding (error or warning) with its place
//!   in the file: section, offset and symbol;
//! - [`WriteError`]: the output could not be written;
//! - [`crate::symmap::SymMapError`]: a symbol map could not be read;
//! - [`Error`]: what a run reports, wrapping the above with the file name.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Bytes from a file (a symbol or section name, a map line) for a
/// message: valid UTF-8 is kept, control characters (C0, DEL, C1, tab and
/// newline included) and invalid bytes become `\xNN` (`\u{NN}` for C1),
/// so that a name cannot drive the terminal or fake a line.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c, false);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn push_char(out: &mut String, c: char, keep_layout: bool) {
    if !c.is_control() || (keep_layout && (c == '\n' || c == '\t')) {
        out.push(c);
    } else if (c as u32) < 0x80 {
        out.push_str(&format!("\\x{:02x}", c as u32));
    } else {
        out.push_str(&format!("\\u{{{:x}}}", c as u32));
    }
}

/// A message line for the terminal: control characters other than
/// newline and tab escaped, as [`escape_bytes`] does.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c, true);
    }
    std::borrow::Cow::Owned(out)
}

/// The input could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl ReadError {
    /// A read error with a message.
    pub fn new(msg: impl Into<String>) -> Self {
        ReadError(msg.into())
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl From<object::read::Error> for ReadError {
    fn from(e: object::read::Error) -> Self {
        ReadError(e.to_string())
    }
}

/// How serious a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The module would not load or would misbehave; nothing is written.
    Error,
    /// Suspicious but loadable; an error with --werror.
    Warning,
}

/// One finding about the input, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The section concerned (a relocation section for relocations).
    pub section: Option<String>,
    /// The offset concerned (r_offset for relocations).
    pub offset: Option<u64>,
    /// The symbol concerned.
    pub symbol: Option<String>,
    /// What is wrong, and where useful, what to do.
    pub message: String,
}

impl Problem {
    /// An error without a location.
    pub fn error(message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            section: None,
            offset: None,
            symbol: None,
            message: message.into(),
        }
    }

    /// A warning without a location.
    pub fn warning(message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(message)
        }
    }

    /// Attach a section name.
    pub fn section(mut self, name: impl Into<String>) -> Self {
        self.section = Some(name.into());
        self
    }

    /// Attach an offset.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Attach a symbol name.
    pub fn symbol(mut self, name: impl Into<String>) -> Self {
        self.symbol = Some(name.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    /// `error: section .rela.text, offset 0x1c, symbol foo: message`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => f.write_str("error: ")?,
            Severity::Warning => f.write_str("warning: ")?,
        }
        let mut sep = "";
        if let Some(section) = &self.section {
            write!(f, "section {section}")?;
            sep = ", ";
        }
        if let Some(offset) = self.offset {
            write!(f, "{sep}offset 0x{offset:x}")?;
            sep = ", ";
        }
        if let Some(symbol) = &self.symbol {
            write!(f, "{sep}symbol {symbol}")?;
            sep = ", ";
        }
        if !sep.is_empty() {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// The output could not be written.
#[derive(Debug)]
pub struct WriteError {
    /// What was being done.
    pub what: String,
    /// The path concerned.
    pub path: PathBuf,
    /// The cause.
    pub source: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.what, self.path.display(), self.source)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Why a run failed.
#[derive(Debug)]
pub enum Error {
    /// The input could not be read from disk.
    Io(PathBuf, io::Error),
    /// The input is not a readable ELF file.
    Read(ReadError),
    /// Validation found errors (or warnings, with --werror).
    Invalid(Vec<Problem>),
    /// The ELF writer failed.
    Build(String),
    /// The output could not be written.
    Write(WriteError),
    /// A symbol map (--symbols) could not be read.
    Map(crate::symmap::SymMapError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            Error::Read(e) => write!(f, "cannot parse ELF: {e}"),
            Error::Invalid(problems) => {
                let n = problems.iter().filter(|p| p.is_error()).count();
                write!(f, "{n} error(s), nothing written")
            }
            Error::Build(e) => write!(f, "cannot rewrite ELF: {e}"),
            Error::Write(e) => write!(f, "{e}"),
            Error::Map(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Self {
        Error::Read(e)
    }
}

impl From<crate::symmap::SymMapError> for Error {
    fn from(e: crate::symmap::SymMapError) -> Self {
        Error::Map(e)
    }
}

impl From<WriteError> for Error {
    fn from(e: WriteError) -> Self {
        Error::Write(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_bytes() {
        assert_eq!(escape_bytes(b"plain.name"), "plain.name");
        assert_eq!(escape_bytes(b"a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape_bytes(b"x\ty\nz\x7f"), "x\\x09y\\x0az\\x7f");
        assert_eq!(escape_bytes(b"\xff\xc2\x9b"), "\\xff\\u{9b}");
        assert_eq!(escape_bytes("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(sanitize("a\n\tb"), "a\n\tb");
        assert_eq!(sanitize("a\x1b]0;x\x07"), "a\\x1b]0;x\\x07");
    }

    #[test]
    fn problem_display() {
        let p = Problem::error("bad")
            .section(".rela.text")
            .offset(0x1c)
            .symbol("foo");
        assert_eq!(
            p.to_string(),
            "error: section .rela.text, offset 0x1c, symbol foo: bad"
        );
        assert_eq!(Problem::warning("hm").to_string(), "warning: hm");
        assert_eq!(
            Problem::error("x").symbol("s").to_string(),
            "error: symbol s: x"
        );
    }
}
