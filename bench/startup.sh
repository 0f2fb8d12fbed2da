#!/usr/bin/env bash
# Start-up time of a broker holding many partitions (issue 7: 1,000
# partitions and 10 GiB, under 1 s after a clean shutdown; after SIGKILL,
# recovery proportional to the unflushed tail, not to the total data).
#
# For each binary it fills a fresh data directory with PARTITIONS partitions
# and SIZE_MIB of 1 KiB records through `samsa bench produce`, flushing left
# to the OS, and times restarts:
#   kill-after-fill-checkpointed  SIGKILL once the checkpoint (every
#                     CHECKPOINT_MS) caught up with the fill (catch_up); the broker never
#                     shut down cleanly, so there is no producer-state
#                     snapshot (this data directory is then deleted)
#   kill-after-fill   a second fill into a fresh directory with the periodic
#                     checkpoint off, SIGKILL right after it: nothing was
#                     ever recorded as flushed, so all the data is the
#                     unflushed tail (the worst case)
#   clean             SIGTERM, start (median of CLEAN_RUNS)
#   kill-small-tail   clean start, TAIL_MIB more, SIGKILL, start
#   kill-big-tail     clean start, BIG_TAIL_MIB more with the checkpoint off
#                     (log.flush.offset.checkpoint.interval.ms=0), SIGKILL
#                     right away, start
#   kill-after-checkpoint  the same with the checkpoint every CHECKPOINT_MS,
#                     SIGKILL once it caught up with the tail
# "ready" is the wall time from spawning `samsa serve` to its "samsa started"
# line (it then answers requests); "log load" is the broker's own figure
# ("log loaded ... took="); "scanned" sums the "recovered log" lines
# (brokers that do not log them show n/a). The data stays in the page cache
# (the machine's memory is larger than the data), as after a process crash;
# dirty pages are written out (sync) before each timed start so that the
# kernel's writeback of the fill does not compete with it.
#
#   bench/startup.sh                       build this checkout and measure it
#   BINS="before=/tmp/old/samsa after=/tmp/new/samsa" bench/startup.sh
#                                          compare binaries, one column each
#
# Environment (defaults in brackets):
#   PARTITIONS [1000]  SIZE_MIB [10240]  TAIL_MIB [64]  BIG_TAIL_MIB [1024]
#   CHECKPOINT_MS [1000]  CLEAN_RUNS [3]  RECOVERY_RUNS [3]  PRODUCERS [4]
#   BINS         label=path pairs [this=<built from this checkout>]
#   DATA_PARENT  where the data directories go [${TMPDIR:-/tmp}]
#   OUT          the markdown table [bench/results/startup.md]
#   KEEP_DATA=1  keep the data directories and broker logs
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

partitions=${PARTITIONS:-1000}
size_mib=${SIZE_MIB:-10240}
tail_mib=${TAIL_MIB:-64}
big_tail_mib=${BIG_TAIL_MIB:-1024}
checkpoint_ms=${CHECKPOINT_MS:-1000}
clean_runs=${CLEAN_RUNS:-3}
recovery_runs=${RECOVERY_RUNS:-3}
producers=${PRODUCERS:-4}
data_parent=${DATA_PARENT:-${TMPDIR:-/tmp}}
out=${OUT:-bench/results/startup.md}
topic=startup
os_flush=log.flush.interval.messages=9223372036854775807

work=$(mktemp -d "$data_parent/samsa-startup-XXXXXX")
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ "${KEEP_DATA:-0}" == 1 ]]; then
		echo "data and logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

bins=${BINS:-}
if [[ -z "$bins" ]]; then
	echo "== building" >&2
	go build -o "$work/samsa" ./cmd/samsa
	bins="this=$work/samsa"
fi

need_mib=$((size_mib + 2 * big_tail_mib + tail_mib)) # one data directory at a time
need_mib=$((need_mib + need_mib / 5)) # record and batch overhead, indexes
avail_mib=$(df -Pm "$data_parent" | awk 'NR==2 {print $4}')
if ((avail_mib < need_mib)); then
	echo "need about $need_mib MiB free in $data_parent, have $avail_mib" >&2
	exit 1
fi

log() { echo "== $*" >&2; }

# to_ms converts a Go duration (1.234s, 197ms, 850µs, 1m2.5s) to ms.
to_ms() {
	awk -v d="$1" 'BEGIN {
		total = 0
		while (match(d, /^[0-9.]+(h|m|s|ms|µs|us|ns)/)) {
			tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			match(tok, /[0-9.]+/); v = substr(tok, 1, RLENGTH); u = substr(tok, RLENGTH + 1)
			if (u == "h") v *= 3600000; else if (u == "m") v *= 60000; else if (u == "s") v *= 1000
			else if (u == "µs" || u == "us") v /= 1000; else if (u == "ns") v /= 1000000
			total += v
		}
		printf "%.0f", total
	}'
}

# start BIN DIR LOG CHECKPOINT: runs the broker and waits for "samsa
# started"; sets pid, port and ready_ms.
start() {
	local bin=$1 dir=$2 logf=$3 cp=$4
	: >"$logf"
	local t0
	t0=$(date +%s%N)
	"$bin" serve --override listeners=PLAINTEXT://127.0.0.1:0 --override "log.dirs=$dir" \
		--override "$os_flush" --override "log.flush.offset.checkpoint.interval.ms=$cp" \
		--override "num.partitions=$partitions" 2>"$logf" &
	pid=$!
	until grep -q 'msg="samsa started"' "$logf"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "broker exited during start-up:" >&2
			tail -20 "$logf" >&2
			exit 1
		fi
		sleep 0.002
	done
	ready_ms=$((($(date +%s%N) - t0) / 1000000))
	port=$(grep -m1 'msg="samsa started"' "$logf" | sed -E 's/.* listener=127\.0\.0\.1:([0-9]+).*/\1/')
}

stop_term() {
	kill -TERM "$pid"
	wait "$pid" || { echo "broker exited with status $? after SIGTERM" >&2; exit 1; }
	pid=""
}

stop_kill() {
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
}

# produce MIB: MIB of 1 KiB records spread over the topic's partitions.
produce() {
	"$bin" bench produce --bootstrap-server "127.0.0.1:$port" --topic "$topic" --partitions "$partitions" \
		--record-size 1024 --records $(($1 * 1024)) --producers "$producers" --acks all -q >/dev/null
}

# loaded LOG: the broker's "log loaded ... took=" in ms; scanned LOG: the sum
# of scanned_bytes over "recovered log" lines in MiB, or n/a.
loaded() { to_ms "$(grep -m1 'msg="log loaded"' "$1" | sed -E 's/.* took=([^ ]+).*/\1/')"; }
scanned() {
	if [[ "$has_recovered_lines" != yes ]]; then
		echo "n/a"
		return
	fi
	{ grep 'msg="recovered log"' "$1" || true; } | sed -E 's/.* scanned_bytes=([0-9]+).*/\1/' |
		awk '{s += $1} END {printf "%.0f MiB", s / 1048576}'
}

# catch_up S: lets the periodic checkpoint catch up with the data written:
# writes all dirty data (a checkpoint fsyncs a partition only as fast as
# the disk takes it, so right after a fast fill it lags behind), then waits
# until no recovery point has been rewritten for S seconds (a round finding
# every partition covered writes nothing; one round over 1,000 partitions
# with new data takes seconds, as it fsyncs each partition's files). A
# broker without the checkpoint just waits S seconds.
catch_up() {
	sync
	local t0=$SECONDS
	if [[ "$has_recovered_lines" == yes ]]; then
		while true; do
			local newest now
			newest=$(find "$dir" -name recovery-point -printf '%T@\n' | sort -n | tail -1)
			now=$(date +%s.%N)
			if awk -v a="$now" -v b="${newest:-0}" -v q="$1" 'BEGIN {exit !(a - b > q)}'; then
				break
			fi
			if ((SECONDS - t0 > 300)); then
				log "the checkpoint did not catch up within 300 s"
				break
			fi
			sleep 0.2
		done
	else
		sleep "$1"
	fi
	log "$label: waited $((SECONDS - t0)) s for the checkpoint"
}

# timed NAME BETWEEN LAST: RUNS timed starts (checkpoint off), each but the
# last ended by BETWEEN, the last by LAST; the cell is the median run by
# ready time. Recovery runs are repeated with SIGKILL between them: with
# nothing appended nothing is flushed or recorded, so each run redoes the
# same recovery.
timed() {
	local name=$1 between=$2 last=$3 runs=$recovery_runs results=() i
	if [[ "$name" == clean ]]; then runs=$clean_runs; fi
	for i in $(seq "$runs"); do
		sync # the kernel's writeback of earlier runs must not compete with this one
		start "$bin" "$dir" "$logs/$name-$i.log" 0
		results+=("$ready_ms|$(loaded "$logs/$name-$i.log")|$(scanned "$logs/$name-$i.log")")
		if ((i < runs)); then $between; else $last; fi
	done
	cell[$label,$name]=$(printf '%s\n' "${results[@]}" | sort -t'|' -k1,1n | sed -n "$(((runs + 1) / 2))p")
	log "$label: $name: ${cell[$label,$name]} (runs: ${results[*]})"
}

# run_tail NAME MIB CHECKPOINT_MS WAIT_S: clean start, MIB more records,
# wait, SIGKILL, timed starts, SIGTERM.
run_tail() {
	start "$bin" "$dir" "$logs/$1-before.log" "$3"
	produce "$2"
	if (($4 > 0)); then catch_up "$4"; fi
	stop_kill
	timed "$1" stop_kill stop_term
}

# fill CHECKPOINT_MS: starts the broker on an empty directory and produces
# SIZE_MIB; sets data_bytes.
fill() {
	log "$label: filling $size_mib MiB into $partitions partitions"
	start "$bin" "$dir" "$logs/fill.log" "$1"
	local t0
	t0=$(date +%s)
	produce "$size_mib"
	data_bytes=$(du -sb "$dir" | cut -f1)
	log "$label: filled $((data_bytes / 1048576)) MiB in $(($(date +%s) - t0)) s"
}

declare -A cell
labels=()
scenarios=(kill-after-fill kill-after-fill-checkpointed clean kill-small-tail kill-big-tail kill-after-checkpoint)
for pair in $bins; do
	label=${pair%%=*}
	bin=${pair#*=}
	labels+=("$label")
	dir=$work/data-$label
	logs=$work/logs-$label
	mkdir -p "$dir" "$logs"
	# Brokers that log "recovered log" lines log none when nothing was
	# scanned; older ones do not say.
	has_recovered_lines=no
	if grep -q 'recovered log' "$bin"; then
		has_recovered_lines=yes
	fi

	# kill-after-fill-checkpointed: recorded recently, never shut down.
	fill "$checkpoint_ms"
	catch_up $((3 * checkpoint_ms / 1000 + 1))
	stop_kill
	timed kill-after-fill-checkpointed stop_kill stop_kill
	rm -rf "$dir"
	mkdir -p "$dir"

	# kill-after-fill: nothing recorded as flushed since the start.
	fill 0
	cell[$label,data]=$(awk -v b="$data_bytes" 'BEGIN {printf "%.1f GiB", b / 1073741824}')
	stop_kill
	timed kill-after-fill stop_kill stop_term
	timed clean stop_term stop_term
	run_tail kill-small-tail "$tail_mib" 0 0
	run_tail kill-big-tail "$big_tail_mib" 0 0
	run_tail kill-after-checkpoint "$big_tail_mib" "$checkpoint_ms" $((3 * checkpoint_ms / 1000 + 1))
	if [[ "${KEEP_DATA:-0}" != 1 ]]; then
		rm -rf "$dir"
	fi
done

describe() {
	case $1 in
	kill-after-fill) echo "SIGKILL right after the fill (checkpoint off: all data unflushed)" ;;
	kill-after-fill-checkpointed) echo "SIGKILL after the fill once the checkpoint (every $checkpoint_ms ms) caught up, no clean shutdown ever" ;;
	clean) echo "clean shutdown" ;;
	kill-small-tail) echo "clean start, $tail_mib MiB more, SIGKILL" ;;
	kill-big-tail) echo "clean start, $big_tail_mib MiB more, SIGKILL at once (checkpoint off)" ;;
	kill-after-checkpoint) echo "clean start, $big_tail_mib MiB more, SIGKILL once the checkpoint (every $checkpoint_ms ms) caught up" ;;
	esac
}

{
	echo "# Start-up time, $partitions partitions"
	echo
	echo "\`bench/startup.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), data in the page cache."
	echo "Each cell: ready (spawn to serving) / the broker's log load time / bytes recovery scanned;"
	echo "median of $clean_runs clean and $recovery_runs recovery starts (recovery repeated by SIGKILL with nothing appended)."
	echo "Data after the fill:$(for l in "${labels[@]}"; do printf ' %s %s;' "$l" "${cell[$l,data]}"; done)"
	echo
	printf '| restart after |'
	for l in "${labels[@]}"; do printf ' %s |' "$l"; done
	echo
	printf '|---|'
	for _ in "${labels[@]}"; do printf -- '---:|'; done
	echo
	for s in "${scenarios[@]}"; do
		printf '| %s |' "$(describe "$s")"
		for l in "${labels[@]}"; do
			IFS='|' read -r r ld sc <<<"${cell[$l,$s]}"
			printf ' %s ms / %s ms / %s |' "$r" "$ld" "$sc"
		done
		echo
	done
} | tee "$out.tmp"
mv "$out.tmp" "$out"
echo "written to $out" >&2
