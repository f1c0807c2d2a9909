#!/bin/bash
# tests/cli/companions.sh: --mask, --weights, --by, --with, corr and cov against numpy
# (tests/cli/companions.py), at 1-4 ranks, both schedules and I/O modes.
. "$top_srcdir/tests/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian's python3 (the one with numpy, h5py and netCDF4), not another on PATH.
WORKDIR=$work timeout -k 5 1200 /usr/bin/python3 "$top_srcdir/tests/cli/companions.py"
