// SPDX-License-Identifier: GPL-2.0-only
//! Atomic output: write a temporary file next to the destination, give it
//! the input's permission bits, flush it to disk, then rename it over the
//! destination. On any error the temporary file is removed and the
//! destination is left as it was.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::WriteError;

fn err(what: &str, path: &Path, source: std::io::Error) -> WriteError {
    WriteError {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

/// A temporary file that is removed unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn temp_path(dest: &Path, attempt: u32) -> PathBuf {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    dir.join(format!(
        ".{base}.klp-convert.{}.{attempt}.tmp",
        std::process::id()
    ))
}

/// Write `bytes` to `dest` atomically, with the permission bits of
/// `perms_from`.
pub fn write_atomic(dest: &Path, bytes: &[u8], perms_from: &Path) -> Result<(), WriteError> {
    // Replace the file a symbolic link points to, not the link.
    let resolved;
    let dest = match fs::symlink_metadata(dest) {
        Ok(m) if m.file_type().is_symlink() => {
            resolved = fs::canonicalize(dest).map_err(|e| err("cannot resolve", dest, e))?;
            resolved.as_path()
        }
        _ => dest,
    };
    let perms = fs::metadata(perms_from)
        .map_err(|e| err("cannot stat", perms_from, e))?
        .permissions();

    let mut attempt = 0;
    let (mut file, mut temp) = loop {
        let path = temp_path(dest, attempt);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => break (f, TempFile { path, keep: false }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(err("cannot create temporary file", &path, e)),
        }
    };
    write_all(&mut file, bytes).map_err(|e| err("cannot write", &temp.path, e))?;
    drop(file);
    fs::set_permissions(&temp.path, perms).map_err(|e| err("cannot chmod", &temp.path, e))?;
    fs::rename(&temp.path, dest).map_err(|e| err("cannot rename into", dest, e))?;
    temp.keep = true;
    Ok(())
}

fn write_all(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("klp-convert-output-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = scratch("mode");
        let src = dir.join("in.ko");
        fs::write(&src, b"old").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&src, b"new", &src).unwrap();
        assert_eq!(fs::read(&src).unwrap(), b"new");
        let mode = fs::metadata(&src).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn follows_symlinks() {
        let dir = scratch("link");
        let real = dir.join("real.ko");
        let link = dir.join("link.ko");
        fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink("real.ko", &link).unwrap();
        write_atomic(&link, b"new", &link).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_leaves_nothing() {
        let dir = scratch("fail");
        let src = dir.join("in.ko");
        fs::write(&src, b"old").unwrap();
        // Renaming over a directory fails.
        let dest = dir.join("sub");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("x"), b"x").unwrap();
        assert!(write_atomic(&dest, b"new", &src).is_err());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
