# need_apt COMMAND PACKAGE: installs PACKAGE with apt-get when COMMAND is not on PATH.
# Runs `apt-get update` at most once per shell (as root, or through sudo when available).
need_apt() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "bench: installing $2 (apt) for $1" >&2
  if [ -z "${_BENCH_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >&2
    _BENCH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >&2
  command -v "$1" >/dev/null 2>&1
}
