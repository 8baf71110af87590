#!/usr/bin/env bash
# Runs uv, installing the pinned version first when this machine has none.
# Every make target and script goes through here, so a fresh machine needs only Python 3.11.
set -euo pipefail
UV_VERSION=0.13.9
find_uv() {
  command -v uv 2>/dev/null && return
  for candidate in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/uv" \
                   "$(python3 -m site --user-base 2>/dev/null)/bin/uv" "$HOME/.local/bin/uv"; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  return 1
}
if ! uv_bin=$(find_uv); then
  echo "uv.sh: installing uv $UV_VERSION" >&2
  python3 -m pip install --quiet "uv==$UV_VERSION" >&2 \
    || python3 -m pip install --quiet --user "uv==$UV_VERSION" >&2 \
    || python3 -m pip install --quiet --user --break-system-packages "uv==$UV_VERSION" >&2
  uv_bin=$(find_uv)
fi
exec "$uv_bin" "$@"
