#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# References of a livepatch module to symbols that vmlinux and a module
# do not export, converted by klp-convert at build time: each must land
# on the symbol at its position in /proc/kallsyms, whether the target
# module is loaded before or after the livepatch.

. $(dirname $0)/functions.sh

MOD_LIVEPATCH=test_klp_convert1
MOD_TARGET=test_klp_convert_mod

if [[ ! -f "$(dirname $0)/test_modules/$MOD_LIVEPATCH.ko" ]]; then
	skip "$MOD_LIVEPATCH.ko not built: the kernel has no CONFIG_KLP_CONVERT"
fi

setup_config

# kallsyms_addr(name, obj, pos) - address of a symbol as %lx prints it
#	name - symbol name
#	obj - vmlinux or a module name
#	pos - the symbol's position among those of its name in obj, 0 or 1
#	      for the first
function kallsyms_addr() {
	awk -v name="$1" -v obj="$2" -v pos="$3" '
		$3 == name && ((obj == "vmlinux" && NF == 3) || $4 == "[" obj "]") {
			if (++n >= pos) {
				sub(/^0+/, "", $1)
				print $1
				exit
			}
		}' /proc/kallsyms
}

# report() - have the livepatch print its references, and echo what it
#	     must print, from /proc/kallsyms and /proc/cmdline
function report() {
	log "% echo 1 > /sys/module/$MOD_LIVEPATCH/parameters/report"
	echo 1 > /sys/module/$MOD_LIVEPATCH/parameters/report

	local pos addr

	addr=$(kallsyms_addr saved_command_line vmlinux 0)
	echo "$MOD_LIVEPATCH: saved_command_line $addr: $(cat /proc/cmdline)"
	addr=$(kallsyms_addr cmdline_proc_show vmlinux 0)
	echo "$MOD_LIVEPATCH: cmdline_proc_show $addr"
	for pos in 1 2; do
		addr=$(kallsyms_addr test_klp_convert_get $MOD_TARGET $pos)
		echo "$MOD_LIVEPATCH: test_klp_convert_get,$pos $addr returns $pos"
	done
	for pos in 1 2; do
		addr=$(kallsyms_addr test_klp_convert_val $MOD_TARGET $pos)
		echo "$MOD_LIVEPATCH: test_klp_convert_val,$pos $addr holds $pos"
	done
}

if [[ -z "$(kallsyms_addr saved_command_line vmlinux 0)" ]]; then
	skip "no address in /proc/kallsyms"
fi


# The target module is loaded first: the livepatch core resolves the
# module references when it enables the patch.

start_test "references resolved, target module before livepatch"

load_mod $MOD_TARGET
load_lp $MOD_LIVEPATCH
REPORT=$(report)
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH
unload_mod $MOD_TARGET

check_result "% insmod test_modules/$MOD_TARGET.ko
$MOD_TARGET: ${MOD_TARGET}_init: 1 2
% insmod test_modules/$MOD_LIVEPATCH.ko
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% echo 1 > /sys/module/$MOD_LIVEPATCH/parameters/report
$REPORT
% echo 0 > $SYSFS_KLP_DIR/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH
% rmmod $MOD_TARGET"


# The target module is loaded after the livepatch: the livepatch core
# resolves the module references as the module comes, and patches it
# before its init runs (test_klp_convert_mod_b() returns 20).

start_test "references resolved, livepatch before target module"

load_lp $MOD_LIVEPATCH
load_mod $MOD_TARGET
REPORT=$(report)
unload_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH

check_result "% insmod test_modules/$MOD_LIVEPATCH.ko
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% insmod test_modules/$MOD_TARGET.ko
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$MOD_TARGET'
$MOD_TARGET: ${MOD_TARGET}_init: 1 20
% echo 1 > /sys/module/$MOD_LIVEPATCH/parameters/report
$REPORT
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
% echo 0 > $SYSFS_KLP_DIR/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"

exit 0
