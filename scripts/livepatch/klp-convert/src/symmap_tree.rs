// SPDX-License-Identifier: GPL-2.0-only
//! Module trees: `/lib/modules/<release>` or any directory of modules.
//!
//! A module is found by file name (`<name>.ko`, `.ko.xz`, `.ko.zst`,
//! `.ko.gz`, `-` and `_` equivalent) and read only when an annotation
//! names it. The rule is modprobe's, made deterministic:
//!
//! 1. if `modules.dep` (depmod's output) names the module and that file
//!    exists, it is the one modprobe loads, and the one read here, even
//!    when a copy was put in `updates/` after depmod ran;
//! 2. otherwise (no modules.dep, a module it does not name, or a file
//!    moved since) the tree is walked once: `updates/` first, as in
//!    depmod's default search order, then everything else, each directory
//!    in byte order of its entries; the first file of that name found
//!    wins. The answer never depends on hash order or on directory order
//!    on disk.
//!
//! Symbolic links are not followed, so the `build` and `source` links of
//! `/lib/modules/<release>` are not walked. A directory that cannot be read
//! is noted and skipped: a module found elsewhere is still found, and one
//! that is not found is an error naming the directories that could not
//! be read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::objsyms::{module_name_of, SymMapError};

/// How deep a walk goes (/lib/modules/<release>/kernel/... is about 8).
const MAX_DEPTH: usize = 64;
/// Unreadable directories named in an error, at most.
const MAX_NAMED: usize = 5;

/// The modules of one tree, found on demand.
#[derive(Debug)]
pub struct Tree {
    root: PathBuf,
    /// modules.dep: None until read, Some(None) if absent or unusable.
    dep: Option<Option<HashMap<String, PathBuf>>>,
    walk: Option<Walk>,
    /// What was read and why, for --verbose.
    pub notes: Vec<String>,
}

#[derive(Debug, Default)]
struct Walk {
    found: HashMap<String, PathBuf>,
    unreadable: Vec<(PathBuf, String)>,
}

/// Modules listed in `root`/modules.dep ("kernel/fs/ext4/ext4.ko.xz:
/// deps..."), in file order, the first line of a name winning; Err says
/// why it is not used.
fn read_modules_dep(root: &Path) -> Result<Option<HashMap<String, PathBuf>>, String> {
    let path = root.join("modules.dep");
    let data = match crate::sys::read_regular(&path, crate::sys::MAX_FILE) {
        Ok(d) => d,
        Err(crate::sys::ReadLimitError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut out = HashMap::new();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let module = line
            .iter()
            .position(|b| *b == b':')
            .and_then(|colon| line.get(..colon))
            .and_then(|m| std::str::from_utf8(m).ok())
            .ok_or_else(|| format!("{}, line {}: no module path", path.display(), i + 1))?;
        let file = root.join(module);
        let name = module_name_of(&file)
            .ok_or_else(|| format!("{}, line {}: not a module file name", path.display(), i + 1))?;
        out.entry(name).or_insert(file);
    }
    Ok(Some(out))
}

fn walk(root: &Path) -> Walk {
    let mut w = Walk::default();
    // A stack of (directory, depth); children are pushed in reverse so
    // that they are visited in order.
    let mut dirs = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                w.unreadable.push((dir, e.to_string()));
                continue;
            }
        };
        let mut entries = Vec::new();
        for ent in rd {
            match ent {
                Ok(ent) => {
                    if let Ok(ft) = ent.file_type() {
                        entries.push((ent.file_name(), ft));
                    }
                }
                Err(e) => {
                    w.unreadable.push((dir.clone(), e.to_string()));
                    break;
                }
            }
        }
        entries.sort_by(|a, b| {
            let key = |n: &std::ffi::OsStr| depth != 0 || n != "updates";
            (key(&a.0), &a.0).cmp(&(key(&b.0), &b.0))
        });
        let mut subdirs = Vec::new();
        for (name, ft) in entries {
            let path = dir.join(&name);
            if ft.is_dir() {
                if depth < MAX_DEPTH {
                    subdirs.push((path, depth + 1));
                }
            } else if ft.is_file() {
                if let Some(m) = module_name_of(&path) {
                    w.found.entry(m).or_insert(path);
                }
            }
        }
        // Files of a directory come before its subdirectories; the
        // subdirectories in order.
        dirs.extend(subdirs.into_iter().rev());
    }
    w
}

impl Tree {
    /// A tree rooted at `root`; nothing is read yet.
    pub fn new(root: &Path) -> Self {
        Tree {
            root: root.to_path_buf(),
            dep: None,
            walk: None,
            notes: Vec::new(),
        }
    }

    fn walked(&mut self) -> &Walk {
        if self.walk.is_none() {
            let start = std::time::Instant::now();
            let w = walk(&self.root);
            self.notes.push(format!(
                "module tree {}: {} modules indexed in {:.1} ms",
                self.root.display(),
                w.found.len(),
                start.elapsed().as_secs_f64() * 1e3
            ));
            for (dir, e) in &w.unreadable {
                self.notes.push(format!(
                    "module tree {}: cannot read {}: {e}; skipped",
                    self.root.display(),
                    dir.display()
                ));
            }
            self.walk = Some(w);
        }
        self.walk.get_or_insert_with(Walk::default)
    }

    /// The file of module `name`, by the rule of the module documentation.
    pub fn find(&mut self, name: &str) -> Result<Option<PathBuf>, SymMapError> {
        if self.dep.is_none() {
            let dep = match read_modules_dep(&self.root) {
                Ok(d) => d,
                Err(why) => {
                    self.notes.push(format!(
                        "module tree {}: modules.dep not used ({why}); walking the tree",
                        self.root.display()
                    ));
                    None
                }
            };
            self.dep = Some(dep);
        }
        let listed = self
            .dep
            .as_ref()
            .and_then(|d| d.as_ref())
            .and_then(|d| d.get(name))
            .cloned();
        if let Some(path) = &listed {
            if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
                self.notes.push(format!(
                    "module {name}: {} (from modules.dep)",
                    path.display()
                ));
                return Ok(Some(path.clone()));
            }
        }
        let root = self.root.clone();
        let w = self.walked();
        if let Some(path) = w.found.get(name).cloned() {
            if let Some(stale) = listed {
                self.notes.push(format!(
                    "module {name}: modules.dep names {}, which is missing; using {}",
                    stale.display(),
                    path.display()
                ));
            }
            return Ok(Some(path));
        }
        if w.unreadable.is_empty() {
            return Ok(None);
        }
        let mut dirs: Vec<String> = w
            .unreadable
            .iter()
            .take(MAX_NAMED)
            .map(|(d, e)| format!("{} ({e})", d.display()))
            .collect();
        if w.unreadable.len() > MAX_NAMED {
            dirs.push(format!("and {} more", w.unreadable.len() - MAX_NAMED));
        }
        Err(SymMapError::new(
            &root,
            format!(
                "module {name} not found, and some directories of the tree could not be \
                 read: {}",
                dirs.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        crate::testutil::scratch("symmap-tree", name)
    }

    fn find(root: &Path, name: &str) -> Option<PathBuf> {
        Tree::new(root).find(name).unwrap()
    }

    #[test]
    fn indexes_names_without_following_links() {
        let root = scratch("links");
        let k = root.join("kernel/fs/ext4");
        let u = root.join("updates");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::create_dir_all(&u).unwrap();
        std::fs::write(k.join("ext4.ko.xz"), b"").unwrap();
        std::fs::write(k.join("snd-hda.ko"), b"").unwrap();
        std::fs::write(k.join("notes.txt"), b"").unwrap();
        std::fs::write(u.join("snd_hda.ko.zst"), b"").unwrap();
        std::os::unix::fs::symlink(&k, root.join("build")).unwrap();
        std::fs::write(root.join("build-only.ko"), b"").unwrap();
        std::fs::remove_file(root.join("build-only.ko")).unwrap();
        assert_eq!(find(&root, "ext4"), Some(k.join("ext4.ko.xz")));
        assert_eq!(find(&root, "snd_hda"), Some(u.join("snd_hda.ko.zst")));
        assert_eq!(find(&root, "notes"), None);
        // modules.dep, when present and current, decides.
        std::fs::write(
            root.join("modules.dep"),
            "kernel/fs/ext4/ext4.ko.xz: kernel/x.ko\nkernel/fs/ext4/snd-hda.ko:\n",
        )
        .unwrap();
        assert_eq!(find(&root, "snd_hda"), Some(k.join("snd-hda.ko")));
        // A stale one is not trusted for what it gets wrong.
        std::fs::write(root.join("modules.dep"), "kernel/gone.ko:\n").unwrap();
        assert_eq!(find(&root, "ext4"), Some(k.join("ext4.ko.xz")));
        let _ = std::fs::remove_dir_all(&root);
    }

    /// Item 4 of issue 12: with a partly stale modules.dep the answer is
    /// modprobe's for every module, in every run (the old code checked
    /// one arbitrary entry of a HashMap and trusted or dropped the whole
    /// file, so that the answer changed from run to run).
    #[test]
    fn stale_modules_dep_gives_the_same_answer_every_time() {
        let root = scratch("stale");
        let k = root.join("kernel/drivers");
        let u = root.join("updates/dkms");
        let moved = root.join("kernel/moved");
        for d in [&k, &u, &moved] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut dep = String::new();
        for i in 0..40 {
            std::fs::write(k.join(format!("m{i}.ko")), b"").unwrap();
            dep.push_str(&format!("kernel/drivers/m{i}.ko:\n"));
        }
        // tgt: listed and present; a copy in updates/ came after depmod.
        std::fs::write(k.join("tgt.ko"), b"").unwrap();
        std::fs::write(u.join("tgt.ko"), b"").unwrap();
        dep.push_str("kernel/drivers/tgt.ko:\n");
        // gone: listed, but moved since.
        std::fs::write(moved.join("gone.ko"), b"").unwrap();
        dep.push_str("kernel/drivers/gone.ko:\n");
        // two copies, none listed: updates/ wins.
        std::fs::write(k.join("dup.ko"), b"").unwrap();
        std::fs::write(u.join("dup.ko.xz"), b"").unwrap();
        // Same name twice outside updates/: byte order decides.
        std::fs::create_dir_all(root.join("kernel/a")).unwrap();
        std::fs::create_dir_all(root.join("kernel/b")).unwrap();
        std::fs::write(root.join("kernel/b/twin.ko"), b"").unwrap();
        std::fs::write(root.join("kernel/a/twin.ko"), b"").unwrap();
        std::fs::write(root.join("modules.dep"), dep).unwrap();
        for _ in 0..24 {
            let mut t = Tree::new(&root);
            assert_eq!(t.find("tgt").unwrap(), Some(k.join("tgt.ko")));
            assert_eq!(t.find("gone").unwrap(), Some(moved.join("gone.ko")));
            assert_eq!(t.find("dup").unwrap(), Some(u.join("dup.ko.xz")));
            assert_eq!(t.find("twin").unwrap(), Some(root.join("kernel/a/twin.ko")));
            assert_eq!(t.find("m7").unwrap(), Some(k.join("m7.ko")));
            assert_eq!(t.find("nothere").unwrap(), None);
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    /// Item 9 of issue 12: an unreadable subdirectory does not fail the
    /// lookup of a module found elsewhere; a module not found says which
    /// directories could not be read. Root reads everything, so the
    /// unreadable directory is simulated with a name read_dir fails on
    /// (a file where a directory was, removed between listing and use is
    /// racy): skipped for root.
    #[test]
    fn unreadable_subdirectory_is_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let root = scratch("unreadable");
        let k = root.join("kernel");
        let locked = root.join("kernel/locked");
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::write(k.join("tgt.ko"), b"").unwrap();
        std::fs::write(locked.join("hidden.ko"), b"").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read_dir(&locked).is_ok() {
            // Root: CAP_DAC_OVERRIDE reads anything.
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
            eprintln!("SKIP: unreadable_subdirectory_is_skipped cannot lock a directory as root");
            let _ = std::fs::remove_dir_all(&root);
            return;
        }
        let mut t = Tree::new(&root);
        assert_eq!(t.find("tgt").unwrap(), Some(k.join("tgt.ko")));
        assert!(
            t.notes.iter().any(|n| n.contains("cannot read")),
            "{:?}",
            t.notes
        );
        let e = t.find("hidden").unwrap_err().to_string();
        assert!(
            e.contains("module hidden not found") && e.contains("kernel/locked"),
            "{e}"
        );
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _ = std::fs::remove_dir_all(&root);
    }
}
