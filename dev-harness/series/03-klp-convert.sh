# SPDX-License-Identifier: GPL-2.0
subject='scripts/livepatch/klp-convert: add klp-convert'
read -r -d '' body <<'MSG' || true
Add klp-convert, a host program that rewrites a linked livepatch module
into the form of Documentation/livepatch/module-elf-format.rst: every
relocation against a symbol annotated with the macros of
include/linux/livepatch_reloc.h moves into a .klp.rela.<obj>.<section>
section, and the symbol becomes .klp.sym.<obj>.<symbol>,<pos> in
SHN_LIVEPATCH.  Everything else in the module is kept as it is.

It is written in Rust and built by Kbuild's host-program rules: rustc
compiles klp-convert.rs against the tool's library (src/) and the
vendored crates, each a host rlib built with plain rustc as rust/Makefile
builds syn.  cargo never runs in a kernel build; Cargo.toml and Cargo.lock
serve developers, who test and lint the same sources with it, and record
the crates' checksums.

Given the target kernel's symbols (a /proc/kallsyms dump, System.map,
vmlinux, modules or a module tree), it checks every annotation the way
klp_find_object_symbol() will resolve it when the patch loads: a missing
symbol, a position out of range or an ambiguous name is a build error
that lists the valid annotations instead of a patch the kernel refuses.
It also refuses what the kernel cannot apply: livepatch relocations in
sections the kernel processes at load time (__jump_table, .altinstructions
and others), relocation types the architecture's module loader does not
handle, and module-specific relocations from vmlinux code.

On bad input it names the file, section, symbol and offset, exits
non-zero and leaves the input unchanged: the result is written to a
temporary file and renamed over the module.

CONFIG_KLP_CONVERT builds it with the other host programs in scripts/;
it needs rustc 1.85 or later.
MSG

kconfig_klp_convert() {
	append "$1" '' \
		'config KLP_CONVERT' \
		'	bool "Build klp-convert, for livepatch modules that use non-exported symbols"' \
		'	depends on LIVEPATCH' \
		'	depends on RUSTC_VERSION >= 108500' \
		'	help' \
		'	  klp-convert (scripts/livepatch/klp-convert) is a host program,' \
		'	  written in Rust, that Kbuild runs on every module with' \
		'	  MODULE_INFO(livepatch, "Y") after its final link.  It turns the' \
		'	  references the module annotates with KLP_RELOC_SYMBOL() into' \
		'	  livepatch relocations, which the kernel resolves when the patch' \
		'	  or the module it patches is loaded.  Building it needs rustc' \
		'	  1.85 or later.' \
		'' \
		'	  See Documentation/livepatch/klp-convert.rst.  If unsure, say N.'
}

changes() {
	local f

	add scripts/livepatch/klp-convert/Makefile \
		scripts/livepatch/klp-convert/.gitignore \
		scripts/livepatch/klp-convert/Cargo.toml \
		scripts/livepatch/klp-convert/Cargo.lock \
		scripts/livepatch/klp-convert/klp-convert.rs
	add_dir scripts/livepatch/klp-convert/src
	edit kernel/livepatch/Kconfig kconfig_klp_convert
	edit scripts/Makefile after '^subdir-\$\(CONFIG_SECURITY_IPE\)' \
		'subdir-$(CONFIG_KLP_CONVERT) += livepatch/klp-convert'
	edit MAINTAINERS maintainers_drop scripts/livepatch/klp-convert/vendor/
	edit MAINTAINERS maintainers_file scripts/livepatch/klp-convert/
}
