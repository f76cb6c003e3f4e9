# Sprout installer: the erase step (release --erase), sourced by /init from
# /etc/sprout/erase.sh. Wipes every disk: `blkdiscard` where the disk supports discard,
# and in every case zeroes its first and last 16 MiB — the MBR, the GPT and its backup
# at the end — since a discarded block need not read back as zeroes. Kept apart from
# /init so a test can run it against a fake /sys/block and file-backed "disks":
# SYS_BLOCK and DEV_DIR move /sys/block and /dev, BLKDISCARD replaces blkdiscard (busybox
# sh runs its own applets before anything in PATH).

SYS_BLOCK=${SYS_BLOCK:-/sys/block}
DEV_DIR=${DEV_DIR:-/dev}
BLKDISCARD=${BLKDISCARD:-blkdiscard}
# Zeroed at each end of a disk, in 512-byte sectors (16 MiB).
ERASE_EDGE_SECTORS=32768

# The machine's disks, by name (sda, vda, nvme0n1): no loop, RAM, optical, floppy, md or dm devices.
list_disks() {
  for d in "$SYS_BLOCK"/*; do
    [ -e "$d" ] || continue
    n="${d##*/}"
    case "$n" in loop*|ram*|zram*|sr*|fd*|md*|dm-*) continue ;; esac
    echo "$n"
  done
}

# zero_sectors DEVICE FIRST COUNT: COUNT zero sectors from sector FIRST, in place.
zero_sectors() {
  dd if=/dev/zero of="$1" bs=512 seek="$2" count="$3" conv=notrunc 2>"${TMPDIR:-/tmp}/erase.err"
}

# erase_disk NAME: wipes one disk; sets ERASE_METHOD and ERASE_BYTES, or fails with ERASE_ERROR.
erase_disk() {
  dev="$DEV_DIR/$1"
  sectors=$(cat "$SYS_BLOCK/$1/size" 2>/dev/null)
  case "$sectors" in ''|*[!0-9]*) ERASE_ERROR="$1: no size under $SYS_BLOCK/$1/size"; return 1 ;; esac
  ERASE_BYTES=$((sectors * 512))
  ERASE_METHOD=zero-ends
  discard=$(cat "$SYS_BLOCK/$1/queue/discard_max_bytes" 2>/dev/null || echo 0)
  if [ "${discard:-0}" != 0 ] && "$BLKDISCARD" "$dev" 2>"${TMPDIR:-/tmp}/erase.err"; then
    ERASE_METHOD=blkdiscard
  fi
  if [ "$sectors" -le $((2 * ERASE_EDGE_SECTORS)) ]; then
    zero_sectors "$dev" 0 "$sectors" || { ERASE_ERROR="$1: zeroing failed: $(tail -n 1 "${TMPDIR:-/tmp}/erase.err")"; return 1; }
  else
    zero_sectors "$dev" 0 "$ERASE_EDGE_SECTORS" || { ERASE_ERROR="$1: zeroing the first 16 MiB failed: $(tail -n 1 "${TMPDIR:-/tmp}/erase.err")"; return 1; }
    zero_sectors "$dev" $((sectors - ERASE_EDGE_SECTORS)) "$ERASE_EDGE_SECTORS" || { ERASE_ERROR="$1: zeroing the last 16 MiB failed: $(tail -n 1 "${TMPDIR:-/tmp}/erase.err")"; return 1; }
  fi
  sync
  blockdev --flushbufs "$dev" 2>/dev/null
  return 0
}

# erase_disks: wipes every disk. Sets ERASED (JSON array of {disk, bytes, method}) and
# ERASE_LINES (one line per disk, said by the caller); returns 1 with ERASE_ERROR on the first failure.
erase_disks() {
  ERASED=''
  ERASE_LINES=''
  for n in $(list_disks); do
    if [ "$(cat "$SYS_BLOCK/$n/ro" 2>/dev/null)" = 1 ]; then
      ERASE_LINES="$ERASE_LINES$n: read-only, left as it is
"
      continue
    fi
    erase_disk "$n" || return 1
    ERASED="$ERASED${ERASED:+,}{\"disk\":\"$n\",\"bytes\":$ERASE_BYTES,\"method\":\"$ERASE_METHOD\"}"
    ERASE_LINES="$ERASE_LINES$n: $ERASE_BYTES bytes wiped ($ERASE_METHOD; first and last 16 MiB zeroed)
"
  done
  [ -n "$ERASED" ] || { ERASE_ERROR="no disk to erase under $SYS_BLOCK"; return 1; }
  ERASED="[$ERASED]"
  return 0
}
