#!/bin/sh
# Installs what is missing, builds chatd and starts it on http://localhost:8000
# with etc/chatd.conf. Extra arguments go to chatd (e.g. ./run.sh -p 9000).
set -eu
cd "$(dirname "$0")"
scripts/install-deps build
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"
echo "chatd: open http://localhost:8000 (Ctrl-C stops it)"
exec ./chatd -c etc/chatd.conf "$@"
