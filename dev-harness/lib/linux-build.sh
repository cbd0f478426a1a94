# SPDX-License-Identifier: GPL-2.0
# The series applied to the pristine tree (lib/linux-source.sh) and built
# for one architecture: a small configuration
# (dev-harness/kernels/linux-7.3-<arch>.config merged into tinyconfig,
# plus CONFIG_KLP_CONVERT) in an object directory kept in the cache under
# a hash of the configuration, the architecture and the compilers, so
# that a second build is incremental.  How to build for an architecture
# (Kbuild's ARCH, the cross compiler, the image) is read from
# dev-harness/qemu/<arch>.conf.  Needs $cache, $repo, lib/conf.sh,
# linux_source done, and log/die.

# git am records a committer: the harness, whatever the host's git
# configuration says.
export GIT_COMMITTER_NAME=dev-harness GIT_COMMITTER_EMAIL=dev-harness@localhost

# linux_build_dir ARCH: sets linux_arch (ARCH), linux_frag, linux_obj,
# linux_image (the kernel image QEMU boots), linux_target (its make
# target), linux_kmake (make for that tree, object directory and
# architecture) and linux_a_<key> for the keys of ARCH's conf.
linux_build_dir() {
	local arch=$1 key

	linux_frag=$repo/dev-harness/kernels/linux-7.3-$arch.config
	[ -f "$linux_frag" ] || die "no configuration $linux_frag"
	linux_a_kernel_arch= linux_a_cross_compile= linux_a_kernel_image= linux_a_kernel_target=
	read_conf "$repo/dev-harness/qemu/$arch.conf" linux_a_ ||
		die "architecture $arch unknown (dev-harness/qemu/$arch.conf)"
	[ -n "$linux_a_kernel_arch" ] && [ -n "$linux_a_kernel_image" ] &&
		[ -n "$linux_a_kernel_target" ] ||
		die "dev-harness/qemu/$arch.conf: kernel_arch, kernel_image or kernel_target missing"
	command -v "${linux_a_cross_compile}gcc" >/dev/null ||
		die "${linux_a_cross_compile}gcc not found (dev-harness/install-deps)"
	linux_arch=$arch
	# The host's own architecture keeps the key it had before there
	# were others.
	key=$({ cat -- "$linux_frag"; "${linux_a_cross_compile}gcc" --version | head -n 1
		rustc --version
		[ -z "$linux_a_cross_compile" ] ||
			echo "ARCH=$linux_a_kernel_arch CROSS_COMPILE=$linux_a_cross_compile"; } |
		sha256sum | cut -c1-16)
	linux_obj=${linux_tree%/linux}/build-$arch-$key
	linux_image=$linux_obj/$linux_a_kernel_image
	linux_target=$linux_a_kernel_target
	linux_kmake=(make -C "$linux_tree" O="$linux_obj" ARCH="$linux_a_kernel_arch")
	[ -z "$linux_a_cross_compile" ] ||
		linux_kmake+=(CROSS_COMPILE="$linux_a_cross_compile")
}

# linux_reset: the tree back to the pristine commit, nothing else in it.
linux_reset() {
	git -C "$linux_tree" am --abort >/dev/null 2>&1 || true
	git -C "$linux_tree" checkout -q -f --detach "$linux_base"
	git -C "$linux_tree" clean -fdxq
}

# linux_configure: the configuration, again after each patch (a patch
# may add options, CONFIG_KLP_CONVERT among them).
linux_configure() {
	if [ ! -f "$linux_obj/.config" ]; then
		mkdir -p -- "$linux_obj"
		"${linux_kmake[@]}" -s tinyconfig >/dev/null
	fi
	"$linux_tree/scripts/kconfig/merge_config.sh" -m -O "$linux_obj" \
		"$linux_obj/.config" "$linux_frag" >/dev/null
	"$linux_tree/scripts/config" --file "$linux_obj/.config" -e KLP_CONVERT
	"${linux_kmake[@]}" -s olddefconfig >/dev/null
}

# linux_make LOG TARGET...: make in the object directory, output to LOG.
linux_make() {
	local logf=$1

	shift
	"${linux_kmake[@]}" -j"$(nproc)" "$@" >"$logf" 2>&1
}

# linux_series_id SERIES: what identifies a series' contents (its patches,
# the cover letter aside).
linux_series_id() {
	cat -- "$1"/00*.patch | grep -v '^Subject: \[PATCH 0/' | sha256sum | cut -c1-16
}

# linux_mark_built SERIES / linux_is_built SERIES: whether the object
# directory holds the build of SERIES applied to the pristine tree.
linux_mark_built() {
	linux_series_id "$1" >"$linux_obj/.klp-series"
}
linux_is_built() {
	[ -f "$linux_image" ] &&
	[ "$(cat -- "$linux_obj/.klp-series" 2>/dev/null)" = "$(linux_series_id "$1")" ]
}

# linux_build_series SERIES LOG: the whole series applied and built.
linux_build_series() {
	local p

	linux_reset
	for p in "$1"/00*.patch; do
		case $p in */0000-*) continue ;; esac
		git -C "$linux_tree" am -q --committer-date-is-author-date -- "$p" ||
			die "git am ${p##*/} failed"
	done
	linux_configure || die "configuring $linux_obj failed"
	linux_make "$2" "$linux_target" modules || { tail -n 40 "$2" >&2; die "building $linux_obj failed (log: $2)"; }
	linux_mark_built "$1"
}
