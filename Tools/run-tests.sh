#!/usr/bin/env bash
# Runs every package's tests with `swift test -c release --package-path Packages/<Name>`, then the root package's
# end-to-end tests, and prints one summary line: "N passed, N failed".
# All packages build into one scratch folder (.build-test), so a package that several others depend on (Tensor,
# Autodiff, NN, ...) is compiled once instead of once per package.
set -u
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-$PWD/.build-test}
total_pass=0; total_fail=0; total_skip=0; failed_pkgs=()
run() {  # $1 = label, rest = command
  local label=$1; shift
  echo "=== $label: $*"
  local log; log=$(mktemp)
  local start=$SECONDS
  # SwiftPM may reuse the build plan another package left in the shared scratch folder and run that package's
  # tests instead: drop the plan (object files stay, so the build is still incremental).
  rm -f "$SCRATCH/release.yaml" "$SCRATCH/release/description.json"
  "$@" 2>&1 | tee "$log" | grep -E "error:|failed|Executed .* tests|passed after|failed after|^test configuration:" | grep -v "^Test Suite" | tail -n 40
  local rc=${PIPESTATUS[0]}
  # XCTest's last "Executed" line is the all-tests summary: "Executed N tests, with [K tests skipped and] F failures".
  local line; line=$(grep -E "^\s*Executed [0-9]+ tests?, with" "$log" | tail -1)
  local n=0 f=0 k=0
  [[ $line =~ Executed\ ([0-9]+)\ test ]] && n=${BASH_REMATCH[1]}
  [[ $line =~ ([0-9]+)\ failure ]] && f=${BASH_REMATCH[1]}
  [[ $line =~ ([0-9]+)\ tests?\ skipped ]] && k=${BASH_REMATCH[1]}
  n=$((n - k)); total_skip=$((total_skip + k))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # a build failure or crash counts as a failure
  # A package with a test target that ran no test (a stale build plan in the shared scratch folder can do that)
  # is a failure too, not a silent pass.
  if [ "$n" = 0 ] && [ "$k" = 0 ] && [ "$f" = 0 ]; then echo "=== $label: no test ran"; f=1; fi
  # The tests that ran must be this package's own: one of its test classes must have run.
  if [ -n "${suite:-}" ] && [ "$f" = 0 ] && ! grep -q "Test Suite '$suite' started" "$log"; then
    echo "=== $label: the tests of another package ran (its test class $suite did not)"; f=1
  fi
  local passed=$((n - f)); [ "$passed" -lt 0 ] && passed=0
  total_pass=$((total_pass + passed)); total_fail=$((total_fail + f))
  [ "$f" != 0 ] && failed_pkgs+=("$label")
  echo "=== $label: $passed passed, $f failed, $k skipped ($((SECONDS - start)) s)"
  rm -f "$log"
}
# The name of one XCTestCase class under a tests folder (to recognise that package's own run).
first_test_class() { grep -rhoE "class [A-Za-z0-9_]+: XCTestCase" "$1" 2>/dev/null | head -1 | sed -E 's/class ([A-Za-z0-9_]+):.*/\1/'; }
# Dependency order: low packages first, so later ones reuse their build products.
order="Tensor Tokenizer DataIO Autodiff NN RunLoop TextEncoder Diffusion ShapesWorld DiscriminativeAdapter SelfCorrection Pipeline T2ITraining AdapterTraining Evaluation"
pkgs=""; for n in $order; do [ -d "Packages/$n" ] && pkgs="$pkgs Packages/$n/"; done
for pkg in Packages/*/; do case " $pkgs " in *" $pkg "*) ;; *) pkgs="$pkgs $pkg";; esac; done
for pkg in $pkgs; do
  name=$(basename "$pkg")
  [ -f "$pkg/Package.swift" ] || continue
  [ -d "$pkg/Tests" ] || continue
  suite=$(first_test_class "$pkg/Tests") run "$name" swift test -c release --package-path "$pkg" --scratch-path "$SCRATCH"
done
# The root package: every tool must build; its end-to-end tests (Tests/) run when it has a test target.
if grep -q testTarget Package.swift; then
  suite=$(first_test_class Tests) run "end-to-end" swift test -c release --scratch-path "$SCRATCH"
else
  echo "=== tools: swift build -c release"
  if swift build -c release --scratch-path "$SCRATCH" 2>&1 | grep -E "error:|Compiling|Build complete" | tail -n 20; [ "${PIPESTATUS[0]}" = 0 ]; then
    echo "=== tools: build complete"
  else
    total_fail=$((total_fail + 1)); failed_pkgs+=("tools (root package build)")
  fi
fi
# The package map in Docs/ARCHITECTURE.md is drawn from the manifests; it must match them.
echo "=== architecture: Tools/architecture.sh --check"
if bash Tools/architecture.sh --check; then total_pass=$((total_pass + 1)); else total_fail=$((total_fail + 1)); failed_pkgs+=("architecture map"); fi
[ ${#failed_pkgs[@]} -gt 0 ] && echo "failing: ${failed_pkgs[*]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
