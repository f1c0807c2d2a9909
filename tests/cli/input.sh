#!/bin/bash
# tests/cli/input.sh: several files, selections and CF conventions against numpy and
# python3-netCDF4 (tests/cli/input.py), at 1-4 ranks, both schedules and I/O modes.
. "$top_srcdir/tests/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian's python3 (the one with numpy, h5py and netCDF4), not another on PATH.
WORKDIR=$work timeout -k 5 1200 /usr/bin/python3 "$top_srcdir/tests/cli/input.py"
