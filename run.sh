#!/bin/sh
# Installs what is missing, builds chatd and starts it with etc/chatd.conf (port
# 8000 unless given). Extra arguments go to chatd (e.g. ./run.sh -p 9000).
set -eu
cd "$(dirname "$0")"
scripts/install-deps build
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"
# chatd itself says where to open it once it listens ("listening on port N:
# open http://..."), and exits with a clear message when the port is taken.
echo "run.sh: starting chatd (Ctrl-C stops it)"
exec ./chatd -c etc/chatd.conf "$@"
