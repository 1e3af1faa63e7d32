#!/usr/bin/env bash
# Run a C "oracle" under a real Linux kernel on an emulated CPU with PKU
# (QEMU TCG, -cpu max), even when the host CPU has no protection keys.
#
# usage: run-oracle.sh ORACLE.c SCRIPT.txt
#   stdout: only the oracle's stdout (what it printed between the markers, \r removed)
#   stderr: guest kernel release, whether the guest CPU has pku+ospke, oracle stderr
#   exit:   the oracle's exit status; 124 if the guest timed out / gave no end marker;
#           3 if the guest CPU lacks pku or ospke (output is still printed)
#
# env:
#   PKU_QEMU_CACHE    cache dir for the kernel (default ${XDG_CACHE_HOME:-~/.cache}/pku-qemu)
#   PKU_QEMU_KERNEL   use this bzImage instead of downloading Debian's
#   PKU_QEMU_TIMEOUT  seconds before qemu is killed (default 300)
#   PKU_QEMU_CPU      qemu -cpu value (default max)
#   PKU_QEMU_KEEP=1   keep the temp work dir (console log etc.) and print its path
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'pku-qemu: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

[ $# -eq 2 ] || die "usage: $0 ORACLE.c SCRIPT.txt"
src=$1 script=$2
[ -f "$src" ] || die "no such file: $src"
[ -f "$script" ] || die "no such file: $script"

cache=${PKU_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pku-qemu}
timeout_s=${PKU_QEMU_TIMEOUT:-300}
cpu=${PKU_QEMU_CPU:-max}

# --- host tools (Debian packages) -------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (apt-get install them)"
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi

# --- guest kernel: newest Debian cloud kernel (trixie > bookworm-backports > bookworm)
fetch_kernel() {
  local kdir=$cache/kernel apt_dir=$cache/apt
  mkdir -p "$kdir" "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  local -a suites=("trixie" "bookworm-backports" "bookworm")
  local suite pkg deb
  for suite in "${suites[@]}"; do
    printf 'deb http://deb.debian.org/debian %s main\n' "$suite" >"$apt_dir/sources.list"
    local -a A=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
      -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Sandbox::User=root")
    apt-get "${A[@]}" update >/dev/null 2>&1 || { log "apt: $suite not reachable"; continue; }
    pkg=$(apt-cache "${A[@]}" depends linux-image-cloud-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\).*/\1/p' | head -n1)
    [ -n "$pkg" ] || { log "apt: no cloud kernel in $suite"; continue; }
    log "downloading $pkg from $suite"
    (cd "$apt_dir/archives" && apt-get "${A[@]}" download "$pkg" >/dev/null 2>&1) || continue
    deb=$(ls -t "$apt_dir/archives/${pkg}"_*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || continue
    rm -rf "$kdir/x" && mkdir -p "$kdir/x"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir/x" --wildcards './boot/vmlinuz-*'
    mv "$kdir"/x/boot/vmlinuz-* "$kdir/vmlinuz" && rm -rf "$kdir/x" "$deb"
    echo "$pkg ($suite)" >"$kdir/version"
    return 0
  done
  return 1
}

if [ -n "${PKU_QEMU_KERNEL:-}" ]; then
  kernel=$PKU_QEMU_KERNEL
else
  kernel=$cache/kernel/vmlinuz
  if [ ! -f "$kernel" ]; then
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9
    [ -f "$kernel" ] || fetch_kernel || die "could not fetch a Debian kernel"
    exec 9>&-
  fi
fi

# --- build initramfs ----------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/pku-qemu.XXXXXX")
cleanup() { if [ "${PKU_QEMU_KEEP:-}" = 1 ]; then log "work dir kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

root=$work/root
mkdir -p "$root"
gcc -static -O1 -o "$root/oracle" "$src" || die "compiling $src failed"
gcc -static -O1 -o "$root/init" "$here/init.c" || die "compiling init.c failed"
cp "$script" "$root/script.txt"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) | gzip -1 >"$work/initrd.gz"

# --- boot ---------------------------------------------------------------------
: >"$work/out" ; : >"$work/err" ; : >"$work/console"
rc=0
timeout -k 5 "$timeout_s" qemu-system-x86_64 \
  -accel tcg -cpu "$cpu" -smp 1 -m 512M \
  -nodefaults -nographic -no-reboot -monitor none \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off" \
  -serial "file:$work/console" -serial "file:$work/out" -serial "file:$work/err" \
  </dev/null >"$work/qemu.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || log "qemu exited with status $rc$( [ $rc -eq 124 ] && echo ' (timeout)')"

tr -d '\r' <"$work/console" >"$work/console.txt"
rel=$(sed -n 's/^===PKU-QEMU-UNAME=== //p' "$work/console.txt" | head -n1)
cpuflags=$(sed -n 's/^===PKU-QEMU-CPU=== //p' "$work/console.txt" | head -n1)
status=$(sed -n 's/^===PKU-QEMU-STATUS=== //p' "$work/console.txt" | head -n1)
log "guest kernel: ${rel:-unknown}"
log "guest cpu: ${cpuflags:-unknown} (-cpu $cpu)"

if [ -s "$work/err" ]; then
  tr -d '\r' <"$work/err" | sed 's/^/oracle stderr: /' >&2
fi

tr -d '\r' <"$work/out" | awk '
  /^===ORACLE-END===$/ { if (on) { done = 1; on = 0 } ; next }
  on { print }
  /^===ORACLE-BEGIN===$/ { on = 1 }
  END { exit done ? 0 : 1 }' >"$work/oracle.txt" || {
  log "no ===ORACLE-END=== marker; partial oracle output:"
  sed 's/^/partial: /' "$work/oracle.txt" >&2
  log "console tail:"
  tail -n 30 "$work/console.txt" >&2
  [ -s "$work/qemu.log" ] && cat "$work/qemu.log" >&2
  exit 124
}

cat "$work/oracle.txt"
log "oracle ${status:-status unknown}"
case "$cpuflags" in
  *"pku=1 ospke=1"*) ;;
  *) log "WARNING: guest CPU lacks pku/ospke"; exit 3 ;;
esac
case "$status" in
  exit=*) exit "${status#exit=}" ;;
  signal=*) exit $((128 + ${status#signal=})) ;;
  *) exit 1 ;;
esac
