#!/usr/bin/env bash
# Install the Debian packages a make target needs, and only those that are missing,
# so a second run touches nothing and needs no network.
#   scripts/system-deps.sh test    MariaDB server, Chromium + ChromeDriver, CJK fonts (the test suite)
#   scripts/system-deps.sh demo    MariaDB server, unless DATABASE_URL points elsewhere
#   scripts/system-deps.sh bench   wrk, libev (to build bjoern), a C compiler
#   scripts/system-deps.sh cluster MariaDB server, nginx (python -m scripts.cluster: app hosts behind nginx)
set -euo pipefail

want=()
have_cmd() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
need() { have_cmd "$1" || want+=("$2"); }
need_mariadb() { have_cmd mariadbd || have_cmd mysqld || want+=(mariadb-server); }

python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || want+=(python3-venv)

case "${1:-}" in
  test)  need_mariadb; need nginx nginx; need chromium chromium; need chromedriver chromium-driver
         # CJK glyphs for the browser test's screenshots (without them Chinese renders as boxes).
         { have_cmd fc-list && fc-list :lang=zh 2>/dev/null | grep -q .; } || want+=(fonts-noto-cjk) ;;
  demo)  [ -n "${DATABASE_URL:-}" ] || need_mariadb ;;
  cluster) need_mariadb; need nginx nginx ;;
  bench) need wrk wrk; need taskset util-linux; need cc gcc
         [ -e /usr/include/ev.h ] || want+=(libev-dev)
         python3 -c 'import sysconfig,os,sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"]+"/Python.h"))' \
           || want+=(python3-dev) ;;
  *) echo "usage: $0 test|demo|bench|cluster" >&2; exit 2 ;;
esac

[ ${#want[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${want[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages: ${want[*]}. Run as root, or install them with: sudo apt-get install ${want[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
