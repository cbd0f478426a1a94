// SPDX-License-Identifier: GPL-2.0-only
//! Text symbol maps: System.map and /proc/kallsyms dumps.
//!
//! Lines are `<hex address> <type> <name>`, and in /proc/kallsyms module
//! symbols carry `\t[<module>]`. Both list vmlinux in kallsyms order and a
//! module in its kallsyms (core symbol table) order: the file order is the
//! kernel's counting order and is kept. The whole file is read once and
//! names point into it: no allocation per line.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::names::VMLINUX;
use crate::objsyms::{Entry, Kind, ObjectSymbols, Str, SymMapError, FLAG_CORE};

const FORMAT: &str = "expected ELF (vmlinux, a module .ko), an xz/zstd/gzip-compressed module, \
                      a directory of modules, or text lines \"<address> <type> <name>\" \
                      (System.map, /proc/kallsyms)";

/// One parsed line: address, type, name, module tag (empty for vmlinux).
fn parse_line(line: &[u8]) -> Option<(u64, u8, &[u8], &[u8])> {
    let sp = line.iter().position(|b| *b == b' ')?;
    let (hex, rest) = line.split_at(sp);
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    let mut addr = 0u64;
    for b in hex {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        addr = (addr << 4) | u64::from(d);
    }
    // rest = " T name[\t[module]]"
    let ty = *rest.get(1)?;
    if !ty.is_ascii_alphabetic() && ty != b'?' || rest.get(2) != Some(&b' ') {
        return None;
    }
    let rest = rest.get(3..)?;
    let (name, module) = match rest.iter().position(|b| *b == b'\t') {
        Some(tab) => {
            let tag = rest.get(tab + 1..)?.trim_ascii_end();
            let module = tag.strip_prefix(b"[")?.strip_suffix(b"]")?;
            (rest.get(..tab)?, module)
        }
        None => (rest.trim_ascii_end(), &b""[..]),
    };
    if name.is_empty() || name.contains(&b' ') || module.is_empty() && rest.contains(&b'\t') {
        return None;
    }
    Some((addr, ty, name, module))
}

/// A well-formed line parsed in one pass.
struct Line<'a> {
    addr: u64,
    ty: u8,
    /// Byte range of the name in the file.
    name: (usize, usize),
    module: &'a [u8],
    /// Start of the next line.
    next: usize,
}

/// Parse `<hex> <type> <name>[\t[<module>]]\r?\n` at `i`, touching each
/// byte once; None for anything else.
fn fast_line(data: &[u8], mut i: usize) -> Option<Line<'_>> {
    let start = i;
    let mut addr = 0u64;
    while let Some(&b) = data.get(i) {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => break,
        };
        addr = (addr << 4) | u64::from(d);
        i += 1;
    }
    if i == start || i - start > 16 || data.get(i) != Some(&b' ') {
        return None;
    }
    let ty = *data.get(i + 1)?;
    if !(ty.is_ascii_alphabetic() || ty == b'?') || data.get(i + 2) != Some(&b' ') {
        return None;
    }
    i += 3;
    let name_start = i;
    while let Some(&b) = data.get(i) {
        if matches!(b, b'\t' | b'\n' | b'\r' | b' ') {
            break;
        }
        i += 1;
    }
    let name = (name_start, i);
    if name.0 == name.1 {
        return None;
    }
    let mut module: &[u8] = b"";
    if data.get(i) == Some(&b'\t') {
        if data.get(i + 1) != Some(&b'[') {
            return None;
        }
        i += 2;
        let m = i;
        while let Some(&b) = data.get(i) {
            if matches!(b, b']' | b'\n') {
                break;
            }
            i += 1;
        }
        if data.get(i) != Some(&b']') || i == m {
            return None;
        }
        module = data.get(m..i)?;
        i += 1;
    }
    if data.get(i) == Some(&b'\r') {
        i += 1;
    }
    let next = match data.get(i) {
        None => i,
        Some(b'\n') => i + 1,
        Some(_) => return None,
    };
    Some(Line {
        addr,
        ty,
        name,
        module,
        next,
    })
}

/// Tell a kallsyms dump from a System.map by its first bytes and name; an
/// error if it is neither.
pub fn detect(path: &Path, head: &[u8]) -> Result<Kind, SymMapError> {
    // Debian's linux-image packages ship a one-line stand-in.
    if head.windows(20).any(|w| w == b"The real System.map ") {
        return Err(SymMapError::new(
            path,
            "a placeholder System.map (the real one is in the -dbg package); give the \
             real one or a /proc/kallsyms dump of the kernel",
        ));
    }
    let first = head
        .split(|b| *b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    // The head may cut the first line short only if it is very long.
    if parse_line(first).is_none() && !(first.len() + 1 >= head.len() && head.len() >= 512) {
        return Err(SymMapError::at_line(
            path,
            1,
            format!("not a symbol map: {FORMAT}"),
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if head.windows(2).any(|w| w == b"\t[") || name.contains("kallsyms") {
        Ok(Kind::Kallsyms)
    } else {
        Ok(Kind::SystemMap)
    }
}

/// Parse the text of a map already in memory.
pub fn parse(path: &Path, kind: Kind, data: Vec<u8>) -> Result<Vec<ObjectSymbols>, SymMapError> {
    if u32::try_from(data.len()).is_err() {
        return Err(SymMapError::new(path, "file larger than 4 GiB"));
    }
    let buf = Arc::new(data);
    let data = buf.as_slice();
    let mut vmlinux: Vec<Entry> = Vec::with_capacity(data.len() / 40);
    let mut modules: Vec<(Vec<u8>, Vec<Entry>)> = Vec::new();
    let mut by_tag: HashMap<&[u8], usize> = HashMap::new();
    let mut last: Option<(&[u8], usize)> = None;
    let mut marks: [Option<u64>; 4] = [None; 4];
    let mut nonzero = false;
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < data.len() {
        line_no += 1;
        let start = pos;
        // The common case in one pass; anything else (blank lines, stray
        // blanks, errors) through parse_line().
        let (addr, ty, name, module) = if let Some(l) = fast_line(data, pos) {
            pos = l.next;
            (l.addr, l.ty, l.name, l.module)
        } else {
            let end = data[pos..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(data.len(), |n| pos + n);
            let line = &data[pos..end];
            pos = end + 1;
            if line.trim_ascii().is_empty() {
                continue;
            }
            let Some((addr, ty, name, module)) = parse_line(line) else {
                return Err(SymMapError::at_line(
                    path,
                    line_no,
                    format!(
                        "cannot parse {:?}: expected \"<address> <type> <name>[\\t[<module>]]\"",
                        String::from_utf8_lossy(line)
                    ),
                ));
            };
            // name lies inside line, which starts at `start`.
            let off = start + (name.as_ptr() as usize - line.as_ptr() as usize);
            (addr, ty, (off, off + name.len()), module)
        };
        let name_bytes = data.get(name.0..name.1).unwrap_or_default();
        let entry = Entry {
            name: Str {
                off: name.0 as u32,
                len: (name.1 - name.0) as u32,
            },
            file: Str::default(),
            addr,
            ty,
            flags: FLAG_CORE,
        };
        let name = name_bytes;
        nonzero |= addr != 0;
        if module.is_empty() {
            if name.first() == Some(&b'_') {
                let i = match name {
                    b"_sinittext" => 0,
                    b"_einittext" => 1,
                    b"__init_begin" => 2,
                    b"__init_end" => 3,
                    _ => 4,
                };
                if let Some(m) = marks.get_mut(i) {
                    m.get_or_insert(addr);
                }
            }
            vmlinux.push(entry);
            continue;
        }
        let idx = match last {
            Some((tag, idx)) if tag == module => idx,
            _ => {
                let idx = *by_tag.entry(module).or_insert_with(|| {
                    modules.push((module.to_vec(), Vec::new()));
                    modules.len() - 1
                });
                last = Some((module, idx));
                idx
            }
        };
        if let Some((_, entries)) = modules.get_mut(idx) {
            entries.push(entry);
        }
    }
    if vmlinux.is_empty() && modules.is_empty() {
        return Err(SymMapError::new(path, format!("no symbols: {FORMAT}")));
    }
    let mut init_ranges = Vec::new();
    if nonzero {
        for (lo, hi) in [(marks[0], marks[1]), (marks[2], marks[3])] {
            if let (Some(lo), Some(hi)) = (lo, hi) {
                if lo < hi {
                    init_ranges.push((lo, hi));
                }
            }
        }
    }
    let mut out = Vec::new();
    if !vmlinux.is_empty() {
        out.push(ObjectSymbols {
            object: VMLINUX.to_string(),
            source: path.to_path_buf(),
            kind,
            full_view: false,
            buf: buf.clone(),
            entries: vmlinux,
            init_ranges,
        });
    }
    for (name, entries) in modules {
        out.push(ObjectSymbols {
            object: String::from_utf8_lossy(&name).replace('-', "_"),
            source: path.to_path_buf(),
            kind,
            full_view: false,
            buf: buf.clone(),
            entries,
            init_ranges: Vec::new(),
        });
    }
    Ok(out)
}

/// Read a System.map or a kallsyms dump.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<ObjectSymbols>, SymMapError> {
    let data = crate::sys::read_regular(path, crate::sys::MAX_FILE)
        .map_err(|e| SymMapError::new(path, e.to_string()))?;
    parse(path, kind, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "\
ffffffff81000000 T _stext
ffffffff81000010 t c_start
ffffffff81000020 t c_start
ffffffff81000030 T __ksymtab_printk
ffffffff82000000 T _sinittext
ffffffff82000010 t c_start
ffffffff82000100 T _einittext
ffffffffc0000000 t c_start\t[ext4]
ffffffffc0000010 t other\t[snd_hda]
ffffffffc0000020 t c_start\t[ext4]
";

    #[test]
    fn parses_kallsyms() {
        let objs = parse(Path::new("k"), Kind::Kallsyms, DUMP.as_bytes().to_vec()).unwrap();
        let names: Vec<&str> = objs.iter().map(|o| o.object.as_str()).collect();
        assert_eq!(names, ["vmlinux", "ext4", "snd_hda"]);
        let v = &objs[0];
        let l = v.lookup("c_start");
        let addrs: Vec<u64> = l.candidates.iter().map(|c| c.addr).collect();
        assert_eq!(
            addrs,
            [0xffffffff81000010, 0xffffffff81000020, 0xffffffff82000010]
        );
        assert!(!l.candidates[1].init && l.candidates[2].init);
        assert!(v.is_exported("printk"));
        assert!(!v.is_exported("c_start"));
        assert_eq!(objs[1].lookup("c_start").candidates.len(), 2);
        assert_eq!(objs[1].lookup("c_start").core_count, 2);
    }

    #[test]
    fn fast_and_careful_parsers_agree() {
        for line in [
            "ffffffff81000000 T _stext\n",
            "ffffffff81000000 T _stext\r\n",
            "ffffffff81000000 T _stext",
            "ffffffffc0000000 t c_start\t[ext4]\r\n",
            "0 A x\n",
        ] {
            let l = fast_line(line.as_bytes(), 0).unwrap();
            let (addr, ty, name, module) = parse_line(line.trim_end().as_bytes()).unwrap();
            assert_eq!((l.addr, l.ty, l.module), (addr, ty, module), "{line:?}");
            assert_eq!(&line.as_bytes()[l.name.0..l.name.1], name, "{line:?}");
            assert_eq!(l.next, line.len());
        }
        for line in [
            "ffff T a \n",
            "ffff T a\t\n",
            "ffff T a\t[]\n",
            "\n",
            "x T a\n",
        ] {
            assert!(fast_line(line.as_bytes(), 0).is_none(), "{line:?}");
        }
        // Both paths in one file, with line numbers counted across them.
        let text = b"ffff T a\n\n  \nffff t b \nffff t c\t[m]\nbad\n".to_vec();
        let e = parse(Path::new("x"), Kind::Kallsyms, text).unwrap_err();
        assert_eq!(e.line, Some(6));
        let objs = parse(
            Path::new("x"),
            Kind::Kallsyms,
            b"ffff T a\n\nffff t b \nffff t c\t[m]\n".to_vec(),
        )
        .unwrap();
        assert_eq!(objs[0].entries.len(), 2);
        assert!(objs[0].contains(b"b"));
        assert!(objs[1].contains(b"c"));
    }

    #[test]
    fn reports_bad_lines() {
        let e = parse(Path::new("m"), Kind::SystemMap, b"ffff T a\nxyz\n".to_vec())
            .err()
            .unwrap();
        assert_eq!(e.line, Some(2));
        assert!(e
            .to_string()
            .contains("symbol map m, line 2: cannot parse \"xyz\""));
        for bad in [
            "fffffffff81000000f T a",
            "ffff TT a",
            "ffff T ",
            "ffff T a\t",
            "ffff T a\text4",
            "g T a",
        ] {
            assert!(parse_line(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(parse(Path::new("m"), Kind::SystemMap, b"\n\n".to_vec()).is_err());
    }

    #[test]
    fn detects() {
        let p = Path::new("/tmp/System.map");
        assert_eq!(detect(p, b"ffff T a\n").unwrap(), Kind::SystemMap);
        assert_eq!(detect(p, b"ffff t a\t[m]\n").unwrap(), Kind::Kallsyms);
        let k = Path::new("/tmp/kallsyms-6.1.txt");
        assert_eq!(detect(k, b"0000 T a\n").unwrap(), Kind::Kallsyms);
        assert!(detect(p, b"hello world\n").is_err());
        let e = detect(
            p,
            b"ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n",
        )
        .unwrap_err();
        assert!(e.message.contains("placeholder"), "{e}");
    }
}
