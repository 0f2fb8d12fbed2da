#!/usr/bin/env bash
# Runs the benchmark workloads of issue 7 side by side against Samsa, kfake
# (franz-go's in-memory fake broker) and a null broker that acknowledges
# without storing (the load generator's ceiling), measures the machine's own
# limits (disk append with and without fsync, page cache fill, loopback TCP
# with sendfile) in the same run, and prints a markdown table with the
# figures and the ratios Samsa/kfake and Samsa/limit. The table also goes
# to bench/results/latest.md, the raw JSON summaries to bench/results/latest/.
#
#   bench/run.sh            quick: each workload runs BENCH_SECONDS (default 4s),
#                           about 4 minutes in all on 2 cores
#   bench/run.sh --long     30s per workload, plus 20 GiB through 100 partitions
#                           (Samsa's peak RSS)
#
# Environment:
#   BENCH_SECONDS   seconds per workload (overrides --long)
#   BENCH_DATA_DIR  where the brokers' data and the disk test go (default $TMPDIR or /tmp)
#   BENCH_TARGETS   which brokers to run (default "samsa kfake null")
#   BENCH_ONLY      run only workloads whose label matches this regexp
#   BENCH_KFAKE_MAX_BYTES  payload bytes one kfake produce run may send (default 3e9;
#                   kfake holds all of it in memory)
#   BENCH_OUT       where latest.md and latest/ go (default bench/results)
#   BENCH_REV       the commit to name in the header (for a tree exported with git archive)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

secs=4
disk_secs=3
long=no
if [[ "${1:-}" == "--long" ]]; then
	secs=30
	disk_secs=10
	long=yes
elif [[ -n "${1:-}" ]]; then
	echo "usage: $0 [--long]" >&2
	exit 2
fi
secs=${BENCH_SECONDS:-$secs}
data=${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}
targets=${BENCH_TARGETS:-samsa kfake null}
only=${BENCH_ONLY:-.}
kfake_max_bytes=${BENCH_KFAKE_MAX_BYTES:-3000000000}

bin=bench/bin
mkdir -p "$bin"
echo "== building" >&2
go build -o "$bin/samsa" ./cmd/samsa &&
	go build -o "$bin/kfakebroker" ./bench/kfakebroker &&
	go build -o "$bin/nullbroker" ./bench/nullbroker || exit 1
samsa=$bin/samsa

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN{exit !(l > n/2)}'; then
	echo "warning: load average $load_before on $(nproc) cores: other work will distort the figures" >&2
fi

results=${BENCH_OUT:-bench/results}
out=$results/latest
rm -rf "$out"
mkdir -p "$out"

echo "== machine limits" >&2
# The fill pass writes as long as a produce workload, with every core: the
# page cache a broker fills in that time mostly lands in memory not touched
# lately, which on some virtual machines costs far more than the page cache
# pass's 1 GiB (see bench/README.md).
"$samsa" bench disk --json --label limit --dir "$data" --duration "${disk_secs}s" \
	--fill-writers "$(nproc)" --fill-duration "${secs}s" >"$out/limit.disk.json"
"$samsa" bench loopback --json --label limit --dir "$data" --duration "${disk_secs}s" >"$out/limit.loopback.json"

# broker_flags TARGET FSYNC: the flags that make the bench start TARGET.
broker_flags() {
	case "$1" in
	samsa) echo "--start-broker --data-dir $data --fsync=$2" ;;
	kfake) echo "--start-broker --broker-cmd '$bin/kfakebroker -port {port}'" ;;
	null) echo "--start-broker --broker-cmd '$bin/nullbroker -port {port}'" ;;
	esac
}

# run LABEL[.VARIANT] TARGET KIND ARGS...: one bench run, its JSON in
# $out/LABEL.TARGET[.VARIANT].json (the report tells raw runs by the summary's
# workload.raw, and by a .raw file name when a run left no summary).
run() {
	local name=$1 target=$2 kind=$3
	shift 3
	local label=${name%%.*}
	local variant=${name#"$label"}
	[[ " $targets " == *" $target "* ]] || return 0
	[[ "$label" =~ $only ]] || return 0
	echo "== $label $target${variant:+ (${variant#.})}" >&2
	eval "\"$samsa\" bench $kind --json --label $label --target $target $*" >"$out/$label.$target$variant.json"
	local rc=$?
	[[ $rc == 0 ]] || echo "   $label $target$variant failed (exit $rc)" >&2
}

# produce_workload LABEL FSYNC CONSUME RECORD_SIZE ARGS...
produce_workload() {
	local label=$1 fsync=$2 consume=$3 size=$4
	shift 4
	for t in samsa kfake null; do
		local extra=""
		# The null broker stores nothing: there is nothing to read back.
		# CONSUME is no, yes (one consumer, then raw fetches) or group:N (a
		# consumer group of N members).
		if [[ $t != null ]]; then
			case $consume in
			yes) extra="--consume --consume-raw" ;;
			group:*) extra="--consume --group bench-readback --consumers ${consume#group:}" ;;
			esac
		fi
		# kfake keeps everything in memory, at about 2.5 times its size:
		# bound what it is given.
		[[ $t == kfake ]] && extra="$extra --records $((kfake_max_bytes / size))"
		run "$label" "$t" produce "$(broker_flags $t "$fsync")" --topic bench --duration "${secs}s" \
			--record-size "$size" $extra "$@"
	done
}

# raw_produce_workload LABEL FSYNC RECORD_SIZE ARGS...: the same workload with
# pre-built batches in plain Produce requests (--raw: the client costs almost
# nothing, so the figure is the broker's), no read-back.
raw_produce_workload() {
	local label=$1 fsync=$2 size=$3
	shift 3
	for t in samsa kfake null; do
		local extra=""
		[[ $t == kfake ]] && extra="--records $((kfake_max_bytes / size))"
		run "$label.raw" "$t" produce "$(broker_flags $t "$fsync")" --raw --topic bench --duration "${secs}s" \
			--record-size "$size" $extra "$@"
	done
}

# e2e_workload LABEL FSYNC RATE_FROM_LABEL RECORD_SIZE ARGS...: latency at
# half the rate Samsa reached in RATE_FROM_LABEL (kfake's if Samsa has no
# figure), the same rate for both brokers.
e2e_workload() {
	local label=$1 fsync=$2 from=$3 size=$4
	shift 4
	[[ "$label" =~ $only ]] || return 0
	local src=""
	for t in samsa kfake; do
		if grep -q '"records_per_sec"' "$out/$from.$t.json" 2>/dev/null; then
			src="$out/$from.$t.json"
			break
		fi
	done
	local rate="--rate 10000"
	[[ -n $src ]] && rate="--rate-from $src --rate-fraction 0.5"
	for t in samsa kfake; do
		local extra=""
		[[ $t == kfake ]] && extra="--records $((kfake_max_bytes / size))"
		run "$label" "$t" e2e "$(broker_flags $t "$fsync")" --topic bench --duration "${secs}s" $rate \
			--record-size "$size" $extra "$@"
	done
}

produce_workload 01-1k-8p-all-os false yes 1024 --partitions 8 --acks all --producers 1
raw_produce_workload 01-1k-8p-all-os false 1024 --partitions 8 --acks all --producers 1
produce_workload 02-1k-8p-all-fsync true no 1024 --partitions 8 --acks all --producers 4
produce_workload 03-100b-1p-acks1-os false yes 100 --partitions 1 --acks 1 --producers 1
raw_produce_workload 03-100b-1p-acks1-os false 100 --partitions 1 --acks 1 --producers 1
produce_workload 04-100b-16p-all-os false yes 100 --partitions 16 --acks all --producers 4
produce_workload 05-1k-16p-acks1-os false group:4 1024 --partitions 16 --acks 1 --producers 4
raw_produce_workload 05-1k-16p-acks1-os false 1024 --partitions 16 --acks 1 --producers 4
produce_workload 06-1k-1p-all-fsync true no 1024 --partitions 1 --acks all --producers 1
e2e_workload 07-e2e-1k-8p-os false 01-1k-8p-all-os 1024 --partitions 8 --acks all --producers 1
# The same with a consumer that reads the send times from raw fetches: less
# of the load generator's CPU on the 2 cores the broker shares.
e2e_workload 07b-e2e-raw-1k-8p-os false 01-1k-8p-all-os 1024 --partitions 8 --acks all --producers 1 --consume-raw
# Below the knee: a quarter of the maximum rate. At half of it the load
# generator's franz-go producer and consumer and the broker together fill
# 2 cores, so row 07 shows the machine saturating as much as the broker.
# The same rate with the load generator's raw producer as well: requests
# built from the records due whenever a request slot is free (one in
# flight), so that little of the 2 cores goes to the client.
e2e_workload 07d-e2e-rawprod-1k-8p-os false 01-1k-8p-all-os 1024 --partitions 8 --acks all --producers 1 --raw --consume-raw --max-inflight 1
e2e_workload 07c-e2e-quarter-1k-8p-os false 01-1k-8p-all-os 1024 --partitions 8 --acks all --producers 1 --rate-fraction 0.25
e2e_workload 08-e2e-1k-8p-fsync true 02-1k-8p-all-fsync 1024 --partitions 8 --acks all --producers 4
if [[ $long == yes ]]; then
	# Memory bound: 20 GiB through 100 partitions (Samsa only: kfake would
	# hold it all in memory).
	run 09-rss-100p-20gib samsa produce "$(broker_flags samsa false)" --topic bench \
		--records $((20 << 20)) --duration 600s --record-size 1024 --partitions 100 --acks all --producers 4
fi

{
	echo "# Samsa benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	if [[ -n "${BENCH_REV:-}" ]]; then
		echo "- commit $BENCH_REV"
	else
		echo "- commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- cmd internal 2>/dev/null || echo ' (with uncommitted changes)')"
	fi
	echo "- $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, kernel $(uname -r), $(go version | cut -d' ' -f3)"
	echo "- ${secs}s per workload, data in $data ($(df -T "$data" | awk 'NR==2{print $2}')); command: bench/run.sh $*"
	echo "- load average (1, 5, 15 min) before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- kfake and the null broker ignore fsync; the fsync-on rows compare Samsa with fsync to them without."
	echo
	"$samsa" bench report --dir "$out"
} | tee "$results/latest.md"
