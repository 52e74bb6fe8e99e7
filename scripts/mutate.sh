#!/usr/bin/env bash
# Mutation testing (issue 22), not part of CI: StrykerJS mutates the TypeScript of one target and
# runs that target's tests once per mutant (command runner: a mutant is killed when uvu fails);
# then scripts/mutants.ts applies the hand-written WGSL / formula mutants, which Stryker cannot make.
# Stryker is fetched by npx on first use (not a dependency: CI never needs it).
#
#   npm run mutate                 # every target, then the hand-written mutants (many hours on 2 cores)
#   npm run mutate -- momentum     # one target (see TARGETS); `wgsl` for the hand-written ones only
#
# Reports: reports/mutation/<target>.html and .json; docs/MUTATION.md holds the last results.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
STRYKER="@stryker-mutator/core@8.7.1"

# target -> "globs to mutate|uvu arguments of the tests that should kill them"
declare -A TARGETS=(
  [momentum]="src/moco/momentum.ts|test/moco ^momentum\\.test\\.ts\$"
  [losses]="src/moco/losses.ts|test/moco ^losses\\.test\\.ts\$"
  [moco]="src/moco/*.ts|test/moco \\.test\\.ts\$"
  [elementwise]="src/ops/elementwise.ts|test/ops ^(elementwise|formulas|fuse)\\.test\\.ts\$"
  [reduce]="src/ops/reduce.ts,src/ops/softmax.ts|test/ops ^(reduce|softmax)\\.test\\.ts\$"
  [ops]="src/ops/*.ts|test/ops \\.test\\.ts\$"
  [autograd]="src/autograd/*.ts|test ^(autograd|ops/elementwise|ops/formulas)\\.test\\.ts\$"
  [optim]="src/optim/*.ts|test/optim \\.test\\.ts\$"
)
ORDER=(momentum losses elementwise reduce moco autograd optim ops)

run_target() {
  local name=$1 spec=${TARGETS[$1]:-}
  [ -n "$spec" ] || { echo "mutate.sh: unknown target '$1' (known: ${ORDER[*]} wgsl)" >&2; exit 2; }
  local globs=${spec%%|*} tests=${spec#*|}
  local conf; conf=$(mktemp --suffix=.json)
  node -e '
    const [globs, tests, name, out] = process.argv.slice(1);
    const [dir, pattern] = tests.split(" ");
    require("node:fs").writeFileSync(out, JSON.stringify({
      testRunner: "command",
      commandRunner: { command: `npx uvu -r tsx ${dir} '\''${pattern}'\''` },
      mutate: globs.split(","),
      coverageAnalysis: "off",
      concurrency: 1,
      timeoutMS: 120000,
      reporters: ["clear-text", "progress", "html", "json"],
      htmlReporter: { fileName: `reports/mutation/${name}.html` },
      jsonReporter: { fileName: `reports/mutation/${name}.json` },
      tempDirName: ".stryker-tmp",
      cleanTempDir: true,
      // No tsconfig rewriting: Stryker does that through the TypeScript 5 JS API, which TypeScript 7
      // (used here) no longer has, and tsx runs the mutated .ts files without it.
      tsconfigFile: "no-tsconfig-for-stryker.json",
    }, null, 2));
  ' "$globs" "$tests" "$name" "$conf"
  echo "mutate.sh: $name: mutating $globs, tests: uvu -r tsx $tests"
  if command -v stryker >/dev/null; then stryker run "$conf"; else npx --yes "$STRYKER" run "$conf"; fi
  rm -f "$conf"
}

if [ $# = 0 ]; then set -- "${ORDER[@]}" wgsl; fi
for t in "$@"; do
  if [ "$t" = wgsl ]; then npx tsx scripts/mutants.ts; else run_target "$t"; fi
done
