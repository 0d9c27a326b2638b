#!/usr/bin/env bash
# Outside ops/ (the op definitions and their registry), no source tells IntGraph ops apart by name: what
# an op is and does comes from its definition (ops/op_def.hpp). Fails, naming file and line, on
#   1. an op_type compared with a lower-case literal (IntGraph op names are lower case; the ONNX op
#      types that the importer and the lowering compare are CamelCase);
#   2. above quant/ (the floors that only see IntGraphs), an op_type looked up in a container or passed
#      to a function other than the registry's find_op_def;
#   3. a list of two or more IntGraph op names (the names ops/CMakeLists.txt lists), as the old
#      "is a MAC op" sets were; RTL block names ("mulshift", "lut" units) are block names, not ops.
# Creating an op by name (the lowering writes `op("conv_mac", ...)`) and printing one are not comparisons.
# Usage: op_names.sh SOURCE_DIR
set -euo pipefail
cd "$1"
sources() { find "${@:-.}" \( -path ./build -o -path ./.git -o -path ./.cache -o -path ./ops -o -path ./tests -o -name node_modules \) -prune -o -type f \( -name '*.cpp' -o -name '*.hpp' \) -print 2>/dev/null | sed 's#^\./##' | sort; }
names=$(sed -n '/^set(CHIPREF_INT_OPS/,/^)/p' ops/CMakeLists.txt | grep -oE '^[[:space:]]+[a-z_]+' | tr -d ' ' | paste -sd'|')
[[ -n $names ]] || { echo "op_names.sh: no op list in ops/CMakeLists.txt"; exit 2; }
found=0
report() {
  while IFS= read -r hit; do
    echo "$1: $hit"
    found=$((found + 1))
  done
}
report "compares an op name" < <(sources | xargs grep -nE 'op_type[[:space:]]*[!=]=[[:space:]]*"[a-z_]+"|"[a-z_]+"[[:space:]]*[!=]=[[:space:]]*[A-Za-z_.>-]*op_type' /dev/null || true)
upper=(sim analysis vectors rtl_bridge sweep cli bench fuzz)
report "looks an op up by name" < <(sources "${upper[@]/#/./}" | xargs grep -nE '(\.(count|find|contains|at)|std::find|[A-Za-z_]+)\([^()]*\bop_type\b' /dev/null | grep -vE 'find_op_def\(|fmt::|print|describe|push_back|emplace|op_type\.' || true)
report "lists op names" < <(sources | xargs grep -nE "\"($names)\"[[:space:]]*,[[:space:]]*\"($names)\"" /dev/null | grep -viE 'block|IsMember|Node [a-z_]+\{' || true)
if (( found > 0 )); then echo "$found place(s) outside ops/ tell IntGraph ops apart by name"; exit 1; fi
echo "op names: no source outside ops/ tells IntGraph ops apart by name ($(sources | wc -l) files)"
