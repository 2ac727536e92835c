#!/usr/bin/env bash
# Side-by-side benchmark: installs the anchors (nginx, h2o, Node, wrk), builds ringfork,
# runs ../shared/tools/compare_anchors.py with it, then the memory benchmark.
# Extra arguments go to compare_anchors.py (e.g. --rounds 5 --shapes pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
python3 ../shared/tools/compare_anchors.py --ringfork build/ringfork "$@"
python3 bench/memory.py --ringfork build/ringfork
