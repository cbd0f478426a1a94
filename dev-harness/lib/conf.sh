# SPDX-License-Identifier: GPL-2.0
# Reading the harness's data files (kernels/, qemu/, toolchains/): lines
# KEY=VALUE or KEY='VALUE', comments and blank lines; never run as code.

# read_conf FILE PREFIX: set PREFIX<key> for every key of FILE.
read_conf() {
	local file=$1 prefix=$2 line key value

	[ -f "$file" ] || { echo "${file}: no such file" >&2; return 1; }
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		''|'#'*) continue ;;
		esac
		key=${line%%=*}
		value=${line#*=}
		if ! [[ $key =~ ^[a-z_][a-z0-9_]*$ ]] || [ "$key" = "$line" ]; then
			echo "${file}: not KEY=VALUE: $line" >&2
			return 1
		fi
		if [[ $value == \'*\' ]]; then
			value=${value#\'}
			value=${value%\'}
		fi
		printf -v "$prefix$key" '%s' "$value"
	done <"$file"
}
