// SPDX-License-Identifier: GPL-2.0-only
//! Per-architecture rules for livepatch relocations.
//!
//! Each architecture's module loader (apply_relocate_add() in
//! arch/*/kernel/module*.c) applies a fixed set of RELA relocation types;
//! a livepatch relocation of any other type fails when the kernel applies
//! it, which for module-specific relocations is long after the build. The
//! tables below list the types each loader handles and that stay
//! meaningful when moved, on their own, into a `.klp.rela.` section.
//! Relocation types that only work together with another relocation in the
//! same section (RISC-V PC-relative HI20/LO12 pairs, LoongArch stack
//! machine sequences, ADD/SUB pairs) are rejected.
//!
//! Some forms a compiler emits have no loader support but an equivalent
//! the loader applies: an architecture may rewrite them ([`Rewrite`]).
//! arm64 is the one that needs it: GCC reaches a `__weak` undefined data
//! symbol, which every annotated symbol is, through the GOT
//! (`adrp xN, :got:sym` + `ldr xT, [xN, #:got_lo12:sym]`), and the arm64
//! module loader builds no GOT. The pair becomes the direct form
//! `adrp xN, sym` + `add xT, xN, #:lo12:sym` (ADR_PREL_PG_HI21 and
//! ADD_ABS_LO12_NC): the same address in xT, without the load. ADRP
//! reaches +-4 GiB, and every module, the livepatch included, lies in the
//! module region within 2 GiB of the kernel image, so a vmlinux or module
//! symbol is always in range; the loader checks it anyway (-ENOEXEC).

use object::elf;

/// Outcome of checking one relocation against the architecture's rules.
pub type Check = Result<(), String>;

/// What an architecture needs to know about one livepatch relocation.
pub struct RelocSite<'a> {
    /// Relocation type.
    pub r_type: u32,
    /// Offset in the relocated section.
    pub offset: u64,
    /// Contents of the relocated section (None for SHT_NOBITS).
    pub data: Option<&'a [u8]>,
    /// True for a big-endian file.
    pub big_endian: bool,
}

/// How a relocation changes to become one the module loader applies: its
/// new type, and the new bytes of the instruction it relocates, if that
/// changes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    /// The new relocation type.
    pub r_type: u32,
    /// The instruction's new bytes, in file order.
    pub insn: Option<[u8; 4]>,
}

/// The livepatch rules for one `e_machine`.
pub struct Arch {
    /// Human-readable name.
    pub name: &'static str,
    /// e_machine value.
    pub machine: u16,
    /// Whether the architecture is 64-bit (None: both).
    pub is_64: Option<bool>,
    /// Relocation types the module loader applies, with their names.
    pub supported: &'static [(u32, &'static str)],
    /// Extra per-relocation checks.
    check: fn(&RelocSite<'_>) -> Check,
    /// Relocations of unsupported types that have a supported equivalent.
    rewrite: fn(&RelocSite<'_>) -> Result<Option<Rewrite>, String>,
}

impl Arch {
    /// True if the loader applies relocations of type `r_type`.
    pub fn supports(&self, r_type: u32) -> bool {
        self.supported.iter().any(|(t, _)| *t == r_type)
    }

    /// Check one relocation against the architecture's rules.
    pub fn check(&self, site: &RelocSite<'_>) -> Check {
        if !self.supports(site.r_type) {
            return Err(format!(
                "relocation type {} is not supported in livepatch relocations on {}{}",
                type_name(self.machine, site.r_type),
                self.name,
                pair_hint(self.machine, site.r_type)
            ));
        }
        (self.check)(site)
    }

    /// What a livepatch relocation at `site` must become: None if it
    /// stays as it is, the rewrite to apply otherwise, or why it cannot
    /// be a livepatch relocation.
    pub fn livepatch_form(&self, site: &RelocSite<'_>) -> Result<Option<Rewrite>, String> {
        self.livepatch_form_of(site, self.supports(site.r_type))
    }

    /// [`Arch::livepatch_form`], where the caller knows whether the
    /// loader applies the relocation's type (`supported`, as
    /// [`Arch::supports`] says): a module's relocations have few types.
    pub fn livepatch_form_of(
        &self,
        site: &RelocSite<'_>,
        supported: bool,
    ) -> Result<Option<Rewrite>, String> {
        if supported {
            (self.check)(site)?;
            return Ok(None);
        }
        let rewrite = (self.rewrite)(site)?;
        let r_type = rewrite.map_or(site.r_type, |r| r.r_type);
        self.check(&RelocSite { r_type, ..*site })?;
        Ok(rewrite)
    }
}

fn no_check(_: &RelocSite<'_>) -> Check {
    Ok(())
}

fn no_rewrite(_: &RelocSite<'_>) -> Result<Option<Rewrite>, String> {
    Ok(None)
}

/// Bytes `offset..offset + len` of the relocated section, if present.
fn target_bytes<'a>(site: &RelocSite<'a>, len: u64) -> Result<Option<&'a [u8]>, String> {
    let Some(data) = site.data else {
        return Ok(None);
    };
    let start = usize::try_from(site.offset).map_err(|_| "offset out of range".to_string())?;
    let len = usize::try_from(len).map_err(|_| "size out of range".to_string())?;
    let end = start
        .checked_add(len)
        .ok_or_else(|| "offset out of range".to_string())?;
    data.get(start..end).map(Some).ok_or_else(|| {
        format!(
            "relocation at 0x{:x} lies beyond the end of its section",
            site.offset
        )
    })
}

/// The 32-bit word `bytes` (4 of them, from [`target_bytes`]) holds.
fn word(bytes: &[u8], big_endian: bool) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(bytes.get(..4).unwrap_or(&[0; 4]));
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

fn x86_64_check(site: &RelocSite<'_>) -> Check {
    let size = match elf::RelocationType(site.r_type) {
        elf::R_X86_64_64 | elf::R_X86_64_PC64 => 8,
        elf::R_X86_64_32 | elf::R_X86_64_32S | elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => 4,
        _ => 0,
    };
    // Most relocations: the bytes exist and are zero.
    if let (Some(data), Ok(at)) = (site.data, usize::try_from(site.offset)) {
        let rest = data.get(at..).unwrap_or_default();
        let zero = match size {
            4 => rest.get(..4) == Some(&[0u8; 4][..]),
            8 => rest.get(..8) == Some(&[0u8; 8][..]),
            _ => false,
        };
        if zero {
            return Ok(());
        }
    }
    if let Some(bytes) = target_bytes(site, size)? {
        if bytes.iter().any(|b| *b != 0) {
            return Err(format!(
                "the {size} bytes to relocate are not zero; the x86 module loader refuses to \
                 write over them"
            ));
        }
    }
    Ok(())
}

const PPC_NOP: u32 = 0x6000_0000;
/// `ld r2,24(r1)`: the TOC restore that the loader writes over the nop.
const PPC64_LD_R2: u32 = 0xe841_0018;
const R_PPC64_REL24_NOTOC: u32 = 116;
const R_PPC64_ENTRY: u32 = 118;
const R_PPC64_PCREL34: u32 = 132;
const R_PPC64_GOT_PCREL34: u32 = 133;

fn ppc64_check(site: &RelocSite<'_>) -> Check {
    if site.r_type != elf::R_PPC64_REL24.0 && site.r_type != R_PPC64_REL24_NOTOC {
        return Ok(());
    }
    // A call to a symbol outside the module goes through a stub that
    // changes r2; the loader turns the nop after the call into a TOC restore.
    let next = RelocSite {
        offset: site.offset.saturating_add(4),
        ..*site
    };
    let Some(bytes) = target_bytes(&next, 4).map_err(|_| {
        "the call is the last instruction of its section; the module loader needs a nop after it"
            .to_string()
    })?
    else {
        return Ok(());
    };
    let insn = word(bytes, site.big_endian);
    if insn != PPC_NOP && insn != PPC64_LD_R2 {
        return Err(format!(
            "the instruction after this call is 0x{insn:08x}, not a nop; the module loader \
             needs a nop there to restore the TOC pointer (was the call a sibling call?)"
        ));
    }
    Ok(())
}

/// `adrp xN, <page>`, any register.
const A64_ADRP_MASK: u32 = 0x9f00_0000;
const A64_ADRP: u32 = 0x9000_0000;
/// `ldr xT, [xN, #imm]`: 64-bit load, unsigned scaled offset.
const A64_LDR_X_IMM_MASK: u32 = 0xffc0_0000;
const A64_LDR_X_IMM: u32 = 0xf940_0000;
/// `add xD, xN, #0`: 64-bit add of an immediate, not shifted.
const A64_ADD_X_IMM: u32 = 0x9100_0000;
/// Register 31 is xzr as a load's destination but sp as an add's.
const A64_XZR: u32 = 31;

/// The instruction of `site`; AArch64 instructions are little-endian
/// whatever the data's byte order.
fn a64_insn(site: &RelocSite<'_>) -> Result<u32, String> {
    let bytes = target_bytes(site, 4)?
        .ok_or_else(|| "the relocated section has no contents".to_string())?;
    Ok(word(bytes, false))
}

/// The GOT pair GCC uses for weak data, turned into ADRP + ADD.
fn aarch64_rewrite(site: &RelocSite<'_>) -> Result<Option<Rewrite>, String> {
    match elf::RelocationType(site.r_type) {
        elf::R_AARCH64_ADR_GOT_PAGE => {
            let insn = a64_insn(site)?;
            if insn & A64_ADRP_MASK != A64_ADRP {
                return Err(format!(
                    "R_AARCH64_ADR_GOT_PAGE on 0x{insn:08x}, not an adrp; cannot turn it \
                     into a direct reference"
                ));
            }
            Ok(Some(Rewrite {
                r_type: elf::R_AARCH64_ADR_PREL_PG_HI21.0,
                insn: None,
            }))
        }
        elf::R_AARCH64_LD64_GOT_LO12_NC => {
            let insn = a64_insn(site)?;
            let rt = insn & 0x1f;
            if insn & A64_LDR_X_IMM_MASK != A64_LDR_X_IMM || rt == A64_XZR {
                return Err(format!(
                    "R_AARCH64_LD64_GOT_LO12_NC on 0x{insn:08x}, not an ldr of a general \
                     register; cannot turn the GOT load into an add"
                ));
            }
            let rn = (insn >> 5) & 0x1f;
            let add = A64_ADD_X_IMM | (rn << 5) | rt;
            Ok(Some(Rewrite {
                r_type: elf::R_AARCH64_ADD_ABS_LO12_NC.0,
                insn: Some(add.to_le_bytes()),
            }))
        }
        _ => Ok(None),
    }
}

macro_rules! types {
    ($($t:expr),* $(,)?) => {
        &[$(($t.0, stringify!($t)),)*]
    };
}

/// Rename `elf::R_FOO` to `R_FOO` in the tables.
fn strip_path(name: &'static str) -> &'static str {
    name.strip_prefix("elf::").unwrap_or(name)
}

static X86_64: Arch = Arch {
    name: "x86_64",
    machine: elf::EM_X86_64.0,
    is_64: Some(true),
    supported: types![
        elf::R_X86_64_NONE,
        elf::R_X86_64_64,
        elf::R_X86_64_32,
        elf::R_X86_64_32S,
        elf::R_X86_64_PC32,
        elf::R_X86_64_PLT32,
        elf::R_X86_64_PC64,
    ],
    check: x86_64_check,
    rewrite: no_rewrite,
};

static PPC64: Arch = Arch {
    name: "ppc64",
    machine: elf::EM_PPC64.0,
    is_64: Some(true),
    supported: &[
        (elf::R_PPC64_NONE.0, "R_PPC64_NONE"),
        (elf::R_PPC64_ADDR32.0, "R_PPC64_ADDR32"),
        (elf::R_PPC64_ADDR64.0, "R_PPC64_ADDR64"),
        (elf::R_PPC64_TOC.0, "R_PPC64_TOC"),
        (elf::R_PPC64_TOC16.0, "R_PPC64_TOC16"),
        (elf::R_PPC64_TOC16_LO.0, "R_PPC64_TOC16_LO"),
        (elf::R_PPC64_TOC16_DS.0, "R_PPC64_TOC16_DS"),
        (elf::R_PPC64_TOC16_LO_DS.0, "R_PPC64_TOC16_LO_DS"),
        (elf::R_PPC64_TOC16_HA.0, "R_PPC64_TOC16_HA"),
        (elf::R_PPC64_REL24.0, "R_PPC64_REL24"),
        (R_PPC64_REL24_NOTOC, "R_PPC64_REL24_NOTOC"),
        (elf::R_PPC64_REL32.0, "R_PPC64_REL32"),
        (elf::R_PPC64_REL64.0, "R_PPC64_REL64"),
        (elf::R_PPC64_TOCSAVE.0, "R_PPC64_TOCSAVE"),
        (R_PPC64_ENTRY, "R_PPC64_ENTRY"),
        (elf::R_PPC64_REL16_HA.0, "R_PPC64_REL16_HA"),
        (elf::R_PPC64_REL16_LO.0, "R_PPC64_REL16_LO"),
        (R_PPC64_PCREL34, "R_PPC64_PCREL34"),
        (R_PPC64_GOT_PCREL34, "R_PPC64_GOT_PCREL34"),
    ],
    check: ppc64_check,
    rewrite: no_rewrite,
};

static PPC32: Arch = Arch {
    name: "ppc32",
    machine: elf::EM_PPC.0,
    is_64: Some(false),
    supported: types![
        elf::R_PPC_NONE,
        elf::R_PPC_ADDR32,
        elf::R_PPC_ADDR24,
        elf::R_PPC_ADDR16_LO,
        elf::R_PPC_ADDR16_HI,
        elf::R_PPC_ADDR16_HA,
        elf::R_PPC_REL24,
        elf::R_PPC_REL32,
        elf::R_PPC_REL16_LO,
        elf::R_PPC_REL16_HI,
        elf::R_PPC_REL16_HA,
    ],
    check: no_check,
    rewrite: no_rewrite,
};

static S390X: Arch = Arch {
    name: "s390x",
    machine: elf::EM_S390.0,
    is_64: Some(true),
    supported: types![
        elf::R_390_NONE,
        elf::R_390_8,
        elf::R_390_12,
        elf::R_390_16,
        elf::R_390_20,
        elf::R_390_32,
        elf::R_390_64,
        elf::R_390_PC16,
        elf::R_390_PC16DBL,
        elf::R_390_PC32DBL,
        elf::R_390_PC32,
        elf::R_390_PC64,
        elf::R_390_GOT12,
        elf::R_390_GOT16,
        elf::R_390_GOT20,
        elf::R_390_GOT32,
        elf::R_390_GOT64,
        elf::R_390_GOTENT,
        elf::R_390_GOTPLT12,
        elf::R_390_GOTPLT16,
        elf::R_390_GOTPLT20,
        elf::R_390_GOTPLT32,
        elf::R_390_GOTPLT64,
        elf::R_390_GOTPLTENT,
        elf::R_390_PLT16DBL,
        elf::R_390_PLT32DBL,
        elf::R_390_PLT32,
        elf::R_390_PLT64,
        elf::R_390_PLTOFF16,
        elf::R_390_PLTOFF32,
        elf::R_390_PLTOFF64,
        elf::R_390_GOTOFF16,
        elf::R_390_GOTOFF32,
        elf::R_390_GOTOFF64,
        elf::R_390_GOTPC,
        elf::R_390_GOTPCDBL,
    ],
    check: no_check,
    rewrite: no_rewrite,
};

static AARCH64: Arch = Arch {
    name: "arm64",
    machine: elf::EM_AARCH64.0,
    is_64: Some(true),
    supported: types![
        elf::R_AARCH64_NONE,
        elf::R_AARCH64_ABS64,
        elf::R_AARCH64_ABS32,
        elf::R_AARCH64_ABS16,
        elf::R_AARCH64_PREL64,
        elf::R_AARCH64_PREL32,
        elf::R_AARCH64_PREL16,
        elf::R_AARCH64_MOVW_UABS_G0,
        elf::R_AARCH64_MOVW_UABS_G0_NC,
        elf::R_AARCH64_MOVW_UABS_G1,
        elf::R_AARCH64_MOVW_UABS_G1_NC,
        elf::R_AARCH64_MOVW_UABS_G2,
        elf::R_AARCH64_MOVW_UABS_G2_NC,
        elf::R_AARCH64_MOVW_UABS_G3,
        elf::R_AARCH64_MOVW_SABS_G0,
        elf::R_AARCH64_MOVW_SABS_G1,
        elf::R_AARCH64_MOVW_SABS_G2,
        elf::R_AARCH64_MOVW_PREL_G0,
        elf::R_AARCH64_MOVW_PREL_G0_NC,
        elf::R_AARCH64_MOVW_PREL_G1,
        elf::R_AARCH64_MOVW_PREL_G1_NC,
        elf::R_AARCH64_MOVW_PREL_G2,
        elf::R_AARCH64_MOVW_PREL_G2_NC,
        elf::R_AARCH64_MOVW_PREL_G3,
        elf::R_AARCH64_LD_PREL_LO19,
        elf::R_AARCH64_ADR_PREL_LO21,
        elf::R_AARCH64_ADR_PREL_PG_HI21,
        elf::R_AARCH64_ADR_PREL_PG_HI21_NC,
        elf::R_AARCH64_ADD_ABS_LO12_NC,
        elf::R_AARCH64_LDST8_ABS_LO12_NC,
        elf::R_AARCH64_LDST16_ABS_LO12_NC,
        elf::R_AARCH64_LDST32_ABS_LO12_NC,
        elf::R_AARCH64_LDST64_ABS_LO12_NC,
        elf::R_AARCH64_LDST128_ABS_LO12_NC,
        elf::R_AARCH64_TSTBR14,
        elf::R_AARCH64_CONDBR19,
        elf::R_AARCH64_JUMP26,
        elf::R_AARCH64_CALL26,
    ],
    check: no_check,
    rewrite: aarch64_rewrite,
};

static LOONGARCH: Arch = Arch {
    name: "loongarch",
    machine: elf::EM_LOONGARCH.0,
    is_64: None,
    supported: types![
        elf::R_LARCH_NONE,
        elf::R_LARCH_32,
        elf::R_LARCH_64,
        elf::R_LARCH_MARK_LA,
        elf::R_LARCH_MARK_PCREL,
        elf::R_LARCH_B16,
        elf::R_LARCH_B21,
        elf::R_LARCH_B26,
        elf::R_LARCH_ABS_HI20,
        elf::R_LARCH_ABS_LO12,
        elf::R_LARCH_ABS64_LO20,
        elf::R_LARCH_ABS64_HI12,
        elf::R_LARCH_PCALA_HI20,
        elf::R_LARCH_PCALA_LO12,
        elf::R_LARCH_PCALA64_LO20,
        elf::R_LARCH_PCALA64_HI12,
        elf::R_LARCH_GOT_PC_HI20,
        elf::R_LARCH_GOT_PC_LO12,
        elf::R_LARCH_GOT64_PC_LO20,
        elf::R_LARCH_GOT64_PC_HI12,
        elf::R_LARCH_GOT_HI20,
        elf::R_LARCH_GOT_LO12,
        elf::R_LARCH_GOT64_LO20,
        elf::R_LARCH_GOT64_HI12,
        elf::R_LARCH_32_PCREL,
        elf::R_LARCH_64_PCREL,
        elf::R_LARCH_CALL36,
    ],
    check: no_check,
    rewrite: no_rewrite,
};

static RISCV: Arch = Arch {
    name: "riscv",
    machine: elf::EM_RISCV.0,
    is_64: None,
    supported: types![
        elf::R_RISCV_32,
        elf::R_RISCV_64,
        elf::R_RISCV_BRANCH,
        elf::R_RISCV_JAL,
        elf::R_RISCV_RVC_BRANCH,
        elf::R_RISCV_RVC_JUMP,
        elf::R_RISCV_HI20,
        elf::R_RISCV_LO12_I,
        elf::R_RISCV_LO12_S,
        elf::R_RISCV_CALL,
        elf::R_RISCV_CALL_PLT,
        elf::R_RISCV_32_PCREL,
        elf::R_RISCV_PLT32,
    ],
    check: no_check,
    rewrite: no_rewrite,
};

static ARCHES: [&Arch; 7] = [
    &X86_64, &PPC64, &PPC32, &S390X, &AARCH64, &LOONGARCH, &RISCV,
];

/// The rules for `machine`, or None if the kernel has no livepatch
/// support (or klp-convert does not know it) there.
pub fn for_machine(machine: u16, is_64: bool) -> Option<&'static Arch> {
    ARCHES
        .iter()
        .copied()
        .find(|a| a.machine == machine && a.is_64.is_none_or(|b| b == is_64))
}

/// A name for a relocation type, for messages and listings.
pub fn type_name(machine: u16, r_type: u32) -> String {
    if let Some(arch) = ARCHES.iter().find(|a| a.machine == machine) {
        if let Some((_, name)) = arch.supported.iter().find(|(t, _)| *t == r_type) {
            return strip_path(name).to_string();
        }
    }
    match elf::machine_names(elf::Machine(machine))
        .r
        .name(elf::RelocationType(r_type))
    {
        Some(name) => name.to_string(),
        None => format!("R_{machine}_{r_type}"),
    }
}

/// Explain why a relocation that needs a partner cannot be moved.
fn pair_hint(machine: u16, r_type: u32) -> &'static str {
    let t = elf::RelocationType(r_type);
    match elf::Machine(machine) {
        elf::EM_RISCV => match t {
            elf::R_RISCV_PCREL_HI20 | elf::R_RISCV_GOT_HI20 => {
                " (its PCREL_LO12 partner refers to this instruction, not to the symbol, and \
                 would be left behind in the ordinary relocation section; build the patch \
                 with -mcmodel=medany -mno-relax or take the address through a pointer)"
            }
            elf::R_RISCV_PCREL_LO12_I | elf::R_RISCV_PCREL_LO12_S => {
                " (PCREL_LO12 must stay with its PCREL_HI20 partner)"
            }
            _ if (elf::R_RISCV_ADD8.0..=elf::R_RISCV_SUB64.0).contains(&r_type)
                || (elf::R_RISCV_SUB6.0..=elf::R_RISCV_SET32.0).contains(&r_type) =>
            {
                " (ADD/SUB/SET relocations come in pairs that must stay together)"
            }
            _ => "",
        },
        elf::EM_LOONGARCH => {
            if (elf::R_LARCH_SOP_PUSH_PCREL.0..=elf::R_LARCH_SOP_POP_32_U.0).contains(&r_type) {
                " (stack-based R_LARCH_SOP_* sequences must stay together and in order in \
                 one section; build with a toolchain that emits PCALA/B26 relocations)"
            } else if (elf::R_LARCH_ADD8.0..=elf::R_LARCH_SUB64.0).contains(&r_type) {
                " (ADD/SUB relocations come in pairs that must stay together)"
            } else {
                ""
            }
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(r_type: u32, offset: u64, data: &[u8], big_endian: bool) -> RelocSite<'_> {
        RelocSite {
            r_type,
            offset,
            data: Some(data),
            big_endian,
        }
    }

    #[test]
    fn lookup() {
        assert_eq!(for_machine(elf::EM_X86_64.0, true).unwrap().name, "x86_64");
        assert!(for_machine(elf::EM_X86_64.0, false).is_none());
        assert!(for_machine(elf::EM_386.0, false).is_none());
        assert_eq!(for_machine(elf::EM_RISCV.0, false).unwrap().name, "riscv");
        assert_eq!(for_machine(elf::EM_PPC.0, false).unwrap().name, "ppc32");
    }

    #[test]
    fn names() {
        assert_eq!(type_name(elf::EM_X86_64.0, 2), "R_X86_64_PC32");
        assert_eq!(type_name(elf::EM_X86_64.0, 9), "R_X86_64_GOTPCREL");
        assert_eq!(type_name(elf::EM_PPC64.0, 116), "R_PPC64_REL24_NOTOC");
        assert_eq!(type_name(elf::EM_PPC64.0, 10), "R_PPC64_REL24");
        assert_eq!(type_name(0x9999, 7), "R_39321_7");
    }

    #[test]
    fn x86_64_types_and_zero_bytes() {
        let a = for_machine(elf::EM_X86_64.0, true).unwrap();
        let zero = [0u8; 16];
        assert!(a
            .check(&site(elf::R_X86_64_PC32.0, 4, &zero, false))
            .is_ok());
        assert!(a.check(&site(elf::R_X86_64_64.0, 8, &zero, false)).is_ok());
        let e = a
            .check(&site(elf::R_X86_64_GOTPCREL.0, 4, &zero, false))
            .unwrap_err();
        assert!(e.contains("R_X86_64_GOTPCREL is not supported"), "{e}");
        let mut dirty = zero;
        dirty[6] = 1;
        let e = a
            .check(&site(elf::R_X86_64_PC32.0, 4, &dirty, false))
            .unwrap_err();
        assert!(e.contains("not zero"), "{e}");
        let e = a
            .check(&site(elf::R_X86_64_64.0, 12, &zero, false))
            .unwrap_err();
        assert!(e.contains("beyond the end"), "{e}");
        let e = a
            .check(&site(elf::R_X86_64_64.0, u64::MAX, &zero, false))
            .unwrap_err();
        assert!(!e.is_empty());
    }

    #[test]
    fn ppc64_nop_after_call() {
        let a = for_machine(elf::EM_PPC64.0, true).unwrap();
        let mut code = [0u8; 8];
        code[4..].copy_from_slice(&PPC_NOP.to_le_bytes());
        assert!(a
            .check(&site(elf::R_PPC64_REL24.0, 0, &code, false))
            .is_ok());
        assert!(a
            .check(&site(elf::R_PPC64_REL24.0, 0, &code, true))
            .is_err());
        code[4..].copy_from_slice(&PPC_NOP.to_be_bytes());
        assert!(a.check(&site(elf::R_PPC64_REL24.0, 0, &code, true)).is_ok());
        code[4..].copy_from_slice(&0x4800_0000u32.to_be_bytes());
        let e = a
            .check(&site(elf::R_PPC64_REL24.0, 0, &code, true))
            .unwrap_err();
        assert!(e.contains("not a nop"), "{e}");
        let e = a
            .check(&site(elf::R_PPC64_REL24.0, 4, &code, true))
            .unwrap_err();
        assert!(e.contains("last instruction"), "{e}");
        // Data relocations need no nop.
        assert!(a
            .check(&site(elf::R_PPC64_ADDR64.0, 0, &code, true))
            .is_ok());
    }

    #[test]
    fn pairs_are_rejected() {
        let rv = for_machine(elf::EM_RISCV.0, true).unwrap();
        let e = rv
            .check(&site(elf::R_RISCV_PCREL_HI20.0, 0, &[0; 8], false))
            .unwrap_err();
        assert!(e.contains("PCREL_LO12 partner"), "{e}");
        assert!(rv
            .check(&site(elf::R_RISCV_HI20.0, 0, &[0; 8], false))
            .is_ok());
        let e = rv
            .check(&site(elf::R_RISCV_ADD32.0, 0, &[0; 8], false))
            .unwrap_err();
        assert!(e.contains("pairs"), "{e}");
        let la = for_machine(elf::EM_LOONGARCH.0, true).unwrap();
        let e = la
            .check(&site(elf::R_LARCH_SOP_PUSH_PCREL.0, 0, &[0; 8], false))
            .unwrap_err();
        assert!(e.contains("R_LARCH_SOP_"), "{e}");
        assert!(la
            .check(&site(elf::R_LARCH_PCALA_HI20.0, 0, &[0; 8], false))
            .is_ok());
    }

    #[test]
    fn aarch64_got_pair_becomes_adrp_add() {
        let a = for_machine(elf::EM_AARCH64.0, true).unwrap();
        let got_page = elf::R_AARCH64_ADR_GOT_PAGE.0;
        let got_lo12 = elf::R_AARCH64_LD64_GOT_LO12_NC.0;
        // adrp x2, 0; ldr x3, [x2]; ldr w3, [x2]; ldr xzr, [x2]
        let mut code = Vec::new();
        for w in [0x9000_0002u32, 0xf940_0043, 0xb940_0043, 0xf940_005f] {
            code.extend_from_slice(&w.to_le_bytes());
        }
        let r = a.livepatch_form(&site(got_page, 0, &code, false)).unwrap();
        assert_eq!(
            r,
            Some(Rewrite {
                r_type: elf::R_AARCH64_ADR_PREL_PG_HI21.0,
                insn: None
            })
        );
        // add x3, x2, #0: the same registers, the address instead of the load.
        let r = a.livepatch_form(&site(got_lo12, 4, &code, false)).unwrap();
        assert_eq!(
            r,
            Some(Rewrite {
                r_type: elf::R_AARCH64_ADD_ABS_LO12_NC.0,
                insn: Some(0x9100_0043u32.to_le_bytes())
            })
        );
        // Instructions are little-endian in big-endian files too.
        let r = a.livepatch_form(&site(got_lo12, 4, &code, true)).unwrap();
        assert_eq!(r.and_then(|r| r.insn), Some(0x9100_0043u32.to_le_bytes()));
        for (t, at) in [(got_page, 4), (got_lo12, 0), (got_lo12, 8), (got_lo12, 12)] {
            let e = a.livepatch_form(&site(t, at, &code, false)).unwrap_err();
            assert!(e.contains("cannot turn"), "{e}");
        }
        let e = a
            .livepatch_form(&site(got_lo12, 16, &code, false))
            .unwrap_err();
        assert!(e.contains("beyond the end"), "{e}");
        let nobits = RelocSite {
            r_type: got_lo12,
            offset: 0,
            data: None,
            big_endian: false,
        };
        assert!(a.livepatch_form(&nobits).is_err());
        // Supported types are left alone; other GOT forms are refused.
        let call = elf::R_AARCH64_CALL26.0;
        assert_eq!(a.livepatch_form(&site(call, 0, &code, false)), Ok(None));
        let e = a
            .livepatch_form(&site(elf::R_AARCH64_GOT_LD_PREL19.0, 0, &code, false))
            .unwrap_err();
        assert!(e.contains("is not supported"), "{e}");
        // Other architectures rewrite nothing.
        let x86 = for_machine(elf::EM_X86_64.0, true).unwrap();
        assert!(x86
            .livepatch_form(&site(elf::R_X86_64_GOTPCREL.0, 0, &[0; 8], false))
            .is_err());
    }
}
