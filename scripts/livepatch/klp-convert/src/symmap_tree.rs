// SPDX-License-Identifier: GPL-2.0-only
//! Module trees: /lib/modules/<release> or any directory of modules.
//!
//! The tree is indexed by file name only (`<name>.ko`, `.ko.xz`,
//! `.ko.zst`, `.ko.gz`, `-` and `_` equivalent); a module is read only
//! when an annotation names it. Symbolic links are not followed, so the
//! `build` and `source` links of /lib/modules/<release> are not walked.
//! Where a name occurs twice, a module below `updates/` wins, as with
//! depmod's default search order; otherwise the first one found. A tree
//! with a modules.dep (depmod ran) is indexed from that one file instead
//! of a walk over some 4000 files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::symmap::{module_name_of, SymMapError};

fn in_updates(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root)
        .ok()
        .and_then(|p| p.components().next())
        .is_some_and(|c| c.as_os_str() == "updates")
}

/// Modules listed in `root`/modules.dep ("kernel/fs/ext4/ext4.ko.xz:
/// deps..."), if it exists and every file it names does.
fn from_modules_dep(root: &Path) -> Option<HashMap<String, PathBuf>> {
    let text = std::fs::read_to_string(root.join("modules.dep")).ok()?;
    let mut out = HashMap::new();
    for line in text.lines() {
        let (module, _) = line.split_once(':')?;
        let path = root.join(module);
        let name = module_name_of(&path)?;
        out.insert(name, path);
    }
    // A stale modules.dep is not trusted: check one file.
    if out.values().next().is_some_and(|p| !p.is_file()) {
        return None;
    }
    Some(out)
}

/// Map module names to files below `root`.
pub fn index(root: &Path) -> Result<HashMap<String, PathBuf>, SymMapError> {
    if let Some(found) = from_modules_dep(root) {
        return Ok(found);
    }
    let mut out: HashMap<String, PathBuf> = HashMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| SymMapError::new(&dir, e.to_string()))?;
        for ent in rd {
            let ent = ent.map_err(|e| SymMapError::new(&dir, e.to_string()))?;
            let Ok(ft) = ent.file_type() else {
                continue;
            };
            let path = ent.path();
            if ft.is_dir() {
                dirs.push(path);
            } else if ft.is_file() {
                if let Some(name) = module_name_of(&path) {
                    match out.get(&name) {
                        Some(old) if !in_updates(root, &path) || in_updates(root, old) => {}
                        _ => {
                            out.insert(name, path);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_names_without_following_links() {
        let root = std::env::temp_dir().join(format!("klp-symmap-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let k = root.join("kernel/fs/ext4");
        let u = root.join("updates");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::create_dir_all(&u).unwrap();
        std::fs::write(k.join("ext4.ko.xz"), b"").unwrap();
        std::fs::write(k.join("snd-hda.ko"), b"").unwrap();
        std::fs::write(k.join("notes.txt"), b"").unwrap();
        std::fs::write(u.join("snd_hda.ko.zst"), b"").unwrap();
        std::os::unix::fs::symlink(&k, root.join("build")).unwrap();
        let idx = index(&root).unwrap();
        assert_eq!(idx.len(), 2, "{idx:?}");
        assert_eq!(idx["ext4"], k.join("ext4.ko.xz"));
        assert_eq!(idx["snd_hda"], u.join("snd_hda.ko.zst"));
        // modules.dep, when present and current, is the index.
        std::fs::write(
            root.join("modules.dep"),
            "kernel/fs/ext4/ext4.ko.xz: kernel/x.ko\nkernel/fs/ext4/snd-hda.ko:\n",
        )
        .unwrap();
        let idx = index(&root).unwrap();
        assert_eq!(idx.len(), 2, "{idx:?}");
        assert_eq!(idx["snd_hda"], k.join("snd-hda.ko"));
        std::fs::write(root.join("modules.dep"), "kernel/gone.ko:\n").unwrap();
        assert_eq!(index(&root).unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&root);
        assert!(index(&root).is_err());
    }
}
