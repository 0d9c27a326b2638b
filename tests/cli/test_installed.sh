#!/usr/bin/env bash
# An installed chipref needs no source tree: `cmake --install` puts the shipped configs, the demo's models
# and the reference RTL and adapters in <prefix>/share/chipref, and the program finds them beside its own
# bin/ (core/data_files.hpp), also after the whole prefix is moved elsewhere.
set -u
build=${1:?usage: test_installed.sh BUILD_DIR [PYTHON]}
python=${2:-}  # the interpreter the Python module was built for, when it was
failures=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL $*"; failures=$((failures+1)); }

cmake --install "$build" --prefix "$tmp/first" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
mv "$tmp/first" "$tmp/moved"  # relocated: nothing compiled into the program may point at the first prefix
prefix="$tmp/moved"
chipref="$prefix/bin/chipref"

for block in mulshift:mulshift_unit lut:lut_unit mac_array:mac_array mac_array_ws:mac_array_ws sparse:sparse_decoder mx_dot:mx_dot_unit; do
  name=${block%%:*} top=${block#*:}
  [ -f "$prefix/share/chipref/rtl_bridge/rtl/$top.sv" ] || fail "reference RTL of $name not installed"
  [ -f "$prefix/share/chipref/rtl_bridge/adapters/$name.yaml" ] || fail "adapter of $name not installed"
done
[ -f "$prefix/share/chipref/dpi/chipref_dpi.svh" ] || [ -f "$prefix/include/chipref/dpi/chipref_dpi.svh" ] ||
  fail "chipref_dpi.svh not installed"

# The demo's default config is the installed one, at the moved prefix.
"$chipref" demo --help >"$tmp/help" 2>&1 || fail "demo --help exited $?"
grep -qF "$prefix/share/chipref/configs/w8a8.yaml" "$tmp/help" || { fail "demo's default config is not the installed one"; grep -i config "$tmp/help"; }
# and the demo runs from the installed files alone (model, sidecar, config)
if "$chipref" demo --model cnn --limit 50 --vectors-dir "$tmp/vectors" >"$tmp/demo" 2>&1; then
  grep -q "PASS" "$tmp/demo" || fail "installed demo did not report PASS"
else
  fail "installed demo exited $?"; tail -5 "$tmp/demo"
fi
# CHIPREF_DATA_DIR overrides: a directory without the files makes the default config a missing file
CHIPREF_DATA_DIR="$tmp/nowhere" "$chipref" demo --help >"$tmp/help2" 2>&1
grep -qF "$tmp/nowhere/configs/w8a8.yaml" "$tmp/help2" || fail "CHIPREF_DATA_DIR is not used"

# The Python package, from the moved prefix alone: it imports, finds the installed configs and quantizes
# the installed example model.
if [ -n "$python" ]; then
  site=$(echo "$prefix"/lib/python3*/dist-packages)
  [ -f "$site/chipref/__init__.py" ] && [ -f "$site/chipref/_core.pyi" ] || fail "Python package not installed in $site"
  (cd "$tmp" && PYTHONPATH="$site" "$python" -c "
import numpy as np, os, chipref
share = os.path.realpath('$prefix/share/chipref')
assert os.environ['CHIPREF_DATA_DIR'] == share, os.environ.get('CHIPREF_DATA_DIR')
assert chipref.__file__.startswith('$site'), chipref.__file__
x = np.zeros((2, 1, 28, 28), np.float32)
g = chipref.quantize(share + '/examples/fmnist_cnn.onnx', config=share + '/configs/w8a8.yaml', calib=x)
print('python ok', g.run(x).shape)
" >"$tmp/python.log" 2>&1) || { fail "the installed Python package does not work"; cat "$tmp/python.log"; }
fi

[ "$failures" -eq 0 ] && echo "installed chipref: all checks passed"
exit $((failures > 0))
