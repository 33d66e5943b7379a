#!/usr/bin/env bash
# The fuzz suite's long profile: at least 2,000 generated inputs (MCMSIM_FUZZ_EXAMPLES,
# split among the fuzz tests), every case in-process under its time budget. Prints the
# count and the wall time at the end. Usage:
#   scripts/fuzz_long.sh                      # stop at the first failing input per test
#   MCMSIM_FUZZ_COLLECT=fuzz.jsonl scripts/fuzz_long.sh   # record every failure, no shrinking
set -euo pipefail
cd "$(dirname "$0")/.."
export MCMSIM_FUZZ_EXAMPLES="${MCMSIM_FUZZ_EXAMPLES:-2000}"
exec python -m pytest tests/fuzz -m slow -p no:cacheprovider -q "$@"
