#!/usr/bin/env bash
# Runs every benchmark of the project and prints one Markdown table of the figures:
# throughput, requests per IOC/alert, ratio to the simulator's request limit, peak RSS of a
# 100 000- and a 1 000 000-indicator backfill, recovery time after SIGKILL.
#
#   tests/bench/report.sh                     # everything (tens of minutes on 2 cores)
#   SECTIONS="micro backfill" tests/bench/report.sh
#   BACKFILL_INDICATORS=10000 CHAOS_LONG=1 tests/bench/report.sh
#   BENCH_PIPELINE_INDICATORS=10000 BENCH_INDEX_ENTRIES=100000 SECTIONS=intel tests/bench/report.sh
#
# Sections: micro (Go benchmarks under plugins/ and tests/), intel (the pipeline at
# BENCH_PIPELINE_INDICATORS, default 200 000; the start with BENCH_INDEX_ENTRIES, default
# 1 000 000, existing IOCs), detections, stream, dependencies (what no_dependencies=false adds
# to a 100 000-indicator snapshot), backfill (peak RSS, BACKFILL_INDICATORS, default 100 000),
# backfill-1m (peak RSS and CPU of a BACKFILL_1M_INDICATORS, default 1 000 000, backfill),
# chaos (recovery after SIGKILL: the short run, or the 10 000 + 5 000 one with CHAOS_LONG=1).
# Raw logs are kept in $LOG_DIR (default: a temporary directory).
set -euo pipefail

cd "$(dirname "$0")/../.."
SECTIONS=${SECTIONS:-"micro intel detections stream dependencies backfill backfill-1m chaos"}
LOG_DIR=${LOG_DIR:-$(mktemp -d -t bench-report-XXXXXX)}
BENCHTIME=${BENCHTIME:-2s}
mkdir -p "$LOG_DIR"
ROWS=()

want() { [[ " $SECTIONS " == *" $1 "* ]]; }

# row FIGURE VALUE SOURCE
row() { ROWS+=("| $1 | $2 | \`$3\` |"); }

# logline FILE PATTERN: the message of the first t.Logf line matching PATTERN (without the
# "file_test.go:NN: " prefix), or "not measured (see FILE)".
logline() {
	local l
	l=$(grep -E "$2" "$1" 2>/dev/null | head -1 | sed -E 's/^[[:space:]]*[A-Za-z0-9_]+\.go:[0-9]+: //') || true
	echo "${l:-not measured (see $1)}"
}

# gobench PKG REGEX: runs Go benchmarks, keeps the output in $LOG_DIR.
gobench() {
	local log="$LOG_DIR/bench-$(echo "$1" | tr '/.' '__').log"
	echo "» go test -bench '$2' $1" >&2
	go test -run '^$' -bench "$2" -benchmem -benchtime "$BENCHTIME" "$1" >"$log" 2>&1 || echo "  (failed: $log)" >&2
	echo "$log"
}

# benchrow NAME LOG BENCHREGEX: "<custom metric> (<ns/op>)" of one benchmark line.
benchrow() {
	local line
	line=$(grep -E "^$3" "$2" | head -1) || true
	if [[ -z "$line" ]]; then
		row "$1" "not measured (see $2)" "$3"
		return
	fi
	# Fields: name N ns/op-value "ns/op" [value unit]... ; keep the custom units and ns/op.
	row "$1" "$(echo "$line" | awk '{out=""; for (i=3; i<NF; i+=2) if ($(i+1) != "B/op" && $(i+1) != "allocs/op") out=out (out==""?"":", ") $i " " $(i+1); print out}')" "$3"
}

# gotest NAME ENV... -- ARGS: runs go test -v with the environment, logs to $LOG_DIR/NAME.log.
gotest() {
	local name=$1
	shift
	local envs=()
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	local log="$LOG_DIR/$name.log"
	echo "» ${envs[*]} go test $*" >&2
	env "${envs[@]}" go test -count=1 -v "$@" >"$log" 2>&1 || echo "  (failed: $log)" >&2
	echo "$log"
}

# metric LOG BENCHREGEX UNIT: the value of one metric of one benchmark line.
metric() {
	grep -E "^$2" "$1" 2>/dev/null | head -1 | awk -v u="$3" '{for (i = 2; i <= NF; i++) if ($i == u) print $(i-1)}'
}

# ratiorow LOG GROUP: the processor's speed relative to plain JSON decoding of the same events
# (decode CPU time / processor CPU time per op: elapsed time is too noisy on a shared machine).
ratiorow() {
	local p d
	p=$(metric "$1" "BenchmarkProcessor/$2-" cpu-ns/op)
	d=$(metric "$1" "BenchmarkJSONDecode/$2-" cpu-ns/op)
	if [[ -z "$p" || -z "$d" ]]; then
		row "stix_to_harfanglab vs plain JSON decoding, $2" "not measured (see $1)" "BenchmarkProcessor/$2"
		return
	fi
	row "stix_to_harfanglab vs plain JSON decoding, $2 (target ≥ 0.8× corpus, ≥ 0.5× each group)" \
		"$(awk -v p="$p" -v d="$d" 'BEGIN {printf "%.2f× (processor %.1f ms, decoding %.1f ms CPU per pass)", d/p, p/1e6, d/1e6}')" \
		"BenchmarkProcessor/$2 vs BenchmarkJSONDecode/$2"
}

if want micro; then
	log=$(gobench ./plugins/stix/ 'BenchmarkProcessor|BenchmarkJSONDecode')
	for group in corpus small description-5MB in-list-1MB; do
		ratiorow "$log" "$group"
	done
	benchrow "stix_to_harfanglab processor, small events (in process)" "$log" "BenchmarkProcessor/small-"
	benchrow "stix_to_harfanglab processor, 5 MB description event" "$log" "BenchmarkProcessor/description-5MB-"
	benchrow "stix_to_harfanglab processor, 1 MB IN list event" "$log" "BenchmarkProcessor/in-list-1MB-"
	benchrow "plain JSON decoding of the small events (reference)" "$log" "BenchmarkJSONDecode/small-"
	log=$(gobench ./plugins/detections/ 'BenchmarkHarfangLabToSTIXAlert')
	benchrow "harfanglab_to_stix processor (in process)" "$log" "BenchmarkHarfangLabToSTIXAlert"
	log=$(gobench ./plugins/opencti/ 'BenchmarkWriteBatch')
	benchrow "opencti output WriteBatch (loopback simulator)" "$log" "BenchmarkWriteBatch"
	log=$(gobench ./tests/stream/ 'BenchmarkInput')
	benchrow "opencti_stream input (in process)" "$log" "BenchmarkInput"
fi

if want intel; then
	log=$(gotest intel BENCH=1 "BENCH_PIPELINE_INDICATORS=${BENCH_PIPELINE_INDICATORS:-200000}" \
		"BENCH_INDEX_ENTRIES=${BENCH_INDEX_ENTRIES:-1000000}" -- -timeout 60m ./tests/bench/intel/)
	row "harfanglab_intel create: throughput, ratio to limit, requests/IOC" "$(logline "$log" ' create: ')" "tests/bench/intel TestOutputThroughput"
	row "harfanglab_intel delete" "$(logline "$log" ' delete: ')" "tests/bench/intel TestOutputThroughput"
	row "harfanglab_intel replay (idempotence)" "$(logline "$log" 'replay of the')" "tests/bench/intel TestOutputThroughput"
	row "harfanglab_intel index load (100 000 entries)" "$(logline "$log" 'index load of')" "tests/bench/intel TestIndexLoad100k"
	row "harfanglab_intel live heap per owned IOC after a backfill (target ≤ 400 B)" "$(logline "$log" 'index heap after a backfill')" "tests/bench/intel TestIndexHeapPerIOC"
	row "intel pipeline through the binary from an empty HarfangLab (target ≥ 0.8 of the limit at 200 000)" "$(logline "$log" ' pipeline: ')" "tests/bench/intel TestPipelineThroughput"
	row "binary start with existing IOCs: index load (target < 60 s for 1 000 000)" "$(logline "$log" 'binary start with')" "tests/bench/intel TestPipelineIndexLoad"
fi

if want detections; then
	log=$(gotest detections BENCH=1 -- -timeout 30m ./tests/bench/detections/)
	row "detections pull end to end" "$(logline "$log" 'end to end:')" "tests/bench/detections TestDetectionsEndToEnd"
	row "detections requests per alert" "$(logline "$log" 'requests per alert')" "tests/bench/detections TestDetectionsEndToEnd"
	row "harfanglab_alerts input alone" "$(logline "$log" 'input alone:')" "tests/bench/detections TestAlertsInputAlone"
fi

if want stream; then
	log=$(gotest stream BENCH=1 -- -timeout 30m -run 'TestThroughput' ./tests/stream/)
	row "opencti_stream through the binary (events/s, RSS of the input)" "$(logline "$log" 'events of ~2 KB')" "tests/stream TestThroughput"
fi

if want dependencies; then
	log=$(gotest dependencies BENCH=1 "DEPENDENCIES_INDICATORS=${DEPENDENCIES_INDICATORS:-100000}" -- -timeout 60m -run TestNoDependenciesSnapshot ./tests/bench/dependencies/)
	for stream in filtered unfiltered; do
		for v in true false; do
			row "snapshot, $stream stream, no_dependencies=$v" "$(logline "$log" "^ *[a-z_]+\.go:[0-9]+: $stream stream, no_dependencies=$v: " | sed 's/^[a-z]* stream, no_dependencies=[a-z]*: //')" "tests/bench/dependencies TestNoDependenciesSnapshot"
		done
		row "what no_dependencies=false adds, $stream stream" "$(logline "$log" "DEPENDENCIES $stream stream" | sed 's/^DEPENDENCIES //')" "tests/bench/dependencies TestNoDependenciesSnapshot"
	done
fi

if want backfill; then
	log=$(gotest backfill BENCH=1 "BACKFILL_INDICATORS=${BACKFILL_INDICATORS:-100000}" -- -timeout 40m -run TestBackfillPeakRSS ./tests/chaos/)
	row "first-run backfill: peak RSS of the binary (target < 256 MB)" "$(logline "$log" '^BACKFILL ' | sed 's/^BACKFILL //')" "tests/chaos TestBackfillPeakRSS"
fi

if want backfill-1m; then
	log=$(gotest backfill-1m BENCH=1 "BACKFILL_INDICATORS=${BACKFILL_1M_INDICATORS:-1000000}" -- -timeout 90m -run TestBackfillPeakRSS ./tests/chaos/)
	row "first-run backfill of 1 000 000 indicators: peak RSS (target < 1 GB), CPU per indicator" "$(logline "$log" '^BACKFILL ' | sed 's/^BACKFILL //')" "tests/chaos TestBackfillPeakRSS"
fi

if want chaos; then
	chaos_test=TestChaosShort
	[[ -n "${CHAOS_LONG:-}" ]] && chaos_test=TestChaosLong
	log=$(gotest chaos "CHAOS_LONG=${CHAOS_LONG:-}" -- -timeout 90m -run "$chaos_test" ./tests/chaos/)
	row "recovery after SIGKILL (restart → ready, restart → first write), under faults" "$(logline "$log" '^CHAOS ' | sed 's/^CHAOS //')" "tests/chaos $chaos_test"
fi

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo); $(go version | cut -d' ' -f3-); $(date -u +%Y-%m-%d)"
echo
echo "| figure | measured | source |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Raw logs: $LOG_DIR"
