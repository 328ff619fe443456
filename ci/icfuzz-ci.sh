#!/usr/bin/env bash
# Fuzzing in CI, for any CI: a time-boxed campaign, then a replay of the regression corpus, both reported as SARIF.
#
#   ICFUZZ_CONFIG      the environment (icfuzz.toml)                                       required
#   ICFUZZ_DURATION    how long the campaign runs (e.g. 90s, 5m, 1h)                      default 5m
#   ICFUZZ_REGRESSION  a directory of scenario files that must no longer find anything    optional
#   ICFUZZ_OUT         where the campaign keeps its corpus, crashes and SARIF             default icfuzz-out
#   ICFUZZ             the icfuzz binary                                                   default icfuzz
#   ICFUZZ_ARGS        more arguments for `icfuzz fuzz` (e.g. "--seed 1 --jobs 2")        optional
#
# Exit code: 1 if the campaign or the regression corpus gives any finding, else 2 if either failed to run, else 0.
# Both always run, so one report never hides the other. Keep ICFUZZ_OUT between runs (a CI cache) to resume the
# corpus; upload ICFUZZ_OUT/crashes and the .sarif files as artifacts.
set -u

: "${ICFUZZ_CONFIG:?set ICFUZZ_CONFIG to the icfuzz.toml of the environment}"
icfuzz=${ICFUZZ:-icfuzz}
out=${ICFUZZ_OUT:-icfuzz-out}
mkdir -p "$out"

# shellcheck disable=SC2086 # ICFUZZ_ARGS is a list of arguments
"$icfuzz" fuzz --config "$ICFUZZ_CONFIG" --duration "${ICFUZZ_DURATION:-5m}" --out "$out" \
    --sarif "$out/campaign.sarif" ${ICFUZZ_ARGS:-}
campaign=$?

regression=0
if [ -n "${ICFUZZ_REGRESSION:-}" ]; then
    "$icfuzz" replay --all "$ICFUZZ_REGRESSION" --config "$ICFUZZ_CONFIG" --sarif "$out/regression.sarif"
    regression=$?
fi

echo "icfuzz-ci: campaign exit $campaign, regression corpus exit $regression"
if [ "$campaign" = 1 ] || [ "$regression" = 1 ]; then
    exit 1
elif [ "$campaign" != 0 ] || [ "$regression" != 0 ]; then
    exit 2
fi
exit 0
