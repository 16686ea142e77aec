"""The committed C XID table must be exactly what `runner.xid` generates (the init container
compiles the committed copy with nothing but gcc, so drift would ship silently)."""

from __future__ import annotations

import re
import subprocess
import sys

from runner import shim
from runner import xid as xidcat


def test_committed_header_matches_the_catalogue() -> None:
    committed = (shim.source_dir() / shim.HEADER_NAME).read_text()
    assert committed == shim.gen_header(), "run `python -m runner.shim gen-header` and commit the result"


def test_header_rows_carry_every_xid_and_its_codes() -> None:
    rows = re.findall(r"^\s+\{(\d+), (\d+), \"(\w+)\", \"(\w+)\", (\d+),", shim.gen_header(), re.M)
    assert [int(r[0]) for r in rows] == xidcat.supported()
    for number, code, rt_name, drv_name, peer in rows:
        x = xidcat.CATALOGUE[int(number)]
        assert (int(code), rt_name, drv_name) == (x.error.code, x.error.runtime_name, x.error.driver_name)
        assert int(peer) == (x.peer_error.code if x.peer_error else 0)


def test_gen_header_check_mode_agrees() -> None:
    proc = subprocess.run([sys.executable, "-m", "runner.shim", "gen-header", "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_packaged_copy_equals_the_sources() -> None:
    """`runner/data/shim/` (a link to shim/src in a checkout) is what a wheel ships."""
    packaged = {p.name: p.read_text() for p in shim.PACKAGE_DATA.iterdir() if p.is_file()}
    assert packaged == shim.source_files()
