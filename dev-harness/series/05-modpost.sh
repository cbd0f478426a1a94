# SPDX-License-Identifier: GPL-2.0
subject='modpost: let livepatch modules reference non-exported symbols'
read -r -d '' body <<'MSG' || true
A livepatch module written in plain C, as the code it patches is,
references static variables and helpers of that code through plain
extern declarations.  Such a symbol is not exported, so modpost fails
the build with "undefined!", before klp-convert could turn the reference
into a livepatch relocation.

Skip the unresolved-symbol check for modules with MODULE_INFO(livepatch,
"Y"): klp-convert, which runs on every such module after its final link,
resolves each of those references from the target's symbols, or fails
the build naming the symbol and the choices.  Every other module keeps
the check.
MSG

# The three changes, each checked against the 7.3 tree.
modpost_h() {
	after "$1" '^	bool has_cleanup;$' '	bool is_livepatch;'
}

modpost_c() {
	local f=$1

	# (after's regex reaches awk -v: no backslashes in it)
	after "$f" '^			mod_warn.mod, "missing MODULE_DESCRIPTION' \
		'' \
		'		mod->is_livepatch = get_modinfo(&info, "livepatch");' || return
	grep -qF '			if (!s->weak && nr_unresolved++ < MAX_UNRESOLVED_REPORTS)' "$f" ||
		return
	awk '{
		if ($0 == "\t\t\tif (!s->weak && nr_unresolved++ < MAX_UNRESOLVED_REPORTS)") {
			print "\t\t\t/* klp-convert resolves them after the final link. */"
			print "\t\t\tif (mod->is_livepatch)"
			print "\t\t\t\tcontinue;"
			print
		} else {
			print
		}
	}' "$f" >"$f.new" && mv -- "$f.new" "$f"
}

changes() {
	edit scripts/mod/modpost.h modpost_h
	edit scripts/mod/modpost.c modpost_c
}
