# SPDX-License-Identifier: GPL-2.0
subject='selftests/livepatch: test references converted by klp-convert'
read -r -d '' body <<'MSG' || true
test-klp-convert.sh loads a livepatch, test_klp_convert1, whose
references to symbols that neither vmlinux nor its target module
exports were converted by klp-convert at build time: data and a static
function of vmlinux, and static functions and variables that the target
module, test_klp_convert_mod, defines twice (one of each name in each of
its two objects), named by position.  The livepatch prints where each
reference landed and what it reads; the test compares that with
/proc/kallsyms and /proc/cmdline, with the target module loaded before
the livepatch and after it.

The modules are built only when the kernel has CONFIG_KLP_CONVERT;
otherwise the test is skipped.
MSG

selftests_makefile() {
	sed -i 's/^\ttest-kprobe\.sh$/& \\\n\ttest-klp-convert.sh/' -- "$1"
	grep -q '^	test-klp-convert\.sh$' "$1"
}

test_modules_makefile() {
	after "$1" '^	test_klp_syscall\.o$' '' \
		'ifdef CONFIG_KLP_CONVERT' \
		'obj-m += test_klp_convert_mod.o test_klp_convert1.o' \
		'test_klp_convert_mod-y := test_klp_convert_mod_a.o test_klp_convert_mod_b.o' \
		'endif'
}

changes() {
	local d=tools/testing/selftests/livepatch

	add $d/test-klp-convert.sh \
		$d/test_modules/test_klp_convert.h \
		$d/test_modules/test_klp_convert1.h \
		$d/test_modules/test_klp_convert1.c \
		$d/test_modules/test_klp_convert_mod_a.c \
		$d/test_modules/test_klp_convert_mod_b.c
	edit $d/Makefile selftests_makefile
	edit $d/test_modules/Makefile test_modules_makefile
	edit $d/config append 'CONFIG_KLP_CONVERT=y'
	edit MAINTAINERS maintainers_file "$d/test-klp-convert.sh"
	edit MAINTAINERS maintainers_file "$d/test_modules/test_klp_convert*"
}
