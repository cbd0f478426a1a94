# SPDX-License-Identifier: GPL-2.0
subject='kbuild: livepatch: run klp-convert after the final link of modules'
read -r -d '' body <<'MSG' || true
With CONFIG_KLP_CONVERT, convert every livepatch module as the last step
of modfinal.  scripts/livepatch/Makefile.klp, included at the end of
Makefile.modfinal, adds one prerequisite to __modfinal: a stamp beside
modules.order that depends on every module's .ko.  Its recipe runs after
the whole recipe of each module (link, BTF, the tracepoint check), so the
conversion is the last write of a module and nothing rewrites it
afterwards, and it hands the modules linked since the last run to a single
klp-convert process.  That process converts those with
MODULE_INFO(livepatch, "Y") or an annotated symbol and leaves the others
untouched, so the cost for other modules is one process per build.

A livepatch module that fails to convert is deleted and make stops, so
that no unconverted module is left behind; the next make links it again.
When vmlinux is relinked, its modules are relinked and converted again.

The tree's System.map, when there is one, checks the annotations of
vmlinux symbols; KLP_SYMBOLS adds the target kernel's symbols when
building against another tree, such as a distribution's headers (a
/proc/kallsyms dump, vmlinux, modules or /lib/modules/<release>).
MSG

changes() {
	add scripts/livepatch/Makefile.klp
	edit scripts/Makefile.modfinal append '' \
		'ifdef CONFIG_KLP_CONVERT' \
		'include $(srctree)/scripts/livepatch/Makefile.klp' \
		'endif'
	edit MAINTAINERS maintainers_file scripts/livepatch/Makefile.klp
}
