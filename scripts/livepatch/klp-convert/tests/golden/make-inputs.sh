#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Rebuild the golden test inputs (<arch>.ko) from source.c, of every
# architecture or of those named (x86_64, ppc64le, s390x, aarch64). Run by
# hand when source.c changes, then regenerate the expected dumps with
#   KLP_UPDATE_GOLDEN=1 cargo test --test golden
# The inputs are checked in so that the goldens do not depend on the
# compilers of the machine that runs the tests.
set -eu
only="$*"
cd "$(dirname "$0")"

common="-c -O2 -g0 -ffreestanding -fno-common -fno-stack-protector \
	-fno-asynchronous-unwind-tables"

build() {
	arch=$1 prefix=$2
	shift 2
	if [ -n "$only" ]; then
		case " $only " in *" $arch "*) ;; *) return 0 ;; esac
	fi
	"${prefix}gcc" $common "$@" -o "$arch.o" source.c
	"${prefix}ld" -r -o "$arch.ko" "$arch.o"
	rm -f "$arch.o"
}

build x86_64 "" -mcmodel=kernel -fno-pic -mno-red-zone
build ppc64le powerpc64le-linux-gnu- -mcmodel=medium \
	-mno-pointers-to-nested-functions
build s390x s390x-linux-gnu- -fPIC
build aarch64 aarch64-linux-gnu- -fno-pic -mgeneral-regs-only
