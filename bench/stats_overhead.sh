#!/usr/bin/env bash
# What the stats views cost: runs ../shared/tools/compare_anchors.py on ringfork alone,
# alternating rounds without and with `--admin` + `--control` and a client polling
# GET /stats every 250 ms, and prints requests/s and server CPU us per request for each.
# usage: bench/stats_overhead.sh [ROUNDS] [SHAPES]   (default 3 keepalive,pipeline)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shapes=${2:-keepalive,pipeline}
bin=$(pwd)/build/ringfork
tools=$(cd .. && pwd)/shared/tools
work=$(mktemp -d /tmp/rf-stats-overhead.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
admin_port=8186

# The poller only reads; it stops when the admin listener has been gone for a second.
cat >"$work/poll.py" <<EOF
import time, urllib.request
seen, misses = False, 0
while misses < 4 or not seen:
    try:
        urllib.request.urlopen("http://127.0.0.1:$admin_port/stats", timeout=1).read()
        seen, misses = True, 0
    except OSError:
        misses += 1
        if not seen and misses > 40:
            break
    time.sleep(0.25)
EOF

# Stand-in for build/ringfork: the same server with the stats views on. The poller is
# double-forked so it is not in the server's process tree (its CPU is the client's), yet
# stays in the process group that compare_anchors.py signals at the end of a run.
cat >"$work/ringfork-with-stats" <<EOF
#!/usr/bin/env bash
( taskset -c 1 python3 "$work/poll.py" </dev/null >/dev/null 2>&1 & )
exec "$bin" "\$@" --admin 127.0.0.1:$admin_port --control "$work/control.sock"
EOF
chmod +x "$work/ringfork-with-stats"

for ((r = 1; r <= rounds; r++)); do
    echo "round $r/$rounds (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    python3 "$tools/compare_anchors.py" --ringfork "$bin" --only ringfork --rounds 1 --shapes "$shapes" |
        awk '$1 == "ringfork" { print "plain", $0 }' | tee -a "$work/results" >&2
    python3 "$tools/compare_anchors.py" --ringfork "$work/ringfork-with-stats" --only ringfork --rounds 1 \
        --shapes "$shapes" | awk '$1 == "ringfork" { print "stats", $0 }' | tee -a "$work/results" >&2
done

python3 - "$work/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    # kind server conns pipe close req/s cpu_us/req conn/req ...
    rows.setdefault((f[2], f[3]), {}).setdefault(f[0], []).append((float(f[5]), float(f[6])))
print(f"{'conns':>5} {'pipe':>4} {'plain req/s':>12} {'stats req/s':>12} {'plain us/req':>13} {'stats us/req':>13} {'cpu delta':>9}")
for (conns, pipe), kinds in rows.items():
    p, s = kinds.get("plain", []), kinds.get("stats", [])
    if not p or not s:
        continue
    pr, sr = statistics.median(x[0] for x in p), statistics.median(x[0] for x in s)
    pc, sc = statistics.median(x[1] for x in p), statistics.median(x[1] for x in s)
    print(f"{conns:>5} {pipe:>4} {pr:12.0f} {sr:12.0f} {pc:13.2f} {sc:13.2f} {100 * (sc - pc) / pc:+8.1f}%")
EOF
