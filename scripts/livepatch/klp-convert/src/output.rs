// SPDX-License-Identifier: GPL-2.0-only
//! Atomic output: write a temporary file next to the destination, give it
//! the input's permission bits, then exchange it with the destination
//! (renameat2() with RENAME_EXCHANGE) and remove the old file, or rename
//! it there when there is no destination yet or the file system cannot
//! exchange. On any error the temporary file is removed and the
//! destination is left as it was.
//!
//! What is replaced is only ever a regular file: an output path naming a
//! device, FIFO, socket or directory is refused, never replaced.
//!
//! A symbolic link at the output path is followed (the file it points to
//! is replaced, the link stays) unless, as the kernel's
//! fs.protected_symlinks would refuse it, the link sits in a sticky
//! world-writable directory such as /tmp and is owned neither by the
//! effective user nor by the directory's owner; a link whose target is
//! owned by another user than the effective one is not followed either.
//! Every link of a chain is checked.
//!
//! The temporary file `.<name>.klp-convert.<pid>.<n>.tmp` (a long name is
//! shortened and hashed to stay within NAME_MAX) is created with mode 0600
//! and given the input's permission bits (rwx of user, group and others;
//! set-user-ID, set-group-ID and sticky are dropped) before the rename.
//! The replaced file is a new inode: its owner and group become those of
//! the user running klp-convert, extended attributes (ACLs, security
//! labels) and timestamps are not kept, and other hard links to the old
//! file keep the old contents.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::WriteError;
use crate::sys;

/// The longest file name most file systems take (NAME_MAX).
const NAME_MAX: usize = 255;
/// Symbolic links followed at most, as the kernel's MAXSYMLINKS.
const MAX_LINKS: usize = 40;

fn err(what: &str, path: &Path, source: std::io::Error) -> WriteError {
    WriteError {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

fn refuse(what: &str, path: &Path, why: String) -> WriteError {
    err(what, path, std::io::Error::other(why))
}

/// A temporary file that is removed unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        sys::set_temp_file(None);
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// FNV-1a, to keep long names apart once shortened.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn temp_path(dest: &Path, attempt: u32) -> PathBuf {
    let base = dest.file_name().map(|n| n.as_bytes()).unwrap_or(b"out");
    let suffix = format!(".klp-convert.{}.{attempt}.tmp", std::process::id());
    let mut name = Vec::with_capacity(NAME_MAX);
    name.push(b'.');
    if 1 + base.len() + suffix.len() <= NAME_MAX {
        name.extend_from_slice(base);
    } else {
        // Keep a readable head and tell long names apart by a hash.
        let head = base.get(..128).unwrap_or(base);
        name.extend_from_slice(head);
        name.extend_from_slice(format!("~{:016x}", fnv1a(base)).as_bytes());
    }
    name.extend_from_slice(suffix.as_bytes());
    parent_dir(dest).join(OsStr::from_bytes(&name))
}

/// Follow the symbolic links at `dest` under the rules of the module
/// documentation; the path to replace.
fn resolve(dest: &Path) -> Result<PathBuf, WriteError> {
    let euid = sys::euid();
    let mut path = dest.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path),
            Err(e) => return Err(err("cannot stat", &path, e)),
        };
        if !meta.file_type().is_symlink() {
            return Ok(path);
        }
        let dir = parent_dir(&path);
        let dmeta = fs::metadata(&dir).map_err(|e| err("cannot stat", &dir, e))?;
        let sticky_world_writable = dmeta.mode() & 0o1002 == 0o1002;
        if sticky_world_writable && meta.uid() != euid && meta.uid() != dmeta.uid() {
            return Err(refuse(
                "refusing to follow symbolic link",
                &path,
                format!(
                    "it is owned by uid {} in the sticky world-writable directory {} (owned \
                     by uid {}), and klp-convert runs as uid {euid} (the fs.protected_symlinks \
                     rule); remove the link or give another output path",
                    meta.uid(),
                    dir.display(),
                    dmeta.uid()
                ),
            ));
        }
        let target = fs::metadata(&path).map_err(|e| err("cannot resolve", &path, e))?;
        if target.uid() != euid {
            return Err(refuse(
                "refusing to follow symbolic link",
                &path,
                format!(
                    "it points to a file owned by uid {}, and klp-convert runs as uid {euid}; \
                     remove the link or give another output path",
                    target.uid()
                ),
            ));
        }
        let link = fs::read_link(&path).map_err(|e| err("cannot read link", &path, e))?;
        path = if link.is_absolute() {
            link
        } else {
            dir.join(link)
        };
    }
    Err(refuse(
        "cannot resolve",
        dest,
        format!("more than {MAX_LINKS} symbolic links"),
    ))
}

/// Write `bytes` to `dest` atomically, with the permission bits of
/// `perms_from`.
pub fn write_atomic(dest: &Path, bytes: &[u8], perms_from: &Path) -> Result<(), WriteError> {
    write_atomic_with(dest, perms_from, bytes.len() as u64, &mut |w| {
        w.write_all(bytes)
    })
}

/// Write the `size` bytes `fill` produces to `dest` atomically, with the
/// permission bits of `perms_from`; `fill` writes the file front to back.
pub fn write_atomic_with(
    dest: &Path,
    perms_from: &Path,
    size: u64,
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    // The filler gathers small pieces itself; large ones go straight to
    // the file.
    write_atomic_file(dest, perms_from, size, &mut |mut file| fill(&mut file))
}

/// [`write_atomic_with`], `fill` given the new, empty file to write the
/// `size` bytes to as it likes (at offsets, from several threads).
pub fn write_atomic_file(
    dest: &Path,
    perms_from: &Path,
    size: u64,
    fill: &mut dyn FnMut(&File) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let dest = resolve(dest)?;
    let dest = dest.as_path();
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_file() => {}
        Ok(m) => {
            return Err(refuse(
                "refusing to replace",
                dest,
                format!(
                    "a {}, not a regular file; give a regular file as output",
                    sys::file_kind(&m)
                ),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err("cannot stat", dest, e)),
    }
    let mode = fs::metadata(perms_from)
        .map_err(|e| err("cannot stat", perms_from, e))?
        .permissions()
        .mode()
        & 0o777;

    let mut attempt = 0;
    let (file, mut temp) = loop {
        let path = temp_path(dest, attempt);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => {
                sys::set_temp_file(Some(&path));
                break (f, TempFile { path, keep: false });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(err("cannot create temporary file", &path, e)),
        }
    };
    sys::preallocate(&file, size);
    fill(&file)
        .and_then(|()| match file.metadata()?.len() {
            n if n == size => Ok(()),
            n => Err(std::io::Error::other(format!(
                "internal error: {n} bytes written, {size} expected"
            ))),
        })
        .map_err(|e| err("cannot write", &temp.path, e))?;
    hold_for_tests();
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| err("cannot chmod", &temp.path, e))?;
    drop(file);
    // Exchanged, the new file is in place and the old one is the
    // temporary file, removed next. A rename over an existing file makes
    // ext4 and btrfs write the new file's data out at once (ext4's
    // auto_da_alloc), which costs a large module more time than its
    // conversion; an exchange does not.
    // Until it is removed, a signal removes it.
    if sys::exchange(&temp.path, dest).unwrap_or(false) {
        let removed = fs::remove_file(&temp.path);
        temp.keep = true;
        return removed.map_err(|e| {
            err(
                "converted, but cannot remove the file it replaced",
                &temp.path,
                e,
            )
        });
    }
    fs::rename(&temp.path, dest).map_err(|e| err("cannot rename into", dest, e))?;
    temp.keep = true;
    Ok(())
}

/// For the signal tests: wait `KLP_CONVERT_TEST_HOLD_TEMP_MS` (at most
/// 10 s) with the temporary file written, still mode 0600.
fn hold_for_tests() {
    if let Some(ms) = std::env::var_os("KLP_CONVERT_TEST_HOLD_TEMP_MS")
        .and_then(|v| v.to_str().and_then(|s| s.parse::<u64>().ok()))
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        crate::testutil::scratch("convert-output", name)
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

    /// The new file takes the old one's place by an exchange where the
    /// file system has one (the old file, and only it, is then removed)
    /// and by a rename where there is nothing to replace: either way,
    /// other links to the old file keep its contents.
    #[test]
    fn exchanges_or_renames() {
        let dir = scratch("exchange");
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, b"a").unwrap();
        fs::write(&b, b"b").unwrap();
        if sys::exchange(&a, &b).unwrap() {
            assert_eq!(fs::read(&a).unwrap(), b"b");
            assert_eq!(fs::read(&b).unwrap(), b"a");
        }
        // Nothing to exchange with: an error, or no renameat2() at all.
        assert!(!matches!(sys::exchange(&a, &dir.join("none")), Ok(true)));
        let (old, link, new) = (dir.join("old.ko"), dir.join("link.ko"), dir.join("new.ko"));
        fs::write(&old, b"old").unwrap();
        fs::hard_link(&old, &link).unwrap();
        write_atomic(&old, b"converted", &old).unwrap();
        write_atomic(&new, b"fresh", &old).unwrap();
        assert_eq!(fs::read(&old).unwrap(), b"converted");
        assert_eq!(fs::read(&link).unwrap(), b"old");
        assert_eq!(fs::read(&new).unwrap(), b"fresh");
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["a", "b", "link.ko", "new.ko", "old.ko"]);
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

    /// Item 1 of issue 12: an output path that is a FIFO, a socket or a
    /// device is refused and left as it was (the old code replaced it with
    /// a regular file; as root, `klp-convert m.ko /dev/null` deleted
    /// /dev/null).
    #[test]
    fn refuses_to_replace_special_files() {
        use std::os::unix::fs::FileTypeExt;
        let dir = scratch("special");
        let src = dir.join("in.ko");
        fs::write(&src, b"old").unwrap();
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "mkfifo");
        let sock = dir.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let mut special = vec![(fifo.clone(), "FIFO"), (sock.clone(), "socket")];
        // A copy of /dev/null's device node, where mknod is allowed (root).
        let null = dir.join("null");
        if std::process::Command::new("mknod")
            .arg(&null)
            .args(["c", "1", "3"])
            .status()
            .is_ok_and(|s| s.success())
        {
            special.push((null.clone(), "character device"));
        }
        // Through a symbolic link too.
        std::os::unix::fs::symlink("fifo", dir.join("to-fifo")).unwrap();
        special.push((dir.join("to-fifo"), "FIFO"));
        for (path, kind) in &special {
            let e = write_atomic(path, b"new", &src).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with("refusing to replace ")
                    && msg.contains(&format!("a {kind}, not a regular file")),
                "{msg}"
            );
            let ft = fs::symlink_metadata(path).unwrap().file_type();
            assert!(!ft.is_file(), "{} was replaced", path.display());
        }
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert!(fs::metadata(&sock).unwrap().file_type().is_socket());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            !names.iter().any(|n| n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Item 2 of issue 12: the fs.protected_symlinks rule. Needs root (to
    /// give links and files to another user); skipped otherwise.
    #[test]
    fn links_of_other_users_are_not_followed() {
        use std::os::unix::fs::{chown, lchown, symlink};
        let euid = crate::sys::euid();
        if euid != 0 {
            eprintln!("SKIP: links_of_other_users_are_not_followed needs root");
            return;
        }
        let other = 54321;
        let dir = scratch("sticky");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        // Planted by another user in a sticky world-writable directory.
        let planted = dir.join("out.ko");
        symlink(&victim, &planted).unwrap();
        lchown(&planted, Some(other), Some(other)).unwrap();
        let e = write_atomic(&planted, b"new", &victim).unwrap_err();
        assert!(
            e.to_string().contains("sticky world-writable directory"),
            "{e}"
        );
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink());
        // The same link owned by us is followed.
        lchown(&planted, Some(euid), None).unwrap();
        write_atomic(&planted, b"ours", &victim).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"ours");
        // A link of ours to a file of another user is not.
        chown(&victim, Some(other), Some(other)).unwrap();
        let e = write_atomic(&planted, b"new", &victim).unwrap_err();
        assert!(
            e.to_string()
                .contains("points to a file owned by uid 54321"),
            "{e}"
        );
        assert_eq!(fs::read(&victim).unwrap(), b"ours");
        // Outside a sticky directory, a link of another user to our file
        // is followed, as today.
        let plain = scratch("plain-dir");
        let mine = plain.join("mine");
        fs::write(&mine, b"x").unwrap();
        let link = plain.join("link");
        symlink(&mine, &link).unwrap();
        lchown(&link, Some(other), None).unwrap();
        write_atomic(&link, b"y", &mine).unwrap();
        assert_eq!(fs::read(&mine).unwrap(), b"y");
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&plain).unwrap();
    }

    /// Item 8 of issue 12: a long output name (255 bytes) still gets a
    /// temporary name within NAME_MAX; setuid bits are not copied.
    #[test]
    fn long_names_and_mode_bits() {
        let dir = scratch("long");
        let src = dir.join("in.ko");
        fs::write(&src, b"old").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o4755)).unwrap();
        for len in [200, 230, 255] {
            let dest = dir.join(format!("{}.ko", "x".repeat(len - 3)));
            write_atomic(&dest, b"new", &src).unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"new");
            let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o755);
            assert!(temp_path(&dest, 99).file_name().unwrap().len() <= NAME_MAX);
        }
        assert_ne!(
            temp_path(&dir.join("a".repeat(250)), 0),
            temp_path(&dir.join(format!("{}b", "a".repeat(249))), 0)
        );
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

    /// A filler that writes fewer or more bytes than announced fails the
    /// write: the destination keeps its contents, no temporary is left.
    #[test]
    fn wrong_size_replaces_nothing() {
        let dir = scratch("size");
        let dest = dir.join("out.ko");
        fs::write(&dest, b"old").unwrap();
        for announced in [2, 4] {
            let e = write_atomic_with(&dest, &dest, announced, &mut |w| w.write_all(b"new"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("3 bytes written, {announced} expected")),
                "{e}"
            );
            assert_eq!(fs::read(&dest).unwrap(), b"old");
            assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        }
        write_atomic_with(&dest, &dest, 3, &mut |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        fs::remove_dir_all(&dir).unwrap();
    }
}
