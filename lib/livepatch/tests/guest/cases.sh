# SPDX-License-Identifier: GPL-2.0
#
# Livepatch selftest cases, run in the guest by /init (busybox sh).
#
# Each case_<name> function loads modules from /klpt/mod and checks what
# it can see from inside; it calls fail() for every broken expectation and
# fact() for values that klp_selftest.py checks on the host (resolved
# addresses against /proc/kallsyms).  Cases run in the order the runner
# lists them and leave no livepatch enabled behind them.

MOD=/klpt/mod
LP=/sys/kernel/livepatch
REPORT=/sys/module/klpt_target/parameters/report

fail()
{
	echo "FAIL: $*"
	[ -n "$CASE_FAIL" ] || CASE_FAIL="$*"
}

fact()
{
	key=$1
	shift
	echo "@@KLPT-FACT $CASE $key $*"
}

note()
{
	echo "@@KLPT-NOTE $CASE $*"
}

# Wait until $1 is true, for at most 30 s.
wait_for()
{
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -lt 300 ] || return 1
		sleep 0.1
	done
}

load()
{
	echo "# insmod $1"
	insmod "$MOD/$1.ko"
}

# Load livepatch module $1 and wait for its transition to finish.
klp_load()
{
	load "$1" || { fail "insmod $1 failed"; return 1; }
	[ -d "$LP/$1" ] || { fail "$LP/$1 missing"; return 1; }
	wait_for "[ \"\$(cat $LP/$1/transition)\" = 0 ]" ||
		{ fail "$1: transition did not finish"; return 1; }
	[ "$(cat "$LP/$1/enabled")" = 1 ] || fail "$1: not enabled"
}

# Unload module $1 once its last reference is gone: the livepatch core
# drops its reference from a work item after the patch has left
# /sys/kernel/livepatch, so rmmod right then can still see it in use.
unload()
{
	wait_for "[ \"\$(cat /sys/module/$1/refcnt)\" = 0 ]" ||
		{ fail "$1: still in use"; return 1; }
	rmmod "$1" || { fail "rmmod $1 failed"; return 1; }
}

# Disable livepatch $1, wait until the kernel has dropped it, unload it.
klp_unload()
{
	echo "# disable and rmmod $1"
	echo 0 > "$LP/$1/enabled" || { fail "cannot disable $1"; return 1; }
	wait_for "[ ! -d $LP/$1 ]" || { fail "$1: still in $LP"; return 1; }
	unload "$1"
}

expect_eq()
{
	echo "# $1: got '$2'"
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# The whole dmesg of the case must contain $1 (a fixed string).
expect_dmesg()
{
	dmesg | grep -qF -- "$1" || fail "dmesg lacks '$1'"
}

# Report every /proc/kallsyms line of symbol $1, in /proc/kallsyms order;
# $2 selects a module's entries, vmlinux's otherwise.
kallsyms_fact()
{
	if [ -n "$2" ]; then
		grep -E " $1	\\[$2\\]\$" /proc/kallsyms
	else
		grep -E " $1\$" /proc/kallsyms
	fi | while read -r addr type name mod; do
		fact "kallsyms:$1" "$addr $type"
	done
}

# Report the "resolved <name>,<pos> <address>" lines found in $1.
resolved_facts()
{
	echo "$1" |
	sed -n 's/.*resolved \([^ ,]*\),\([0-9]*\) \([0-9a-f]*\).*/\1 \2 \3/p' |
	while read -r name pos addr; do
		fact "resolved:$name" "$pos $addr"
	done
}

CMDLINE_ORIG=$(cat /proc/cmdline)

# samples/livepatch: each sample replaces cmdline_proc_show() and prints
# saved_command_line through the annotation macro.
case_sample()
{
	set -- /klpt/sample/*.ko
	[ -f "$1" ] || { fail "no sample module built"; return; }
	for ko; do
		name=$(basename "$ko" .ko | tr - _)
		echo "# insmod $ko"
		insmod "$ko" || { fail "insmod $ko failed"; continue; }
		[ -d "$LP/$name" ] || { fail "$LP/$name missing"; continue; }
		wait_for "[ \"\$(cat $LP/$name/transition)\" = 0 ]" ||
			fail "$name: transition did not finish"
		got=$(cat /proc/cmdline)
		fact "patched:$name" "$got"
		case "$got" in
		"$CMDLINE_ORIG")
			fail "$name: /proc/cmdline unchanged" ;;
		*"$CMDLINE_ORIG"*)
			;;
		*)
			fail "$name: /proc/cmdline '$got' lacks the command line" ;;
		esac
	done
}

case_unload_sample()
{
	for ko in /klpt/sample/*.ko; do
		name=$(basename "$ko" .ko | tr - _)
		[ -d "/sys/module/$name" ] || continue
		klp_unload "$name"
		expect_eq /proc/cmdline "$(cat /proc/cmdline)" "$CMDLINE_ORIG"
	done
}

# 1. vmlinux data and function references at position 0.
case_vmlinux_refs()
{
	fact cmdline "$CMDLINE_ORIG"
	klp_load klpt_vmlinux || return
	got=$(cat /proc/cmdline)
	fact patched "$got"
	n=${got#"$CMDLINE_ORIG klpt_vmlinux nr_processes="}
	n=${n%" data64=ok rodata64=ok"}
	case "$n" in
	"$got" | "" | *[!0-9]*)
		fail "/proc/cmdline: '$got'" ;;
	0)
		fail "nr_processes() returned 0" ;;
	esac
}

case_unload_vmlinux()
{
	klp_unload klpt_vmlinux
	expect_eq /proc/cmdline "$(cat /proc/cmdline)" "$CMDLINE_ORIG"
}

# 2. A vmlinux name defined several times, every position referenced.
case_vmlinux_sympos()
{
	klp_load klpt_sympos || return
	expect_eq /proc/cmdline "$(cat /proc/cmdline)" klpt_sympos
	resolved_facts "$(dmesg | grep 'klpt_sympos: resolved')"
	kallsyms_fact c_start
}

case_unload_sympos()
{
	klp_unload klpt_sympos
	expect_eq /proc/cmdline "$(cat /proc/cmdline)" "$CMDLINE_ORIG"
}

KLPT_ORIG_REPORT="original sum=0x72"
KLPT_PATCHED="patched calls=a,b,c vals=1a,1b,1c cmdline=ok"
KLPT_TABLES="table=a,b,c, rotable=a,b,c,"

check_patched_report()
{
	report=$(cat $REPORT)
	echo "$report"
	expect_eq "report line 1" "$(echo "$report" | sed -n 1p)" "$KLPT_PATCHED"
	expect_eq "report line 2" "$(echo "$report" | sed -n 2p)" "$KLPT_TABLES"
	resolved_facts "$report"
}

# 3. Static names defined in several objects of a module, by position;
#    the target is loaded before the patch.
case_module_sympos()
{
	load klpt_target || { fail "insmod klpt_target failed"; return; }
	expect_eq report "$(cat $REPORT)" "$KLPT_ORIG_REPORT"
	klp_load klpt_lp_target || return
	check_patched_report
	kallsyms_fact klpt_dup klpt_target
	kallsyms_fact klpt_dup_val klpt_target
}

case_unload_lp_target()
{
	klp_unload klpt_lp_target
	expect_eq report "$(cat $REPORT)" "$KLPT_ORIG_REPORT"
	unload klpt_target
}

# 4. Late patching: the patch first, the target afterwards.
case_late_patching()
{
	[ ! -d /sys/module/klpt_target ] || fail "klpt_target already loaded"
	klp_load klpt_lp_target || return
	load klpt_target || { fail "insmod klpt_target failed"; return; }
	check_patched_report
	kallsyms_fact klpt_dup klpt_target
	kallsyms_fact klpt_dup_val klpt_target
}

# 5. Unload and reload the target while the patch stays enabled.
#    x86 clears module-specific livepatch relocations when the target goes
#    away only since v6.3 ("x86/module: clear relocations on module
#    unload" family); before that, the reloaded target meets relocation
#    targets that are still written, apply_relocate_add() refuses them and
#    the livepatch core refuses to load the target.  Both outcomes are
#    asserted exactly; KLPT_RELOAD_CLEARS says which one this kernel has.
case_target_reload()
{
	unload klpt_target || return
	if [ "$KLPT_RELOAD_CLEARS" = 1 ]; then
		note "reload works: relocations are cleared on unload since v6.3"
		load klpt_target || { fail "reload of klpt_target failed"; return; }
		check_patched_report
	else
		if load klpt_target; then
			fail "reload succeeded, relocations were not cleared"
			return
		fi
		note "reload refused: before v6.3 relocations are not cleared"
		expect_dmesg "existing value is nonzero"
		expect_dmesg "failed to initialize patch 'klpt_lp_target' for module 'klpt_target' (-8)"
		expect_dmesg "refusing to load module 'klpt_target'"
		[ ! -d /sys/module/klpt_target ] || fail "klpt_target loaded anyway"
	fi
}

case_unload_lp_target_late()
{
	klp_unload klpt_lp_target
	if [ ! -d /sys/module/klpt_target ]; then
		load klpt_target || { fail "insmod klpt_target failed"; return; }
	fi
	expect_eq report "$(cat $REPORT)" "$KLPT_ORIG_REPORT"
	unload klpt_target
}

# The distribution's own dummy.ko (from MODULES), patched by klpt_lp_distro,
# which reports through dummy0's counters.
STATS=/sys/class/net/dummy0/statistics

stat_hex()
{
	printf '%x' "$(cat $STATS/$1)"
}

case_distro_module()
{
	[ -f /klpt/distro/dummy.ko ] || { fail "dummy.ko missing"; return; }
	echo "# insmod /klpt/distro/dummy.ko"
	insmod /klpt/distro/dummy.ko || { fail "insmod dummy failed"; return; }
	[ -d $STATS ] || { fail "no dummy0"; return; }
	expect_eq rx_packets "$(cat $STATS/rx_packets)" 0
	klp_load klpt_lp_distro || return
	expect_eq "rx_packets (marker)" "$(cat $STATS/rx_packets)" 4242
	expect_eq "rx_errors (numdummies)" "$(cat $STATS/rx_errors)" 1
	fact resolved:numdummies "0 $(stat_hex rx_bytes)"
	fact resolved:dummy_link_ops "0 $(stat_hex tx_bytes)"
	fact resolved:dummy_netdev_ops "0 $(stat_hex tx_packets)"
	kallsyms_fact numdummies dummy
	kallsyms_fact dummy_link_ops dummy
	kallsyms_fact dummy_netdev_ops dummy
}

case_unload_lp_distro()
{
	klp_unload klpt_lp_distro
	expect_eq rx_packets "$(cat $STATS/rx_packets)" 0
	unload dummy
}

# Annotations completed by klp-convert from the kernel's symbols.
case_infer_symbols()
{
	load klpt_target || { fail "insmod klpt_target failed"; return; }
	klp_load klpt_infer || return
	report=$(cat $REPORT)
	echo "$report"
	expect_eq "report line 1" "$(echo "$report" | sed -n 1p)" \
		"klpt_infer dup=b val=1c nr_processes=ok"
	resolved_facts "$report"
	kallsyms_fact klpt_dup klpt_target
	kallsyms_fact klpt_dup_val klpt_target
}

case_unload_infer()
{
	klp_unload klpt_infer
	expect_eq report "$(cat $REPORT)" "$KLPT_ORIG_REPORT"
	unload klpt_target
}

# Plain extern references: the patch is loaded first, klpt_target after
# it, and the references to klpt_target resolve when it loads.
case_plain_refs()
{
	klp_load klpt_plain || return
	load klpt_target || { fail "insmod klpt_target failed"; return; }
	report=$(cat $REPORT)
	echo "$report"
	expect_eq "report line 1" "$(echo "$report" | sed -n 1p)" \
		"klpt_plain dup=b val=1c a=24 nr_processes=ok"
	expect_eq "report line 2" "$(echo "$report" | sed -n 2p)" \
		"cmdline=$CMDLINE_ORIG"
	resolved_facts "$report"
	kallsyms_fact klpt_dup klpt_target
	kallsyms_fact klpt_dup_val klpt_target
	kallsyms_fact klpt_target_a klpt_target
}

case_unload_plain()
{
	klp_unload klpt_plain
	expect_eq report "$(cat $REPORT)" "$KLPT_ORIG_REPORT"
	unload klpt_target
}

# 7. A wrong position, a missing symbol, an ambiguous position 0: the
#    module must not load, with the kernel's message.
neg_load()
{
	if [ ! -f "$MOD/$1.ko" ]; then
		note "$1.ko not built: refused at build time"
		return
	fi
	if load "$1"; then
		fail "$1 loaded"
		klp_unload "$1"
		return
	fi
	expect_dmesg "$2"
	note "refused by the kernel: $2"
	[ ! -d "$LP/$1" ] || fail "$LP/$1 exists"
	expect_eq /proc/cmdline "$(cat /proc/cmdline)" "$CMDLINE_ORIG"
}

case_neg_sympos()
{
	neg_load klpt_neg_sympos \
		"symbol position 2 for symbol 'saved_command_line' in object 'vmlinux' not found"
}

case_neg_missing()
{
	neg_load klpt_neg_missing \
		"symbol 'klpt_no_such_symbol' not found in symbol table"
}

# Both Debian 6.1 and 6.12 print the object of this message from a NULL
# pointer for vmlinux: "in object '(null)'" is what they say.
case_neg_ambiguous()
{
	neg_load klpt_neg_ambiguous \
		"unresolvable ambiguity for symbol 'c_start' in object '(null)'"
}

klpt_run_case()
{
	CASE=$1
	CASE_FAIL=
	echo "@@KLPT-BEGIN $CASE"
	dmesg -c > /dev/null
	"case_$CASE"
	# A warning or a BUG during the case fails it even if all else held.
	if dmesg | grep -qE '(WARNING|BUG):|Call Trace:'; then
		fail "kernel warning or BUG in dmesg"
	fi
	dmesg -c | sed 's/^/dmesg: /'
	if [ -n "$CASE_FAIL" ]; then
		echo "@@KLPT-RESULT $CASE not ok $CASE_FAIL"
	else
		echo "@@KLPT-RESULT $CASE ok"
	fi
}
