// SPDX-License-Identifier: GPL-2.0-only
//! Names of livepatch symbols and sections.
//!
//! Three forms exist:
//!
//! - `.klp.sym.rela.<patched_obj>.<sym_obj>.<sym>,<pos>`: an annotated, not
//!   yet converted reference (include/linux/livepatch_reloc.h); `<sym_obj>`
//!   and `<pos>` may be `*`, left to klp-convert to infer from a symbol map,
//!   and an inferred position may be followed by `,<source file>`
//!   (KLP_SYMBOL(), KLP_SYMBOL_FILE());
//! - `.klp.sym.<sym_obj>.<sym>,<pos>`: a livepatch symbol as the kernel
//!   resolves it (st_shndx SHN_LIVEPATCH);
//! - `.klp.rela.<obj>.<section>`: a livepatch relocation section.
//!
//! The kernel parses the last two with widths 55 (object) and 511 (symbol)
//! and an unsigned decimal position; anything else fails the patch load.

use std::borrow::Cow;
use std::fmt;

/// Prefix of an annotated reference that klp-convert rewrites.
pub const ANNOTATION_PREFIX: &str = ".klp.sym.rela.";
/// Prefix of a livepatch symbol.
pub const SYMBOL_PREFIX: &str = ".klp.sym.";
/// Prefix of a livepatch relocation section.
pub const RELA_PREFIX: &str = ".klp.rela.";
/// The object name of the kernel image.
pub const VMLINUX: &str = "vmlinux";
/// An object or position left to klp-convert to infer from a symbol map.
pub const INFER: &str = "*";

/// Longest object name the kernel accepts.
pub const MAX_OBJECT_LEN: usize = 55;
/// Longest symbol name the kernel accepts (since v6.1; 127 before).
pub const MAX_SYMBOL_LEN: usize = 511;

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The name is not valid UTF-8.
    NotUtf8,
    /// The name does not have the expected number of fields.
    Malformed(&'static str),
    /// An object name is empty.
    EmptyObject,
    /// An object name is longer than [`MAX_OBJECT_LEN`].
    ObjectTooLong(usize),
    /// An object name contains a character the kernel cannot accept.
    ObjectChar(char),
    /// A symbol name is empty.
    EmptySymbol,
    /// A symbol name is longer than [`MAX_SYMBOL_LEN`].
    SymbolTooLong(usize),
    /// A symbol name contains a character the kernel cannot accept.
    SymbolChar(char),
    /// The position is not an unsigned decimal number.
    BadPosition(String),
    /// The section part of a `.klp.rela.` name is empty.
    EmptySection,
    /// The source file of a KLP_SYMBOL_FILE() annotation is empty or
    /// contains a blank or control character.
    BadFile(String),
    /// The object or position is to be inferred, and there is no symbol map.
    NeedsMap,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::NotUtf8 => write!(f, "name is not valid UTF-8"),
            NameError::Malformed(expected) => write!(f, "malformed name, expected {expected}"),
            NameError::EmptyObject => write!(f, "empty object name"),
            NameError::ObjectTooLong(len) => write!(
                f,
                "object name is {len} bytes long, the kernel accepts at most {MAX_OBJECT_LEN}"
            ),
            NameError::ObjectChar('.') => write!(f, "object name contains '.'"),
            NameError::ObjectChar('-') => write!(
                f,
                "object name contains '-': the kernel names modules with '_' instead"
            ),
            NameError::ObjectChar(c) => write!(f, "object name contains {c:?}"),
            NameError::EmptySymbol => write!(f, "empty symbol name"),
            NameError::SymbolTooLong(len) => write!(
                f,
                "symbol name is {len} bytes long, the kernel accepts at most {MAX_SYMBOL_LEN}"
            ),
            NameError::SymbolChar(',') => write!(f, "symbol name contains ','"),
            NameError::SymbolChar(c) => write!(f, "symbol name contains {c:?}"),
            NameError::BadPosition(pos) => {
                write!(f, "position {pos:?} is not an unsigned decimal number")
            }
            NameError::EmptySection => write!(f, "empty section name"),
            NameError::BadFile(file) => write!(
                f,
                "source file {file:?} is empty or contains a blank or control character"
            ),
            NameError::NeedsMap => write!(
                f,
                "the object or position is left to klp-convert to infer (KLP_SYMBOL(), \
                 KLP_SYMBOL_FILE()), which needs the target kernel's symbols: pass \
                 --symbols with a /proc/kallsyms dump of the target, its System.map or \
                 vmlinux, and for module symbols the module's .ko or /lib/modules/<release> \
                 (Kbuild: make KLP_SYMBOLS=...)"
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// A reference to a symbol of another object: object, name and position.
/// The names are borrowed from the name they were parsed from where they
/// can be: a module may have tens of thousands of annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SymbolRef<'a> {
    /// The object that defines the symbol (`vmlinux` or a module name).
    pub object: Cow<'a, str>,
    /// The symbol's name in that object.
    pub name: Cow<'a, str>,
    /// 0 for a unique name, else the 1-based position among equal names.
    pub pos: u64,
}

impl SymbolRef<'_> {
    /// The name of the livepatch symbol: `.klp.sym.<obj>.<sym>,<pos>`.
    pub fn klp_symbol_name(&self) -> String {
        let mut name = Vec::new();
        push_klp_symbol_name(
            &mut name,
            self.object.as_bytes(),
            self.name.as_bytes(),
            self.pos,
        );
        String::from_utf8_lossy(&name).into_owned()
    }

    /// True if the symbol belongs to vmlinux.
    pub fn is_vmlinux(&self) -> bool {
        self.object == VMLINUX
    }
}

/// A parsed `.klp.sym.rela.<patched_obj>.<sym_obj>.<sym>,<pos>` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation<'a> {
    /// The object whose code the reference patches.
    pub patched: Cow<'a, str>,
    /// The referenced symbol.
    pub target: SymbolRef<'a>,
}

impl Annotation<'_> {
    /// Its fields as bytes.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            patched: self.patched.as_bytes(),
            object: self.target.object.as_bytes(),
            name: self.target.name.as_bytes(),
            pos: self.target.pos,
        }
    }
}

/// An explicit annotation's fields as bytes (an [`Annotation`], or
/// [`parse_fields`]' view of a name): what a conversion needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    /// The object whose code the reference patches.
    pub patched: &'a [u8],
    /// The object that defines the symbol.
    pub object: &'a [u8],
    /// The symbol's name.
    pub name: &'a [u8],
    /// Its position.
    pub pos: u64,
}

impl Fields<'_> {
    /// True if the symbol belongs to vmlinux.
    pub fn is_vmlinux(&self) -> bool {
        self.object == VMLINUX.as_bytes()
    }

    /// The object part of the `.klp.rela.<obj>.` section that must hold
    /// relocations against this symbol: vmlinux symbols are resolved when
    /// the patch loads, others when the patched module is present.
    pub fn rela_object(&self) -> &[u8] {
        if self.is_vmlinux() {
            VMLINUX.as_bytes()
        } else {
            self.patched
        }
    }

    /// Append the name of the livepatch symbol to `out`.
    pub fn push_klp_symbol_name(&self, out: &mut Vec<u8>) {
        push_klp_symbol_name(out, self.object, self.name, self.pos);
    }
}

/// Where the bytes that follow [`SYMBOL_PREFIX`] in the livepatch
/// symbol name of `fields` (`<object>.<name>,<pos>`) begin in `old`, if
/// `old` ends with them; None if it does not, or if `fields` is not a
/// view of `old` (then they are made). Without a copy: most annotations
/// end with the new name's bytes, and [`parse_fields`] views them.
pub fn new_name_in(old: &[u8], fields: &Fields<'_>) -> Option<u32> {
    // Where the object is, if `fields` views `old`. A field that is the
    // very bytes of `old` where the new name has it need not be compared.
    let at = (fields.object.as_ptr() as usize).checked_sub(old.as_ptr() as usize)?;
    let tail = old.get(at..)?;
    let same = |at: usize, field: &[u8]| {
        tail.get(at..at.checked_add(field.len())?)
            .filter(|t| t.as_ptr() == field.as_ptr() || *t == field)
    };
    let name_at = fields.object.len() + 1;
    let pos_at = name_at + fields.name.len() + 1;
    same(0, fields.object)?;
    same(name_at, fields.name)?;
    if tail.get(name_at - 1) != Some(&b'.') || tail.get(pos_at - 1) != Some(&b',') {
        return None;
    }
    let pos = tail.get(pos_at..)?;
    // In decimal, as push_klp_symbol_name() writes it: no leading zero.
    let canonical = pos.first() != Some(&b'0') || pos.len() == 1;
    (canonical && decimal(pos)? == fields.pos)
        .then(|| u32::try_from(at).ok())
        .flatten()
}

/// Append `.klp.sym.<object>.<name>,<pos>` to `out`.
fn push_klp_symbol_name(out: &mut Vec<u8>, object: &[u8], name: &[u8], pos: u64) {
    // The position in decimal, without the formatting machinery.
    let mut digits = [0u8; 20];
    let mut n = pos;
    let mut start = digits.len();
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(SYMBOL_PREFIX.as_bytes());
    out.extend_from_slice(object);
    out.push(b'.');
    out.extend_from_slice(name);
    out.push(b',');
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

fn utf8(name: &[u8]) -> Result<&str, NameError> {
    std::str::from_utf8(name).map_err(|_| NameError::NotUtf8)
}

/// Check an object name (vmlinux or a module's runtime name).
pub fn check_object(obj: &str) -> Result<(), NameError> {
    if obj.is_empty() {
        return Err(NameError::EmptyObject);
    }
    if obj.len() > MAX_OBJECT_LEN {
        return Err(NameError::ObjectTooLong(obj.len()));
    }
    let bad = |c: char| matches!(c, '.' | ',' | '-' | '*') || c.is_whitespace() || c.is_control();
    // Names are ASCII: bytes are enough unless they are not.
    let clean = obj
        .bytes()
        .all(|b| b > b' ' && b < 0x7f && !matches!(b, b'.' | b',' | b'-' | b'*'));
    if let Some(c) = (!clean).then(|| obj.chars().find(|c| bad(*c))).flatten() {
        return Err(NameError::ObjectChar(c));
    }
    Ok(())
}

/// Check a symbol name as it appears inside a livepatch symbol name.
pub fn check_symbol(sym: &str) -> Result<(), NameError> {
    if sym.is_empty() {
        return Err(NameError::EmptySymbol);
    }
    if sym.len() > MAX_SYMBOL_LEN {
        return Err(NameError::SymbolTooLong(sym.len()));
    }
    let bad = |c: char| c == ',' || c.is_whitespace() || c.is_control();
    let clean = sym.bytes().all(|b| b > b' ' && b < 0x7f && b != b',');
    if let Some(c) = (!clean).then(|| sym.chars().find(|c| bad(*c))).flatten() {
        return Err(NameError::SymbolChar(c));
    }
    Ok(())
}

/// Parse an unsigned decimal position.
pub fn parse_pos(pos: &str) -> Result<u64, NameError> {
    if pos.is_empty() || !pos.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::BadPosition(pos.to_string()));
    }
    pos.parse::<u64>()
        .map_err(|_| NameError::BadPosition(pos.to_string()))
}

/// Parse `<obj>.<sym>,<pos>` (the part after a prefix).
fn parse_symbol_ref<'a>(rest: &'a str, expected: &'static str) -> Result<SymbolRef<'a>, NameError> {
    let (object, tail) = rest.split_once('.').ok_or(NameError::Malformed(expected))?;
    check_object(object)?;
    let (name, pos) = tail.split_once(',').ok_or(NameError::Malformed(expected))?;
    check_symbol(name)?;
    if pos.contains(',') {
        return Err(NameError::SymbolChar(','));
    }
    let pos = parse_pos(pos)?;
    Ok(SymbolRef {
        object: object.into(),
        name: name.into(),
        pos,
    })
}

/// True if a symbol name carries the annotation prefix.
pub fn is_annotation(name: &[u8]) -> bool {
    name.starts_with(ANNOTATION_PREFIX.as_bytes())
}

/// True if [`SYMBOL_PREFIX`] followed by `tail` is an annotation.
pub fn is_annotation_tail(tail: &[u8]) -> bool {
    ANNOTATION_PREFIX
        .as_bytes()
        .strip_prefix(SYMBOL_PREFIX.as_bytes())
        .is_some_and(|rest| tail.starts_with(rest))
}

/// True if a symbol name has the livepatch symbol prefix (and is not an
/// annotation).
pub fn is_klp_symbol(name: &[u8]) -> bool {
    name.starts_with(SYMBOL_PREFIX.as_bytes()) && !is_annotation(name)
}

/// Which of the two prefixes a symbol name has, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// Neither.
    None,
    /// The annotation prefix ([`is_annotation`]).
    Annotation,
    /// The livepatch symbol prefix alone ([`is_klp_symbol`]).
    KlpSymbol,
}

impl Prefix {
    /// The prefix of `name`.
    pub fn of(name: &[u8]) -> Prefix {
        match name.strip_prefix(SYMBOL_PREFIX.as_bytes()) {
            None => Prefix::None,
            Some(rest) if rest.starts_with(b"rela.") => Prefix::Annotation,
            Some(_) => Prefix::KlpSymbol,
        }
    }
}

/// True if a section name has the livepatch relocation section prefix.
pub fn is_klp_rela(name: &[u8]) -> bool {
    name.starts_with(RELA_PREFIX.as_bytes())
}

/// An annotation as written, where the object and the position may be
/// left to klp-convert (`*`), the position with a source file to pick one
/// of several symbols of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The object whose code the reference patches.
    pub patched: Cow<'a, str>,
    /// The object that defines the symbol; None: infer.
    pub object: Option<Cow<'a, str>>,
    /// The symbol's name.
    pub name: Cow<'a, str>,
    /// The position; None: infer.
    pub pos: Option<u64>,
    /// The source file that defines the symbol (with an inferred position).
    pub file: Option<Cow<'a, str>>,
}

impl<'a> Request<'a> {
    /// The annotation if nothing is left to infer.
    pub fn explicit(&self) -> Option<Annotation<'a>> {
        self.clone().into_explicit()
    }

    /// [`Request::explicit`], consuming the request.
    pub fn into_explicit(self) -> Option<Annotation<'a>> {
        let object = self.object?;
        Some(Annotation {
            patched: if self.patched == INFER {
                object.clone()
            } else {
                self.patched
            },
            target: SymbolRef {
                object,
                name: self.name,
                pos: self.pos?,
            },
        })
    }

    /// The request klp-convert makes for a plain reference, an undefined
    /// symbol that is neither annotated nor exported: object and position
    /// from the symbol maps, and the reference patches the object that
    /// defines the symbol (its relocations are applied with that object).
    pub fn plain(name: impl Into<Cow<'a, str>>) -> Self {
        Request {
            patched: INFER.into(),
            object: None,
            name: name.into(),
            pos: None,
            file: None,
        }
    }

    /// The request of a `KLP_MODULE_RELOC(obj)` table entry: the symbol
    /// is `pos` of `obj`, and the reference patches `obj`.
    pub fn in_object(object: &str, name: &str, pos: u64) -> Self {
        Request {
            patched: object.to_string().into(),
            object: Some(object.to_string().into()),
            name: name.to_string().into(),
            pos: Some(pos),
            file: None,
        }
    }

    /// True for [`Request::plain`].
    pub fn is_plain(&self) -> bool {
        self.patched == INFER
    }

    /// The object the reference patches, once `object` defines it.
    pub fn patched_for<'s>(&'s self, object: &'s str) -> &'s str {
        if self.is_plain() {
            object
        } else {
            &self.patched
        }
    }
}

/// What a symbol to convert asks for.
#[derive(Debug, Clone, Copy)]
pub enum Wanted<'a> {
    /// An annotated symbol: its own name.
    Name(&'a [u8]),
    /// A symbol whose name is plain: what klp-convert asks for it (a plain
    /// reference, or an entry of a `KLP_MODULE_RELOC()` table).
    Request(&'a Request<'a>),
}

/// Parse `.klp.sym.rela.<patched_obj>.<sym_obj|*>.<sym>,<pos|*>[,<file>]`.
pub fn parse_request(name: &[u8]) -> Result<Request<'_>, NameError> {
    match parse_request_printable(name) {
        Some(r) => Ok(r),
        None => parse_request_checked(name),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is not printable ASCII ('!' to
/// '~'): 0x80 and up, below '!' (its low seven bits plus 0x5f stay below
/// 0x80) and DEL (0x7f plus one reaches 0x80). No sum carries into the
/// next byte.
fn unprintable_bytes(x: u64) -> u64 {
    let low = x & LOW7;
    (x | !(low + 0x5f * ONES) | (low + ONES)) & HIGH
}

/// The high bit of each byte of `x` from '(' to '/', which holds the
/// four an annotation's fields are cut at or checked for: '*', ',', '-'
/// and '.'. Exact: a zero byte of `y` flags itself only.
fn punctuation_bytes(x: u64) -> u64 {
    let y = (x & (0xf8 * ONES)) ^ (0x28 * ONES);
    !(((y & LOW7) + LOW7) | y | LOW7)
}

/// Where the fields of an annotation of printable ASCII end: the name
/// after its prefix and the offsets of the '.' after the patched object,
/// the '.' after the symbol's object and the ',' after the symbol.
struct Scan<'a> {
    rest: &'a [u8],
    dots: (usize, usize),
    comma: usize,
}

impl<'a> Scan<'a> {
    fn patched(&self) -> Option<&'a [u8]> {
        self.rest.get(..self.dots.0)
    }

    fn object(&self) -> Option<&'a [u8]> {
        self.rest.get(self.dots.0 + 1..self.dots.1)
    }

    fn symbol(&self) -> Option<&'a [u8]> {
        self.rest.get(self.dots.1 + 1..self.comma)
    }

    fn pos(&self) -> Option<&'a [u8]> {
        self.rest.get(self.comma + 1..)
    }
}

/// The fields of a valid name of printable ASCII, the form every
/// annotation a compiler emits has, found and checked in one pass over
/// the bytes, nothing allocated; None for anything else, valid or not.
/// The position is left as it is.
fn scan_printable(name: &[u8]) -> Option<Scan<'_>> {
    let rest = name.strip_prefix(ANNOTATION_PREFIX.as_bytes())?;
    // Eight bytes at a time: printable, and the ends of the patched
    // object (the first '.'), the symbol's object (the next '.') and the
    // symbol (the first ',' after it), looked for among the few bytes
    // that may be one of them.
    let (mut field, mut p, mut o, mut n) = (0, 0, 0, 0);
    let (mut not_in_object, mut unprintable) = (false, 0);
    let mut word = |x: u64, at: usize| -> Option<()> {
        unprintable |= unprintable_bytes(x);
        let mut marks = if field < 3 { punctuation_bytes(x) } else { 0 };
        while marks != 0 {
            let j = (marks.trailing_zeros() / 8) as usize;
            marks &= marks - 1;
            match ((x >> (8 * j)) as u8, field) {
                (b'.', 0) => (p, field) = (at + j, 1),
                (b'.', 1) => (o, field) = (at + j, 2),
                (b',', 2) => {
                    (n, field) = (at + j, 3);
                    break;
                }
                (b'-' | b'*', 1) => not_in_object = true,
                // A ',' in an object, a '-' or '*' in the patched one.
                (b',' | b'-' | b'*', 0 | 1) => return None,
                // In the symbol, or none of the four.
                _ => {}
            }
        }
        Some(())
    };
    let mut words = rest.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        word(u64::from_le_bytes(b), at)?;
        at += 8;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // Filled with a printable byte that is none of the four.
        let mut b = [b'a'; 8];
        b.get_mut(..tail.len())?.copy_from_slice(tail);
        word(u64::from_le_bytes(b), at)?;
    }
    if unprintable != 0 || field != 3 || (not_in_object && rest.get(p + 1..o)? != INFER.as_bytes())
    {
        return None;
    }
    let scan = Scan {
        rest,
        dots: (p, o),
        comma: n,
    };
    let (patched, object, sym) = (scan.patched()?, scan.object()?, scan.symbol()?);
    if patched.is_empty()
        || patched.len() > MAX_OBJECT_LEN
        || object.is_empty()
        || object.len() > MAX_OBJECT_LEN
        || sym.is_empty()
        || sym.len() > MAX_SYMBOL_LEN
    {
        return None;
    }
    Some(scan)
}

/// A position in decimal, as [`parse_pos`] takes it; None for anything
/// else.
fn decimal(pos: &[u8]) -> Option<u64> {
    let n = pos.iter().try_fold(0u64, |n, b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    });
    n.filter(|_| !pos.is_empty())
}

/// [`parse_request`] for a name [`scan_printable`] takes; None for
/// anything else, which [`parse_request_checked`] then parses (and
/// explains); both give the same request for every name this accepts.
fn parse_request_printable(name: &[u8]) -> Option<Request<'_>> {
    let scan = scan_printable(name)?;
    let rest = std::str::from_utf8(scan.rest).ok()?;
    let (patched, object) = (
        rest.get(..scan.dots.0)?,
        rest.get(scan.dots.0 + 1..scan.dots.1)?,
    );
    let (sym, pos) = (
        rest.get(scan.dots.1 + 1..scan.comma)?,
        rest.get(scan.comma + 1..)?,
    );
    let (pos, file) = if pos == INFER {
        (None, None)
    } else if let Some(file) = pos.strip_prefix("*,") {
        if file.is_empty() {
            return None;
        }
        (None, Some(file.into()))
    } else {
        (Some(decimal(pos.as_bytes())?), None)
    };
    Some(Request {
        patched: patched.into(),
        object: (object != INFER).then(|| object.into()),
        name: sym.into(),
        pos,
        file,
    })
}

/// The fields of an explicit annotation in printable ASCII, as
/// [`parse_annotation`] finds them, without decoding or copying a byte:
/// the way a conversion without a symbol map reads its annotations. None
/// for any other name, which [`parse_annotation`] then parses.
pub fn parse_fields(name: &[u8]) -> Option<Fields<'_>> {
    let scan = scan_printable(name)?;
    let object = scan.object()?;
    if object == INFER.as_bytes() {
        return None;
    }
    Some(Fields {
        patched: scan.patched()?,
        object,
        name: scan.symbol()?,
        pos: decimal(scan.pos()?)?,
    })
}

/// [`parse_request`] for any name, with the reason a name is refused.
fn parse_request_checked(name: &[u8]) -> Result<Request<'_>, NameError> {
    const EXPECTED: &str = ".klp.sym.rela.<patched_obj>.<sym_obj>.<sym>,<pos>";
    let name = utf8(name)?;
    let rest = name
        .strip_prefix(ANNOTATION_PREFIX)
        .ok_or(NameError::Malformed(EXPECTED))?;
    let (patched, rest) = rest.split_once('.').ok_or(NameError::Malformed(EXPECTED))?;
    check_object(patched)?;
    let (object, rest) = rest.split_once('.').ok_or(NameError::Malformed(EXPECTED))?;
    let object = if object == INFER {
        None
    } else {
        check_object(object)?;
        Some(object.into())
    };
    let (sym, pos) = rest.split_once(',').ok_or(NameError::Malformed(EXPECTED))?;
    check_symbol(sym)?;
    let (pos, file) = if pos == INFER {
        (None, None)
    } else if let Some(file) = pos.strip_prefix("*,") {
        if file.is_empty() || file.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NameError::BadFile(file.to_string()));
        }
        (None, Some(file.into()))
    } else if pos.contains(',') {
        return Err(NameError::SymbolChar(','));
    } else {
        (Some(parse_pos(pos)?), None)
    };
    Ok(Request {
        patched: patched.into(),
        object,
        name: sym.into(),
        pos,
        file,
    })
}

/// Parse `.klp.sym.rela.<patched_obj>.<sym_obj>.<sym>,<pos>`; a name that
/// leaves the object or position to infer is [`NameError::NeedsMap`].
pub fn parse_annotation(name: &[u8]) -> Result<Annotation<'_>, NameError> {
    parse_request(name)?
        .into_explicit()
        .ok_or(NameError::NeedsMap)
}

/// Parse `.klp.sym.<sym_obj>.<sym>,<pos>`.
pub fn parse_klp_symbol(name: &[u8]) -> Result<SymbolRef<'_>, NameError> {
    const EXPECTED: &str = ".klp.sym.<obj>.<sym>,<pos>";
    let name = utf8(name)?;
    let rest = name
        .strip_prefix(SYMBOL_PREFIX)
        .ok_or(NameError::Malformed(EXPECTED))?;
    parse_symbol_ref(rest, EXPECTED)
}

/// Parse `.klp.rela.<obj>.<section>` into object and section name.
pub fn parse_klp_rela(name: &[u8]) -> Result<(String, String), NameError> {
    const EXPECTED: &str = ".klp.rela.<obj>.<section>";
    let name = utf8(name)?;
    let rest = name
        .strip_prefix(RELA_PREFIX)
        .ok_or(NameError::Malformed(EXPECTED))?;
    let (obj, section) = rest.split_once('.').ok_or(NameError::Malformed(EXPECTED))?;
    check_object(obj)?;
    if section.is_empty() {
        return Err(NameError::EmptySection);
    }
    Ok((obj.to_string(), section.to_string()))
}

/// What [`parse_klp_rela`] finds wrong with `.klp.rela.<obj>.<section>`
/// for a valid `obj`, found without making the name: only `section` can
/// be wrong.
pub fn klp_rela_section_error(section: &[u8]) -> Option<NameError> {
    if std::str::from_utf8(section).is_err() {
        Some(NameError::NotUtf8)
    } else if section.is_empty() {
        Some(NameError::EmptySection)
    } else {
        None
    }
}

/// The name of the livepatch relocation section for `obj` and `section`.
pub fn klp_rela_name(obj: &str, section: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(RELA_PREFIX.len() + obj.len() + 1 + section.len());
    push_klp_rela_name(&mut name, obj, section);
    name
}

/// Append [`klp_rela_name`] to `out`.
pub fn push_klp_rela_name(out: &mut Vec<u8>, obj: &str, section: &[u8]) {
    out.extend_from_slice(RELA_PREFIX.as_bytes());
    out.extend_from_slice(obj.as_bytes());
    out.push(b'.');
    out.extend_from_slice(section);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_vmlinux() {
        let a = parse_annotation(b".klp.sym.rela.vmlinux.vmlinux.saved_command_line,0").unwrap();
        assert_eq!(a.patched, "vmlinux");
        assert_eq!(a.target.object, "vmlinux");
        assert_eq!(a.target.name, "saved_command_line");
        assert_eq!(a.target.pos, 0);
        assert_eq!(a.fields().rela_object(), b"vmlinux");
        assert_eq!(
            a.target.klp_symbol_name(),
            ".klp.sym.vmlinux.saved_command_line,0"
        );
    }

    #[test]
    fn annotation_module_symbol_with_dots() {
        let a = parse_annotation(b".klp.sym.rela.ext4.ext4.foo.constprop.0,02").unwrap();
        assert_eq!(a.fields().rela_object(), b"ext4");
        assert_eq!(a.target.name, "foo.constprop.0");
        assert_eq!(a.target.pos, 2);
        assert_eq!(
            a.target.klp_symbol_name(),
            ".klp.sym.ext4.foo.constprop.0,2"
        );
    }

    #[test]
    fn module_patch_vmlinux_symbol_goes_to_vmlinux_section() {
        let a = parse_annotation(b".klp.sym.rela.ext4.vmlinux.jiffies,0").unwrap();
        assert_eq!(a.fields().rela_object(), b"vmlinux");
    }

    #[test]
    fn annotation_errors() {
        let e = |n: &str| parse_annotation(n.as_bytes()).unwrap_err();
        assert!(matches!(
            e(".klp.sym.rela..vmlinux.x,0"),
            NameError::EmptyObject
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux..x,0"),
            NameError::EmptyObject
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.,0"),
            NameError::EmptySymbol
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x,"),
            NameError::BadPosition(_)
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x,1a"),
            NameError::BadPosition(_)
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x,-1"),
            NameError::BadPosition(_)
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x,0x1"),
            NameError::BadPosition(_)
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x,1,2"),
            NameError::SymbolChar(',')
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x"),
            NameError::Malformed(_)
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux"),
            NameError::Malformed(_)
        ));
        assert!(matches!(
            e(".klp.sym.rela.my-mod.vmlinux.x,0"),
            NameError::ObjectChar('-')
        ));
        assert!(matches!(
            e(".klp.sym.rela.vmlinux.vmlinux.x,99999999999999999999999"),
            NameError::BadPosition(_)
        ));
        assert_eq!(
            parse_annotation(b".klp.sym.rela.vmlinux.vmlinux.\xff,0"),
            Err(NameError::NotUtf8)
        );
    }

    #[test]
    fn length_limits() {
        let obj55 = "a".repeat(55);
        let obj56 = "a".repeat(56);
        let sym511 = "s".repeat(511);
        let sym512 = "s".repeat(512);
        let ok = format!(".klp.sym.rela.{obj55}.{obj55}.{sym511},1");
        assert!(parse_annotation(ok.as_bytes()).is_ok());
        let bad = format!(".klp.sym.rela.{obj56}.vmlinux.x,1");
        assert_eq!(
            parse_annotation(bad.as_bytes()),
            Err(NameError::ObjectTooLong(56))
        );
        let bad = format!(".klp.sym.rela.vmlinux.{obj56}.x,1");
        assert_eq!(
            parse_annotation(bad.as_bytes()),
            Err(NameError::ObjectTooLong(56))
        );
        let bad = format!(".klp.sym.rela.vmlinux.vmlinux.{sym512},1");
        assert_eq!(
            parse_annotation(bad.as_bytes()),
            Err(NameError::SymbolTooLong(512))
        );
    }

    #[test]
    fn klp_symbol_and_section() {
        let s = parse_klp_symbol(b".klp.sym.vmlinux.foo.cold,3").unwrap();
        assert_eq!((&*s.object, &*s.name, s.pos), ("vmlinux", "foo.cold", 3));
        assert!(parse_klp_symbol(b".klp.sym.vmlinux.foo").is_err());
        let (o, s) = parse_klp_rela(b".klp.rela.vmlinux..text.foo").unwrap();
        assert_eq!((o.as_str(), s.as_str()), ("vmlinux", ".text.foo"));
        assert!(parse_klp_rela(b".klp.rela.vmlinux.").is_err());
        assert!(parse_klp_rela(b".klp.rela.vmlinux").is_err());
        assert_eq!(
            klp_rela_name("ext4", b".text"),
            b".klp.rela.ext4..text".to_vec()
        );
    }

    #[test]
    fn requests() {
        let r = parse_request(b".klp.sym.rela.vmlinux.*.c_start,*").unwrap();
        assert_eq!(r.object, None);
        assert_eq!(r.pos, None);
        assert_eq!(r.file, None);
        assert_eq!(r.name, "c_start");
        let r = parse_request(b".klp.sym.rela.ext4.*.foo.isra.0,*,fs/ext4/a,b.c").unwrap();
        assert_eq!(r.patched, "ext4");
        assert_eq!(r.name, "foo.isra.0");
        assert_eq!(r.file.as_deref(), Some("fs/ext4/a,b.c"));
        let r = parse_request(b".klp.sym.rela.ext4.ext4.foo,*").unwrap();
        assert_eq!(r.object.as_deref(), Some("ext4"));
        let r = parse_request(b".klp.sym.rela.ext4.*.foo,3").unwrap();
        assert_eq!((r.object.clone(), r.pos), (None, Some(3)));
        assert!(r.explicit().is_none());
        assert_eq!(
            parse_annotation(b".klp.sym.rela.vmlinux.*.x,*"),
            Err(NameError::NeedsMap)
        );
        assert!(NameError::NeedsMap.to_string().contains("--symbols"));
        assert_eq!(
            parse_request(b".klp.sym.rela.vmlinux.*.x,*,"),
            Err(NameError::BadFile(String::new()))
        );
        assert_eq!(
            parse_request(b".klp.sym.rela.vmlinux.*.x,*,a b.c"),
            Err(NameError::BadFile("a b.c".into()))
        );
        assert_eq!(
            parse_request(b".klp.sym.rela.vmlinux.*.x,1,a.c"),
            Err(NameError::SymbolChar(','))
        );
        assert_eq!(
            parse_request(b".klp.sym.rela.*.vmlinux.x,1"),
            Err(NameError::ObjectChar('*'))
        );
    }

    #[test]
    fn printable_names_parse_as_any_name() {
        let names: &[&[u8]] = &[
            b".klp.sym.rela.vmlinux.vmlinux.saved_command_line,0",
            b".klp.sym.rela.ext4.ext4.foo.constprop.0,02",
            b".klp.sym.rela.ext4.*.foo.isra.0,*,fs/ext4/a,b.c",
            b".klp.sym.rela.ext4.*.foo,*",
            b".klp.sym.rela.ext4.*.foo,3",
            b".klp.sym.rela.ext4.*.foo,*,",
            b".klp.sym.rela.vmlinux.vmlinux.x,18446744073709551615",
            b".klp.sym.rela.vmlinux.vmlinux.x,18446744073709551616",
            b".klp.sym.rela.vmlinux.vmlinux.x,",
            b".klp.sym.rela.vmlinux.vmlinux.x,1,2",
            b".klp.sym.rela.vmlinux.vmlinux.x,*1",
            b".klp.sym.rela.*.vmlinux.x,1",
            b".klp.sym.rela.ext4.**.x,0",
            b".klp.sym.rela.ext4.a*.x,0",
            b".klp.sym.rela.ext4.*.x.y,z,*",
            b".klp.sym.rela.my-mod.vmlinux.x,0",
            b".klp.sym.rela.a,b.vmlinux.x,0",
            b".klp.sym.rela..vmlinux.x,0",
            b".klp.sym.rela.vmlinux..x,0",
            b".klp.sym.rela.vmlinux.vmlinux.,0",
            b".klp.sym.rela.vmlinux.vmlinux.x",
            b".klp.sym.rela.vmlinux.vmlinux",
            b".klp.sym.rela.vmlinux.vmlinux.x y,0",
            b".klp.sym.rela.vmlinux.vmlinux.\xc3\xa9,0",
            b".klp.sym.rela.vmlinux.vmlinux.a\x7f,0",
            b".klp.sym.rela.vmlinux.vmlinux.a\x1f,0",
            b".klp.sym.rela.vmlinux.vmlinux.!~(+)/,0",
            b".klp.sym.rela.vm(+)/linux.vmlinux.x,0",
            b".klp.sym.rela.vmlinux.vmlinux.x,0\xff",
            b".klp.sym.vmlinux.x,0",
        ];
        let long = [
            format!(".klp.sym.rela.{}.vmlinux.x,1", "a".repeat(55)),
            format!(".klp.sym.rela.{}.vmlinux.x,1", "a".repeat(56)),
            format!(".klp.sym.rela.vmlinux.vmlinux.{},1", "s".repeat(511)),
            format!(".klp.sym.rela.vmlinux.vmlinux.{},1", "s".repeat(512)),
        ];
        let (mut accepted, mut explicit) = (0, 0);
        for name in names
            .iter()
            .copied()
            .chain(long.iter().map(|n| n.as_bytes()))
        {
            let checked = parse_request_checked(name);
            if let Some(fast) = parse_request_printable(name) {
                accepted += 1;
                assert_eq!(Ok(fast), checked, "{}", String::from_utf8_lossy(name));
            }
            assert_eq!(parse_request(name), checked);
            explicit += usize::from(fields_agree(name));
        }
        assert_eq!(accepted, 10);
        assert_eq!(explicit, 7);
    }

    /// [`parse_fields`] reads `name` as [`parse_annotation`] does, and
    /// leaves none that [`parse_request_printable`] takes and is explicit
    /// to it; true if it read it.
    /// new_name_in() finds the new name in the annotation where the name
    /// push_klp_symbol_name() makes is its end, and only there.
    #[test]
    fn new_name_in_the_annotation() {
        for (name, end) in [
            (".klp.sym.rela.vmlinux.vmlinux.x,0", true),
            (".klp.sym.rela.ext4.ext4.ext4_fill_super,12", true),
            (".klp.sym.rela.vmlinux.vmlinux.x,00", false),
            (".klp.sym.rela.vmlinux.vmlinux.x,012", false),
        ] {
            let fields = parse_fields(name.as_bytes()).unwrap();
            let mut made = Vec::new();
            fields.push_klp_symbol_name(&mut made);
            let tail = &made[SYMBOL_PREFIX.len()..];
            let at = new_name_in(name.as_bytes(), &fields);
            assert_eq!(at.is_some(), end, "{name}");
            if let Some(at) = at {
                assert_eq!(&name.as_bytes()[at as usize..], tail, "{name}");
            }
            // The same fields, not a view of the name: wherever it is
            // found, its bytes are the new name's.
            let copy = name.as_bytes().to_vec();
            if let Some(at) = new_name_in(&copy, &fields) {
                assert_eq!(&copy[at as usize..], tail, "{name}");
            }
        }
    }

    fn fields_agree(name: &[u8]) -> bool {
        let shown = String::from_utf8_lossy(name);
        let annotation = parse_annotation(name);
        match parse_fields(name) {
            Some(fields) => {
                assert_eq!(
                    annotation.as_ref().map(Annotation::fields),
                    Ok(fields),
                    "{shown}"
                );
                true
            }
            None => {
                let printable = parse_request_printable(name);
                assert!(
                    annotation.is_err() || printable.is_none(),
                    "{shown}: an explicit annotation left to the slower parser"
                );
                false
            }
        }
    }

    #[test]
    fn fields_of_any_length_parse_as_any_name() {
        // What an object may not hold, placed in each field in turn,
        // fields of every length from 1 to 10.
        let (mut fast, mut explicit) = (0, 0);
        for a in 1..=10 {
            for b in 1..=10 {
                for c in 1..=10 {
                    let (patched, object, sym) = ("p".repeat(a), "o".repeat(b), "s".repeat(c));
                    for x in ["", "-", "*", ",", ".", "x-y"] {
                        let variants = [
                            format!(".klp.sym.rela.{patched}{x}.{object}.{sym},3"),
                            format!(".klp.sym.rela.{patched}.{object}{x}.{sym},3"),
                            format!(".klp.sym.rela.{patched}.{object}.{sym}{x},3"),
                            format!(".klp.sym.rela.{patched}.*.{sym}{x},*"),
                        ];
                        for name in &variants {
                            let checked = parse_request_checked(name.as_bytes());
                            explicit += usize::from(fields_agree(name.as_bytes()));
                            match parse_request_printable(name.as_bytes()) {
                                Some(r) => {
                                    fast += 1;
                                    assert_eq!(Ok(r), checked, "{name}");
                                }
                                // A valid name is never left to the
                                // slower parser.
                                None => assert!(checked.is_err(), "{name}"),
                            }
                        }
                    }
                }
            }
        }
        // Valid per length: all four variants without an extra; with
        // '-', '*' or "x-y" the last two (in the symbol); with '.' all
        // but the first (an empty object); with ',' none.
        let valid = [4, 2, 2, 0, 3, 2];
        assert_eq!(fast, 1000 * valid.iter().sum::<usize>());
        // Explicit: the same but the last variant (object and position
        // left to infer).
        let valid = [3, 1, 1, 0, 2, 1];
        assert_eq!(explicit, 1000 * valid.iter().sum::<usize>());
    }

    #[test]
    fn section_errors_as_the_whole_name_has_them() {
        for section in [&b".text"[..], b"", b".text.\xff", b"\xc3", b".a.b,c"] {
            assert_eq!(
                klp_rela_section_error(section),
                parse_klp_rela(&klp_rela_name(VMLINUX, section)).err(),
                "{section:?}"
            );
        }
    }

    #[test]
    fn prefixes() {
        assert!(is_annotation(b".klp.sym.rela.a.b.c,0"));
        assert!(!is_klp_symbol(b".klp.sym.rela.a.b.c,0"));
        assert!(is_klp_symbol(b".klp.sym.a.c,0"));
        for name in [
            &b".klp.sym.rela.a.b.c,0"[..],
            b".klp.sym.rela.",
            b".klp.sym.rela",
            b".klp.sym.a.c,0",
            b".klp.sym.",
            b".klp.sym",
            b".klp.rela.a..text",
            b"",
            b"plain",
        ] {
            let want = if is_annotation(name) {
                Prefix::Annotation
            } else if is_klp_symbol(name) {
                Prefix::KlpSymbol
            } else {
                Prefix::None
            };
            assert_eq!(Prefix::of(name), want, "{}", String::from_utf8_lossy(name));
        }
        assert!(is_klp_rela(b".klp.rela.a..text"));
        assert!(!is_klp_rela(b".rela.text"));
    }
}
