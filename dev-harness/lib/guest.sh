# SPDX-License-Identifier: GPL-2.0
# The guest's userland for the in-guest selftests: busybox for /init, and
# bash, coreutils, procps, kmod and friends that functions.sh and
# run_kselftest.sh use, with their libraries.  For the host's architecture
# they are the host's own; for another one, Debian's packages of that
# architecture (the host's release), downloaded through private apt lists
# and unpacked into a root in the cache: nothing of the host's apt or dpkg
# changes.  Needs $cache, lib/apt.sh, fail.

# The programs the guest needs, and the packages that have them.
guest_progs=(bash date sysctl diff stat timeout dmesg kmod grep sed mawk
	cat id sleep uname dirname basename tr cut head tail wc mktemp
	ls rm mkdir env sort uniq cmp)
guest_pkgs=(busybox-static bash coreutils procps diffutils kmod grep sed mawk
	util-linux)

# guest_userland DEB_ARCH: sets guest_root, where the guest's programs
# and libraries are taken from: / for the host's architecture, otherwise
# a root of Debian's DEB_ARCH packages, unpacked once per set of package
# versions.
guest_userland() {
	local arch=$1 p ver key list dir tmp missing current

	if [ "$arch" = "$(dpkg --print-architecture)" ]; then
		guest_root=/
		return 0
	fi
	setup_apt "" "$arch"
	# The root made since apt's lists were last updated is current.
	current=$cache/guest/$arch.current
	if [ "$current" -nt "$apt_priv/updated" ] && [ -e "$(cat -- "$current")/.done" ]; then
		guest_root=$(cat -- "$current")
		return 0
	fi
	list=$(apt_closure "${guest_pkgs[@]}") || fail "apt-cache depends ($arch) failed"
	[ -n "$list" ] || fail "apt knows none of ${guest_pkgs[*]} for $arch"
	key=$(for p in $list; do echo "$p=$(apt_newest "$p")"; done)
	dir=$cache/guest/$arch-$(sha256sum <<<"$key" | cut -c1-16)
	if [ ! -e "$dir/.done" ]; then
		rm -rf -- "$dir"
		tmp=$dir.tmp
		rm -rf -- "$tmp"
		mkdir -p -- "$tmp"
		missing=()
		while IFS='=' read -r p ver; do
			[ -z "$ver" ] || apt_have "$p" "$ver" || missing+=("$p=$ver")
		done <<<"$key"
		apt_download "${missing[@]}" || fail "cannot download the $arch packages"
		while IFS='=' read -r p ver; do
			[ -n "$ver" ] || continue
			apt_have "$p" "$ver" || fail "cannot download $p $ver ($arch)"
			dpkg-deb -x "$fetched" "$tmp" || fail "cannot unpack $fetched"
		done <<<"$key"
		mv -- "$tmp" "$dir"
		touch -- "$dir/.done"
	fi
	printf '%s\n' "$dir" >"$current"
	guest_root=$dir
}

# guest_find PROG: PROG's path in $guest_root (symlinks resolved inside it).
guest_find() {
	local d p

	for d in usr/bin bin usr/sbin sbin; do
		p=${guest_root%/}/$d/$1
		[ -e "$p" ] || [ -L "$p" ] || continue
		guest_resolve "$p"
		return 0
	done
	return 1
}

# guest_resolve PATH: PATH with its symlinks resolved inside $guest_root
# (an absolute link target is relative to that root).
guest_resolve() {
	local p=$1 t n=0

	while [ -L "$p" ] && [ "$n" -lt 40 ]; do
		t=$(readlink -- "$p")
		case $t in
		/*) p=${guest_root%/}$t ;;
		*) p=$(dirname -- "$p")/$t ;;
		esac
		n=$((n + 1))
	done
	echo "$p"
}

# guest_copy FILE DIR: FILE of $guest_root copied to the same place under
# DIR, with the libraries it needs (DT_NEEDED, the program interpreter),
# found in $guest_root's library directories.
guest_copy() {
	local f=$1 d=$2 rel lib l dir

	rel=${f#"${guest_root%/}"}
	[ -e "$d$rel" ] && return 0
	mkdir -p -- "$d$(dirname -- "$rel")"
	cp -L -- "$f" "$d$rel"
	{
		readelf -lW -- "$f" 2>/dev/null |
			sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p'
		readelf -dW -- "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	} | while read -r lib; do
		case $lib in
		/*)
			l=$(guest_resolve "${guest_root%/}$lib")
			[ -e "$l" ] || fail "guest: $lib not found under $guest_root"
			# The interpreter stays where programs look for it.
			mkdir -p -- "$d$(dirname -- "$lib")"
			[ -e "$d$lib" ] || cp -L -- "$l" "$d$lib"
			continue
			;;
		esac
		l=
		for dir in "${guest_root%/}"/lib/*-linux-gnu* "${guest_root%/}"/usr/lib/*-linux-gnu* \
			"${guest_root%/}"/lib64 "${guest_root%/}"/usr/lib64 \
			"${guest_root%/}"/lib "${guest_root%/}"/usr/lib; do
			[ -e "$dir/$lib" ] && l=$dir/$lib && break
		done
		[ -n "$l" ] || fail "guest: library $lib of $f not found under $guest_root"
		guest_copy "$l" "$d"
	done
}

# guest_tree DIR DATA_PORT: the guest's root: /init runs run_kselftest.sh
# (test-livepatch.sh and test-klp-convert.sh) from /kselftest and writes
# its TAP output, then each script's own output as TAP diagnostics, to
# /dev/DATA_PORT; guest_userland first.
guest_tree() {
	local d=$1 port=$2 b p

	mkdir -p -- "$d"/{bin,usr/bin,proc,sys,dev,tmp,lib/modules}
	p=$(guest_find busybox) || fail "guest: no busybox in $guest_root (busybox-static)"
	cp -- "$p" "$d/bin/busybox"
	for b in "${guest_progs[@]}"; do
		p=$(guest_find "$b") || fail "guest: $b not found in $guest_root"
		guest_copy "$p" "$d"
		# The program under its own name, wherever its package put it.
		[ -e "$d/usr/bin/$b" ] || ln -s -- "${p#"${guest_root%/}"}" "$d/usr/bin/$b"
	done
	for b in insmod rmmod modinfo lsmod modprobe; do ln -s kmod "$d/usr/bin/$b"; done
	ln -s mawk "$d/usr/bin/awk"
	[ -e "$d/bin/bash" ] || ln -s ../usr/bin/bash "$d/bin/bash"
	sed "s|@DATA@|/dev/$port|g" >"$d/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin KDIR=/
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
[ -d /sys/kernel/tracing ] && mount -t tracefs tracefs /sys/kernel/tracing
cd /kselftest && bash ./run_kselftest.sh -p /tmp/ksft-logs \
	-t livepatch:test-livepatch.sh -t livepatch:test-klp-convert.sh >@DATA@ 2>&1
echo "@@RC $?" >@DATA@
# Each script's own output, as TAP diagnostics.
for f in /tmp/ksft-logs/*; do
	[ -f "$f" ] && sed 's/^/# /' "$f" >@DATA@
done
# Without ACPI (tinyconfig) poweroff halts; QEMU runs with -no-reboot.
reboot -f
INIT
	chmod +x -- "$d/init"
}
