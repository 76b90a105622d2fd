#!/bin/sh
# run.sh: builds native/test/shm_ring_test.cc with native/shm_ring.cc under AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs it. Any sanitizer report fails the run
# (halt_on_error, and UBSan made fatal). Used by `npm run test:native`.
set -eu
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/switchyard-shm-ring-test.$$"
trap 'rm -f "$out"' EXIT
${CXX:-g++} -std=c++17 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=all -pthread \
  native/shm_ring.cc native/test/shm_ring_test.cc -o "$out"
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$out"
