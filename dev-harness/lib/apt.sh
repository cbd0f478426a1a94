# SPDX-License-Identifier: GPL-2.0
# Debian packages for the harness: the host's apt, or private lists of
# other suites under $cache/apt (the host's apt configuration and its
# installed packages stay as they are).  Needs $cache; apt_die and
# apt_log may be redefined by the including script.

apt_die() { echo "${prog:-apt}: error: $*" >&2; exit 1; }
apt_log() { echo "${prog:-apt}: $*" >&2; }

# Host apt or the harness's own lists (apt_suites set): apt_opts holds the
# options that point apt at the latter, under the cache.
apt_opts=()
apt_priv=
apt_arch=

# host_mirror: the Debian archive the host's apt uses for its own release.
host_mirror() {
	local codename

	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	apt-get indextargets --format '$(RELEASE) $(REPO_URI) $(IDENTIFIER)' 2>/dev/null |
		awk -v c="$codename" '$1 == c && $3 == "Packages" { print $2; exit }'
}

# setup_apt SUITES [ARCH]: apt_opts for a private sources list of SUITES
# (main), from the host's own Debian mirror, for the host's architecture
# or Debian's ARCH (arm64, ppc64el, s390x: nothing of the host's dpkg
# changes); lists refreshed once a day.  SUITES may be empty for ARCH: the
# host's own release.
setup_apt() {
	local suites=$1 arch=${2:-} dir mirror s

	apt_opts=()
	apt_priv=
	apt_arch=
	[ -n "$suites" ] || [ -n "$arch" ] || return 0
	[ -n "$suites" ] || suites=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$suites" ] || apt_die "cannot tell the host's Debian release (/etc/os-release)"
	mirror=$(host_mirror)
	[ -n "$mirror" ] || apt_die "cannot tell the host's Debian mirror (apt-get indextargets)"
	dir=$cache/apt/${suites// /+}${arch:+-$arch}
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	: >"$dir/sources.list.new"
	for s in $suites; do
		printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
			"$mirror" "$s" >>"$dir/sources.list.new"
	done
	mv -f -- "$dir/sources.list.new" "$dir/sources.list"
	apt_opts=(-o "Dir::Etc::sourcelist=$dir/sources.list"
		  -o "Dir::Etc::sourceparts=-"
		  -o "Dir::State::Lists=$dir/lists"
		  -o "Dir::Cache=$dir/cache"
		  -o "Dir::State::status=/dev/null"
		  -o "Acquire::Check-Valid-Until=false"
		  -o "APT::Sandbox::User=root")
	if [ -n "$arch" ]; then
		apt_opts+=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
		apt_arch=$arch
	fi
	apt_priv=$dir
	if [ -z "$(find "$dir/updated" -mmin -1440 2>/dev/null)" ]; then
		apt_log "apt-get update ($suites${arch:+ $arch}, private lists under $dir)"
		apt-get "${apt_opts[@]}" update -qq >&2 || apt_die "apt-get update of $suites failed"
		touch "$dir/updated"
	fi
}

# apt_names REGEX: package names apt knows, newest last.
apt_names() {
	apt-cache "${apt_opts[@]}" search --names-only -- "$1" 2>/dev/null |
		cut -d' ' -f1 | grep -E -- "$1" | sort -V
}

# apt_newest PKG: the newest version apt offers.
apt_newest() {
	apt-cache "${apt_opts[@]}" madison -- "$1" 2>/dev/null |
		awk -F'|' 'NR == 1 { gsub(/ /, "", $2); print $2 }'
}

# apt_depends PKG VERSION REGEX: the first dependency of PKG matching REGEX.
apt_depends() {
	apt-cache "${apt_opts[@]}" show -- "$1=$2" 2>/dev/null |
		sed -n 's/^Depends: //p' | tr ',' '\n' |
		awk -v re="$3" '{ sub(/^ +/, ""); sub(/ .*/, ""); if ($0 ~ re) { print; exit } }'
}

apt_updated=
apt_update() {
	[ -z "$apt_updated" ] || return 0
	apt_updated=y
	if [ -n "$apt_priv" ]; then
		rm -f -- "$apt_priv/updated"
		apt_log "apt-get update (private lists)"
		apt-get "${apt_opts[@]}" update -qq >&2 || log "apt-get update failed"
		return 0
	fi
	apt_log "apt-get update"
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq >&2 || log "apt-get update failed"
	else
		sudo -n apt-get update -qq >&2 || log "apt-get update failed (not root)"
	fi
}

# apt_closure PKG...: the packages and everything they depend on
# (Depends, Pre-Depends), recursively, one name a line.
apt_closure() {
	apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances -- "$@" 2>/dev/null |
		grep -v '^[ <]' | sort -u
}

# apt_have PKG VERSION: whether the .deb is in $cache/debs; its path goes
# to $fetched.  Another architecture's package of the same version is
# another file.
apt_have() {
	local pkg=$1 ver=$2 f globs

	fetched=
	if [ -n "$apt_arch" ]; then
		globs=("$cache/debs/${pkg}_${ver//:/%3a}_"{"$apt_arch",all}.deb)
	else
		globs=("$cache/debs/${pkg}_${ver//:/%3a}_"*.deb)
	fi
	for f in "${globs[@]}"; do
		[ -e "$f" ] && fetched=$f && return 0
	done
	return 1
}

# apt_download PKG=VERSION...: download those .debs into $cache/debs, in
# one apt-get.
apt_download() {
	[ $# -gt 0 ] || return 0
	apt_log "downloading $*${apt_arch:+ ($apt_arch)}"
	mkdir -p -- "$cache/debs"
	(cd "$cache/debs" && apt-get "${apt_opts[@]}" download -q -- "$@" >&2)
}

# apt_fetch PKG VERSION: download the .deb into $cache/debs once; its path
# goes to $fetched.  Fails when apt cannot download it.
apt_fetch() {
	apt_have "$1" "$2" && return 0
	apt_download "$1=$2" || return 1
	apt_have "$1" "$2"
}
