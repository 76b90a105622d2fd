#!/bin/sh
# run.sh: the native code under AddressSanitizer + UBSan (`npm run test:native`). Any
# sanitizer report fails the run.
#  1. native/test/shm_ring_test.cc: the ring and its waiter thread between two processes,
#     without Node.
#  2. The addon itself, rebuilt with the sanitizers into a temporary directory, loaded by the
#     shm tests (conformance, shm, rendezvous, stress) and the fd-passing tests through
#     SWITCHYARD_ADDON, in this process and in every child it spawns (LD_PRELOAD is
#     inherited). Leak detection is off there: Node does not free everything at exit, by design.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sy-asan-XXXXXX")
trap 'rm -rf "$work"' EXIT
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

echo "== shm_ring_test (ASan+UBSan)"
${CXX:-g++} -std=c++17 -g -O1 -Wall -Wextra -Werror $SAN -pthread \
  native/shm_ring.cc native/test/shm_ring_test.cc -o "$work/shm_ring_test"
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$work/shm_ring_test"

echo "== the addon (ASan+UBSan) under the shm tests"
gyp="${npm_config_node_gyp:-}"
if [ -z "$gyp" ]; then
  echo "run.sh: run me through npm (npm run test:native): node-gyp is found through npm" >&2
  exit 2
fi
libasan=$(${CC:-gcc} -print-file-name=libasan.so)
mkdir -p "$work/addon"
cp -r binding.gyp native "$work/addon/"
ln -s "$root/node_modules" "$work/addon/node_modules"
(cd "$work/addon" && CXXFLAGS="$SAN -g" LDFLAGS="$SAN" node "$gyp" rebuild >"$work/gyp.log" 2>&1) || { cat "$work/gyp.log"; exit 1; }
npx tsc -p tsconfig.json
LD_PRELOAD="$libasan" ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  SWITCHYARD_ADDON="$work/addon/build/Release/switchyard.node" \
  node node_modules/mocha/bin/mocha.js --grep "shm|native fd passing"
