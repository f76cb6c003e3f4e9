# Sprout installer: hardware tests a plugin defines as a script (`run: {kind: 'script'}`),
# sourced by /init from /etc/sprout/hwtest.sh. The metadata hands test number i of
# SPROUT_HWTESTS its script and timeout as SPROUT_HWTEST_SCRIPT_<i> and
# SPROUT_HWTEST_TIMEOUT_<i>; the script runs with `sh` in a session of its own under
# busybox `timeout`, is judged by its exit status (0 passed, anything else failed, the
# timeout failed "timed out after N s"), and the tail of its stdout and stderr is the
# result's output. Whatever it left running is killed with its session. Kept apart from
# /init so a test can run it with the installer's busybox.

# The output kept from a script: its last 2 KiB.
HWTEST_OUTPUT_BYTES=2048
# Seconds between the timeout's TERM and its KILL.
HWTEST_KILL_AFTER=5

# hwtest_script INDEX: prints the script of test number INDEX (from 1); fails if it has none.
hwtest_script() {
  eval "[ -n \"\${SPROUT_HWTEST_SCRIPT_$1+set}\" ] && printf '%s\n' \"\$SPROUT_HWTEST_SCRIPT_$1\""
}

# script_test INDEX: runs test number INDEX's script; sets STATUS and OUTPUT.
script_test() {
  dir="${TMPDIR:-/tmp}/hwtest.$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  hwtest_script "$1" > "$dir/script"
  eval "limit=\${SPROUT_HWTEST_TIMEOUT_$1:-600}"
  case "$limit" in ''|*[!0-9]*|0) limit=600 ;; esac
  began=$(date +%s)
  ( cd "$dir" && exec setsid timeout -k "$HWTEST_KILL_AFTER" "$limit" sh "$dir/script" < /dev/null > "$dir/output" 2>&1 ) &
  pid=$!
  wait "$pid"
  code=$?
  elapsed=$(($(date +%s) - began))
  # setsid made the script's shell a session (and process group) leader: end what it left behind.
  kill -KILL -"$pid" 2>/dev/null
  tail=$(tail -c "$HWTEST_OUTPUT_BYTES" "$dir/output")
  rm -rf "$dir"
  if [ "$code" = 0 ]; then
    STATUS=passed
    OUTPUT="$tail"
  elif [ "$elapsed" -ge "$limit" ] && { [ "$code" = 143 ] || [ "$code" = 137 ] || [ "$code" = 124 ]; }; then
    STATUS=failed
    OUTPUT="timed out after $limit s${tail:+; output: $tail}"
  else
    STATUS=failed
    OUTPUT="exit status $code${tail:+; output: $tail}"
  fi
}
