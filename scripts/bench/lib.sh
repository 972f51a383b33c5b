# lib.sh: what the bench scripts share (sourced, not run).

# install_missing PKG...: apt-get install the Debian packages named (none:
# nothing), quietly, with an index update only when the first try fails;
# as root or through sudo. Needs a log function.
install_missing() {
  [ $# -gt 0 ] || return 0
  log "installing $* (apt)"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null ||
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null; }
}
