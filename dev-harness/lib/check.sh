# SPDX-License-Identifier: GPL-2.0
# Test cases of the harness's shell runners: "ok N - ..." or "not ok N -
# ..." per case, with the last lines of a failing case's output as "# "
# diagnostics.  The runner sets n, passed and failed to 0 and prints
# "$passed passed, $failed failed" at the end.

diag() { sed 's/^/# /' >&2; }

# check DESCRIPTION COMMAND...: one test case.
check() {
	local desc=$1 log rc

	shift
	n=$((n + 1))
	log=$(mktemp)
	# A subshell: fail() ends the case.
	("$@") >"$log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok $n - $desc"
		passed=$((passed + 1))
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
		tail -n 40 "$log" | diag
	fi
	rm -f "$log"
}

fail() { echo "$*"; exit 1; }

