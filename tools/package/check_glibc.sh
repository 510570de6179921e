#!/usr/bin/env bash
# Fails when an ELF file (or an object inside a static archive) needs a glibc symbol version
# newer than MAX (default 2.17). Prints the highest GLIBC_ version of each file.
#   check_glibc.sh [--max 2.17] FILE...
set -euo pipefail
max=2.17
if [ "${1:-}" = --max ]; then max=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: check_glibc.sh [--max X.Y] FILE..." >&2; exit 2; }
status=0
for f in "$@"; do
  [ -f "$f" ] || { echo "FAIL $f: missing"; status=1; continue; }
  # Dynamic symbol versions for executables and shared objects; for an archive, the versioned
  # references its objects carry (none when glibc is referenced unversioned, as is usual).
  if [[ $f == *.a ]]; then
    versions=$(objdump -t "$f" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' || true)
  else
    versions=$(objdump -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' || true)
  fi
  highest=$(printf '%s\n' $versions | sed 's/^GLIBC_//' | sort -V | tail -1)
  if [ -z "$highest" ]; then
    echo "ok   $f: no versioned glibc symbols"
  elif [ "$(printf '%s\n%s\n' "$highest" "$max" | sort -V | tail -1)" != "$max" ]; then
    echo "FAIL $f: needs GLIBC_$highest (> $max):"
    objdump -T "$f" | grep "GLIBC_$highest" | sed 's/^/       /' | head -5
    status=1
  else
    echo "ok   $f: highest GLIBC_$highest (<= $max)"
  fi
done
exit $status
