#!/usr/bin/env bash
# The folders are floors (docs/architecture.md): a folder may use its own floor and the ones below it,
# never one above. Checks both what the sources include ("folder/file.hpp" between folders) and what
# the CMake targets link (a target belongs to the folder whose CMakeLists.txt adds it); prints every
# back-arrow with its file and line, and fails if there is one.
# Usage: layering.sh SOURCE_DIR
set -euo pipefail
cd "$1"
floors=(core numerics kernels model ops quant sim analysis vectors "rtl_bridge dpi" sweep "cli bench fuzz tests python")
declare -A floor_of
for i in "${!floors[@]}"; do for folder in ${floors[$i]}; do floor_of[$folder]=$i; done; done
arrows=0
# The project's own files (no build trees, caches or fetched packages), relative to SOURCE_DIR.
sources() { find . \( -path ./build -o -path ./.git -o -path ./.cache -o -name node_modules \) -prune -o -type f \( "$@" \) -print | sed 's#^\./##' | sort; }

# Includes: every "a/b.hpp" include whose first part is a floor's folder.
while IFS=: read -r file line text; do
  from=${file%%/*}
  to=$(sed -E 's/^[[:space:]]*#include "([^/"]+)\/.*/\1/' <<<"$text")
  [[ -n ${floor_of[$from]:-} && -n ${floor_of[$to]:-} ]] || continue
  if (( floor_of[$to] > floor_of[$from] )); then
    echo "back-arrow: $file:$line: $from (floor ${floor_of[$from]}) includes $to (floor ${floor_of[$to]})"
    arrows=$((arrows + 1))
  fi
done < <(sources -name '*.cpp' -o -name '*.hpp' -o -name '*.h' | xargs grep -nE '^[[:space:]]*#include "[^/"]+/' /dev/null)

# Links: the folder of each chipref_* target, then every target_link_libraries naming one.
declare -A folder_of
while IFS=: read -r file _ text; do
  target=$(sed -E 's/.*add_(library|executable)\(([A-Za-z0-9_]+).*/\2/' <<<"$text")
  folder_of[$target]=${file%%/*}
done < <(sources -name CMakeLists.txt | grep / | xargs grep -nE 'add_(library|executable)\((chipref_|test_|bench_|fuzz_)' /dev/null)
while IFS=: read -r file line text; do
  target=$(sed -E 's/.*target_link_libraries\(([A-Za-z0-9_]+).*/\1/' <<<"$text")
  from=${folder_of[$target]:-${file%%/*}}
  for dep in $(grep -oE 'chipref_[A-Za-z0-9_]+' <<<"${text#*"$target"}"); do
    to=${folder_of[$dep]:-}
    [[ -n $to && -n ${floor_of[$from]:-} && -n ${floor_of[$to]:-} ]] || continue
    if (( floor_of[$to] > floor_of[$from] )); then
      echo "back-arrow: $file:$line: $target ($from, floor ${floor_of[$from]}) links $dep ($to, floor ${floor_of[$to]})"
      arrows=$((arrows + 1))
    fi
  done
done < <(sources -name CMakeLists.txt | grep / | xargs grep -nE 'target_link_libraries\(' /dev/null)

if (( arrows > 0 )); then echo "$arrows back-arrow(s)"; exit 1; fi
echo "layering: no folder uses a floor above it (${#floor_of[@]} folders, ${#folder_of[@]} targets)"
