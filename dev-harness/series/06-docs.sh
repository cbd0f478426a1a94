# SPDX-License-Identifier: GPL-2.0
subject='Documentation/livepatch: document klp-convert'
read -r -d '' body <<'MSG' || true
Describe how a livepatch module refers to symbols that are not exported:
the annotations, symbol positions, what the conversion does, how Kbuild
runs it, how to check the annotations against the target kernel's
symbols, the errors and what to do about each, what klp-convert gives
beside klp-build, and a safe workflow.  module-elf-format.rst gets a
section on how such modules are generated, with the module's relocations
before and after the conversion.
MSG

# The section of module-elf-format.rst, numbered like the others.
elf_format_section() {
	printf '\n' >>"$1"
	sed -e '1{/SPDX-License-Identifier/d}' -e '2{/^$/d}' \
		-e 's/^Generating livepatch relocations with klp-convert$/6. &/' \
		-e 's/^=================================================$/&===/' \
		-- "$repo/Documentation/livepatch/module-elf-format-klp-convert.rst" >>"$1"
}

changes() {
	add Documentation/livepatch/klp-convert.rst
	edit Documentation/livepatch/index.rst after '^    module-elf-format$' \
		'    klp-convert'
	edit Documentation/livepatch/module-elf-format.rst elf_format_section
	edit MAINTAINERS maintainers_file Documentation/livepatch/klp-convert.rst
}
