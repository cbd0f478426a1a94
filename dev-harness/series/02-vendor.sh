# SPDX-License-Identifier: GPL-2.0
subject='scripts/livepatch/klp-convert: vendor the object, memchr and getopts crates'
read -r -d '' body <<'MSG' || true
klp-convert, added next, is a Rust host program.  Kbuild compiles host
Rust with plain rustc and never runs cargo, and distribution builds have
no network, so the crates it uses must be in the tree, as rust/ carries
syn, quote and proc-macro2.

- object: reads ELF files (the module, vmlinux, module trees), with only
  its "read_core", "elf" and "std" features: no writer, no compression,
  no other formats, so that nothing else is pulled in.
- memchr: a dependency of object (string table searches).
- getopts: command line parsing, without its default "unicode" feature,
  which would pull in unicode-width's tables for help text alignment.

Each crate's src/ directory is taken as published on crates.io, at the
version and checksum klp-convert's Cargo.lock records, with an SPDX line
added to every file and a README.md saying where it comes from.  memchr
is offered under "Unlicense OR MIT"; it is used here under MIT, which
LICENSES/ has.
MSG

changes() {
	add_dir scripts/livepatch/klp-convert/vendor
	edit MAINTAINERS maintainers_file scripts/livepatch/klp-convert/vendor/
}
