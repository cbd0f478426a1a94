# SPDX-License-Identifier: GPL-2.0
subject='samples/livepatch: add a sample that uses non-exported symbols'
read -r -d '' body <<'MSG' || true
Add a livepatch sample whose replacement of cmdline_proc_show() reads
saved_command_line, which vmlinux does not export, through a
KLP_RELOC_SYMBOL() annotation that klp-convert turns into a livepatch
relocation.  It is built with the other samples when CONFIG_KLP_CONVERT
is set: without the conversion its reference would stay unresolved.
MSG

changes() {
	add samples/livepatch/livepatch-annotated-sample.c \
		samples/livepatch/livepatch-annotated-sample.h
	edit samples/livepatch/Makefile append '' \
		'ifdef CONFIG_KLP_CONVERT' \
		'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-annotated-sample.o' \
		'endif'
	edit MAINTAINERS maintainers_file 'samples/livepatch/livepatch-annotated-sample.*'
}
