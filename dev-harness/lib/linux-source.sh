# SPDX-License-Identifier: GPL-2.0
# The pristine kernel tree the patch series targets: Debian's linux-source
# package (the whole tree, Debian's own patches applied) unpacked once into
# the cache and made a git repository whose one commit, tagged "pristine",
# is the tree as packaged.  Needs $cache and lib/apt.sh.

# The package and the suites apt finds it in.
linux_source_pkg=linux-source-7.3
linux_source_suites="sid experimental"

# linux_source: unpack the newest $linux_source_pkg once; sets linux_tree
# (the repository), linux_base (the pristine commit) and linux_source_ver
# (the package's version).
linux_source() {
	local dir ver tmp

	setup_apt "$linux_source_suites"
	ver=$(apt_newest "$linux_source_pkg")
	[ -n "$ver" ] || apt_die "apt knows no $linux_source_pkg in $linux_source_suites"
	dir=$cache/linux/$linux_source_pkg-${ver//[^A-Za-z0-9.+-]/_}
	if [ ! -e "$dir/.done" ]; then
		apt_fetch "$linux_source_pkg" "$ver" ||
			apt_die "cannot download $linux_source_pkg $ver"
		apt_log "unpacking $linux_source_pkg $ver into $dir"
		rm -rf -- "$dir"
		mkdir -p -- "$dir"
		tmp=$dir/unpack
		mkdir -p -- "$tmp"
		dpkg-deb --fsys-tarfile "$fetched" |
			tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
			tar -xJ -C "$tmp" || apt_die "cannot unpack $fetched"
		mv -- "$tmp"/linux-source-* "$dir/linux"
		rmdir -- "$tmp"
		(
			cd "$dir/linux" &&
			git init -q &&
			git add -A -f &&
			GIT_AUTHOR_NAME=dev-harness GIT_AUTHOR_EMAIL=dev-harness@localhost \
			GIT_COMMITTER_NAME=dev-harness GIT_COMMITTER_EMAIL=dev-harness@localhost \
			GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' \
			git commit -q --no-verify -m "Debian $linux_source_pkg $ver" &&
			git tag pristine
		) || apt_die "cannot make a git repository of $dir/linux"
		touch -- "$dir/.done"
	fi
	linux_tree=$dir/linux
	linux_source_ver=$ver
	linux_base=$(git -C "$linux_tree" rev-parse --verify -q 'pristine^{commit}') ||
		apt_die "$linux_tree: no tag pristine"
}
