# Sprout installer: writing the image of an install step, sourced by /init from
# /etc/sprout/image.sh (after erase.sh, whose erase_disk it reuses). deploy_image streams
# the image once: its format is read from its first bytes (raw, or gzip, xz or bzip2,
# decompressed on the way with busybox's own applets; qcow2 and zstd are refused before a
# byte is written, naming the conversion), the download is checked against the metadata's
# size and sha256, what reached the disk is read back and compared. A failed write or
# check leaves nothing bootable: the target's first and last 16 MiB (partition tables,
# boot loader, GPT backup) are zeroed, and the reason says so.
# Kept apart from /init so a test can run it with the installer's busybox against a
# file-backed disk: IMAGE_FETCH replaces the download command (it gets the URL as its
# last argument), DROP_CACHES the kernel's page-cache switch; erase.sh's SYS_BLOCK and
# DEV_DIR say where the disk's size and device are.

IMAGE_FETCH=${IMAGE_FETCH:-wget -q -O -}
DROP_CACHES=${DROP_CACHES:-/proc/sys/vm/drop_caches}

# image_format FILE: the format its first bytes announce: raw, qcow2, gzip, zstd, xz or bzip2.
image_format() {
  magic=$(od -An -tx1 -N6 "$1" | tr -d ' \n')
  case "$magic" in
    514649fb*) echo qcow2 ;;
    1f8b*) echo gzip ;;
    28b52ffd*) echo zstd ;;
    fd377a585a00) echo xz ;;
    425a68*) echo bzip2 ;;
    *) echo raw ;;
  esac
}

# image_decode DIR NAME: stdin is the image as served, stdout the bytes for the disk.
# Writes the format to DIR/format; a format it cannot write fails with DIR/decode.err.
image_decode() {
  dd bs=1 count=6 of="$1/magic" 2>/dev/null
  format=$(image_format "$1/magic")
  echo "$format" > "$1/format"
  case "$format" in
    raw) cat "$1/magic" - ;;
    gzip) cat "$1/magic" - | gunzip -c ;;
    xz) cat "$1/magic" - | xzcat ;;
    bzip2) cat "$1/magic" - | bzcat ;;
    qcow2) echo "image $2 is qcow2; convert it with qemu-img convert -O raw $2 ${2%.*}.raw" > "$1/decode.err"; return 1 ;;
    zstd) echo "image $2 is zstd-compressed, which this installer cannot decompress; store it raw, gzip- or xz-compressed (zstd -dc $2 | gzip > ${2%.*}.gz)" > "$1/decode.err"; return 1 ;;
  esac
}

# wipe_target DISK: zeroes the first and last 16 MiB of the device DISK; sets WIPED (what was done).
wipe_target() {
  if erase_disk "${1##*/}"; then
    WIPED="$1 wiped: its first and last 16 MiB zeroed, no partition table left to boot"
  else
    WIPED="wiping $1 failed too: $ERASE_ERROR"
    return 1
  fi
}

# image_failed DISK REASON: wipes DISK and fails with IMAGE_ERROR (the reason and the wipe).
image_failed() {
  wipe_target "$1"
  IMAGE_ERROR="$2; $WIPED"
  return 1
}

# deploy_image URL DISK: writes the image at URL to the device DISK and verifies it. Sets
# IMAGE_FORMAT, IMAGE_BYTES and IMAGE_SHA256 (the image as served), IMAGE_WRITTEN (bytes on
# the disk); fails with IMAGE_ERROR after wiping DISK.
deploy_image() {
  w="${TMPDIR:-/tmp}/image"
  name="${1%%\?*}"
  name="${name##*/}"
  rm -rf "$w"
  mkdir -p "$w"
  mkfifo "$w/in.count" "$w/in.sum" "$w/out.count" "$w/out.sum"
  wc -c < "$w/in.count" > "$w/in.bytes" &
  p1=$!
  sha256sum < "$w/in.sum" > "$w/in.sha256" &
  p2=$!
  wc -c < "$w/out.count" > "$w/out.bytes" &
  p3=$!
  sha256sum < "$w/out.sum" > "$w/out.sha256" &
  p4=$!
  { timeout 3600 $IMAGE_FETCH "$1" 2>"$w/fetch.err" || echo "$?" > "$w/fetch.failed"; } \
    | tee "$w/in.count" "$w/in.sum" 2>/dev/null \
    | { image_decode "$w" "$name" || echo "$?" > "$w/decode.failed"; } \
    | tee "$w/out.count" "$w/out.sum" 2>/dev/null \
    | { dd of="$2" bs=1048576 conv=notrunc 2>"$w/write.err" || echo "$?" > "$w/write.failed"; }
  wait "$p1" "$p2" "$p3" "$p4"
  IMAGE_FORMAT=$(cat "$w/format" 2>/dev/null)
  IMAGE_BYTES=$(cat "$w/in.bytes")
  IMAGE_SHA256=$(cut -d' ' -f1 "$w/in.sha256")
  IMAGE_WRITTEN=$(cat "$w/out.bytes")
  written_sum=$(cut -d' ' -f1 "$w/out.sha256")
  # A refused format first: the download it cut short fails too.
  [ -f "$w/decode.failed" ] && [ -s "$w/decode.err" ] && { image_failed "$2" "$(cat "$w/decode.err")"; return 1; }
  [ -f "$w/fetch.failed" ] && { image_failed "$2" "image download failed after $IMAGE_BYTES bytes: $1: $(tail -n 1 "$w/fetch.err")"; return 1; }
  [ -f "$w/decode.failed" ] && { image_failed "$2" "image $name ($IMAGE_FORMAT) could not be decompressed after $IMAGE_WRITTEN bytes"; return 1; }
  [ -f "$w/write.failed" ] && { image_failed "$2" "writing $2 failed after $IMAGE_WRITTEN bytes: $(tail -n 1 "$w/write.err")"; return 1; }
  if [ -n "$SPROUT_IMAGE_SIZE" ] && [ "$SPROUT_IMAGE_SIZE" != "$IMAGE_BYTES" ]; then
    image_failed "$2" "image size mismatch: expected $SPROUT_IMAGE_SIZE bytes, actual $IMAGE_BYTES"
    return 1
  fi
  if [ -n "$SPROUT_IMAGE_SHA256" ] && [ "$SPROUT_IMAGE_SHA256" != "$IMAGE_SHA256" ]; then
    image_failed "$2" "image checksum mismatch: expected sha256 $SPROUT_IMAGE_SHA256, actual $IMAGE_SHA256"
    return 1
  fi
  # Read back from the disk, not the page cache.
  sync
  blockdev --flushbufs "$2" 2>/dev/null
  echo 3 > "$DROP_CACHES" 2>/dev/null
  read_sum=$(head -c "$IMAGE_WRITTEN" "$2" | sha256sum | cut -d' ' -f1)
  if [ "$read_sum" != "$written_sum" ]; then
    image_failed "$2" "read-back checksum mismatch on $2: expected sha256 $written_sum, actual $read_sum"
    return 1
  fi
  rm -rf "$w"
  return 0
}
