#!/usr/bin/env bash
# Everything CI runs, as root, from a fresh clone:
#   0. deps, a check that every C file is clang-formatted, and shellcheck
#      over every shell script;
#   1. build/ (warnings are errors) with the netns tests: ctest
#      runs the unit tests and the network-namespace tests;
#   2. build-asan/ (ASan + UBSan): the unit tests again, and six netns
#      tests with the sanitized daemons;
#   3. build-fuzz/ (clang, libFuzzer), when clang is there: each
#      tests/fuzz/fuzz_* target for $FUZZ_SECONDS (default 20) on its corpus.
# Ends with "test.sh: N passed, M failed" over all suites, and ", K skipped"
# when ctest skipped tests (a unit test that cannot run on this machine exits
# 77); a skipped test is never counted as passed. Exits non-zero on any
# failure. A suite that cannot build counts as one failure.
#
# Usage: scripts/test.sh        (as root; takes no arguments)
set -euo pipefail
cd "$(dirname "$0")/.."

# The comment at the top of this file is its help.
usage() { sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0"; }
case ${1:-} in
"") ;;
-h | --help) usage; exit 0 ;;
*) echo "test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

if [[ $(id -u) != 0 ]]; then
	echo "test.sh: the netns tests need root (they make network namespaces); run: sudo $0" >&2
	exit 1
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
passed=0
failed=0
skipped=0

step() { printf '\n######## %s\n' "$*"; }

# ctest_suite DIR ARGS...: run ctest in DIR and add its counts to the totals.
# ctest counts a skipped test among the passed in its summary line and lists
# it under "The following tests did not run:" as "(Skipped)"; those are
# taken out of the passed and shown with the reason they printed.
ctest_suite() {
	local dir=$1 out rc=0 line skips n_skips=0
	shift
	out=$dir/ctest-summary.txt
	(cd "$dir" && ctest --output-on-failure "$@") | tee "$out" || rc=$?
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" || true)
	skips=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$out")
	[[ -z $skips ]] || n_skips=$(wc -l <<<"$skips")
	if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1] - n_skips))
		failed=$((failed + BASH_REMATCH[1]))
		skipped=$((skipped + n_skips))
		if ((n_skips)); then
			echo "test.sh: SKIPPED in $dir, not passed: ${skips//$'\n'/, }"
			grep -h 'SKIPPED' "$dir/Testing/Temporary/LastTest.log" 2>/dev/null || true
		fi
	elif grep -q 'No tests were found' "$out"; then
		echo "test.sh: no tests in $dir $*"
	fi
	if ((rc != 0)) && [[ -z $line ]]; then
		echo "test.sh: ctest in $dir failed (status $rc) before it counted" >&2
		failed=$((failed + 1))
	fi
}

# build DIR ARGS...: scripts/build.sh into DIR; a failed build is one failure.
build() {
	local dir=$1
	shift
	if BUILD_DIR=$dir bash scripts/build.sh "$@"; then
		return 0
	fi
	echo "test.sh: the build in $dir failed" >&2
	failed=$((failed + 1))
	return 1
}

# fuzz DIR: every fuzz target for FUZZ_SECONDS on DIR/corpus/NAME, seeded
# from tests/fuzz/corpus/NAME when the repository has one.
fuzz() {
	local dir=$1 bin name corpus found=0
	for bin in "$dir"/tests/fuzz_*; do
		[[ -x $bin && -f $bin ]] || continue
		found=1
		name=${bin##*/}
		corpus=$dir/corpus/$name
		mkdir -p "$corpus" "$dir/artifacts"
		if [[ -d tests/fuzz/corpus/$name ]]; then
			cp -r "tests/fuzz/corpus/$name/." "$corpus/"
		fi
		echo "== $name, ${FUZZ_SECONDS}s"
		if "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
			-artifact_prefix="$dir/artifacts/$name-" "$corpus" >"$dir/$name.log" 2>&1; then
			grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/$name.log" || true
			passed=$((passed + 1))
		else
			tail -n 60 "$dir/$name.log"
			echo "test.sh: $name failed; the input is in $dir/artifacts/" >&2
			failed=$((failed + 1))
		fi
	done
	((found)) || echo "test.sh: no fuzz targets in $dir/tests"
}

step "dependencies"
bash scripts/deps.sh

step "format: every C file as .clang-format says"
unformatted=()
while IFS= read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find tunnel gateway edge tests -name '*.[ch]')
if ((${#unformatted[@]})); then
	echo "test.sh: not formatted (run clang-format -i): ${unformatted[*]}" >&2
	failed=$((failed + 1))
else
	echo "all formatted"
	passed=$((passed + 1))
fi

step "shellcheck: the scripts and the netns tests"
if shellcheck -x scripts/*.sh tests/netns/*.sh .ci/run; then
	echo "all clean"
	passed=$((passed + 1))
else
	echo "test.sh: shellcheck found problems (above)" >&2
	failed=$((failed + 1))
fi

step "build/: unit and netns tests"
if build build -DEGRESS_NETNS_TESTS=ON; then
	ctest_suite build
fi

step "build-asan/: unit tests under ASan and UBSan"
if build build-asan -DEGRESS_SANITIZE=ON; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest_suite build-asan -L unit -j "$(nproc)"
fi

# The daemons under the sanitizers too, through the namespace tests that
# exercise the most code: any report (written to files, since the daemons'
# stderr goes to logs the tests remove on success) fails the suite.
if [[ -x build-asan/gateway/gatewayd && -x build-asan/edge/edged ]]; then
	step "build-asan/: netns tests with the sanitized daemons"
	san_dir=$(mktemp -d)
	for t in t_tunnel_basic t_garbage t_spoof t_teardown t_edge_reload t_offload; do
		rm -f "$san_dir"/san.*
		# t_offload's transfers: 20 MB, not 200, at the sanitizers' pace
		if OFFLOAD_TEST_MB=20 ASAN_OPTIONS=detect_leaks=1:log_path=$san_dir/san \
			UBSAN_OPTIONS=print_stacktrace=1:log_path=$san_dir/san \
			EGRESS_BIN=build-asan bash "tests/netns/$t.sh" >"$san_dir/$t.out" 2>&1 &&
			! compgen -G "$san_dir/san.*" >/dev/null; then
			echo "$t (sanitized): passed"
			passed=$((passed + 1))
		else
			tail -n 40 "$san_dir/$t.out"
			cat "$san_dir"/san.* 2>/dev/null || true
			echo "$t (sanitized): FAILED" >&2
			failed=$((failed + 1))
		fi
	done
	rm -rf "$san_dir"
fi

if command -v clang >/dev/null; then
	step "build-fuzz/: libFuzzer targets, ${FUZZ_SECONDS}s each"
	if CC=clang build build-fuzz -DEGRESS_FUZZ=ON; then
		fuzz build-fuzz
	fi
else
	step "build-fuzz/: skipped, clang is not installed"
fi

echo
if ((skipped)); then
	echo "test.sh: $passed passed, $failed failed, $skipped skipped"
else
	echo "test.sh: $passed passed, $failed failed"
fi
((failed == 0))
