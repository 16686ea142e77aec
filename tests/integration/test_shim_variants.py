"""The shim's one table of driver variants (shim/src/driver_table.h) against NVIDIA's headers.

cudaTypedefs.h names every variant cuGetProcAddress hands out as PFN_<base>_v<version>[_ptds|
_ptsz]; cuda.h maps each base name to its newest exported symbol (`#define cuMemAlloc
cuMemAlloc_v2`, `__CUDA_API_PTDS(...)`) and declares the older ones. For every base name in the
table, the versions, stream flags, arity and exported names must be NVIDIA's, so a request is
wrapped as the function the driver really returned (a wrong version or flag would forward a call
with the wrong signature). The headers come with the nvidia-cuda-runtime-cu12 dev dependency.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.shim_support import SHIM, built

ROW = re.compile(r"\b([VW])\((C_\w+), (cu\w+), (\d+), ([01]), (cu\w+), ")


def _headers() -> Path | None:
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    if spec is None or not spec.submodule_search_locations:
        return None
    inc = Path(next(iter(spec.submodule_search_locations))) / "include"
    return inc if (inc / "cudaTypedefs.h").is_file() else None


HEADERS = _headers()
pytestmark = pytest.mark.skipif(HEADERS is None,
                                reason="nvidia-cuda-runtime-cu12 (a dev dependency) is not installed")


def _arity(params: str) -> int:
    params = params.strip()
    if params in ("", "void"):
        return 0
    depth, n = 0, 1
    for ch in params:
        depth += ch == "("
        depth -= ch == ")"
        n += ch == "," and depth == 0
    return n


def _balanced(text: str, i: int) -> str:
    """The parenthesised group starting at text[i] == "(", without its outer parentheses."""
    depth = 0
    for j in range(i, len(text)):
        depth += text[j] == "("
        depth -= text[j] == ")"
        if depth == 0:
            return text[i + 1:j]
    raise AssertionError("unbalanced parentheses in driver_table.h")


def table() -> dict[tuple[str, int, int], tuple[str, int]]:
    """(base, version, per_thread) -> (exported name, number of parameters)."""
    text = (SHIM / "src" / "driver_table.h").read_text().replace("\\\n", " ")
    macros = {m.group(1): _balanced(text, m.end() - 1)
              for m in re.finditer(r"#define (\w+_PARAMS)(?:\(T\))? \(", text)}
    rows = {}
    for m in ROW.finditer(text):
        _, _, base, ver, pt, name = m.groups()
        rest = text[m.end():]
        if rest.startswith("("):
            n = _arity(_balanced(rest, 0))
        else:
            word = re.match(r"\w+", rest)
            assert word is not None, rest[:40]
            n = _arity(macros[word.group(0)])
        rows[(base, int(ver), int(pt))] = (name, n)
    return rows


def typedefs() -> tuple[dict[tuple[str, int, int], int], int]:
    assert HEADERS is not None
    text = (HEADERS / "cudaTypedefs.h").read_text()
    pfn = r"typedef\s+CUresult\s+\(CUDAAPI\s+\*PFN_(cu\w+?)_v(\d+)(_ptds|_ptsz)?\)\s*\(([^;]*)\);"
    found = re.findall(pfn, text)
    defined = re.search(r"#define CUDA_VERSION (\d+)", (HEADERS / "cuda.h").read_text())
    assert defined is not None, "cuda.h defines no CUDA_VERSION"
    version = int(defined.group(1))
    return {(b, int(v), int(bool(pt))): _arity(" ".join(a.split())) for b, v, pt, a in found}, version


def cuda_h_names() -> tuple[dict[str, str], set[str]]:
    """cuda.h: base -> newest exported name (per-thread spelled out), and every name it declares."""
    assert HEADERS is not None
    text = (HEADERS / "cuda.h").read_text()
    newest: dict[str, str] = {}
    derived: set[str] = set()
    for base, target in re.findall(r"#define (cu\w+)\s+(\S+)", text):
        m = re.fullmatch(r"__CUDA_API_(PTDS|PTSZ)\((cu\w+)\)", target)
        if m:
            newest.setdefault(base, m.group(2))
            newest[base + "#pt"] = f"{m.group(2)}_{m.group(1).lower()}"
            derived |= {m.group(2), f"{m.group(2)}_{m.group(1).lower()}"}
        elif re.fullmatch(r"cu\w+", target):
            newest.setdefault(base, target)
            derived.add(target)
    declared = set(re.findall(r"CUresult CUDAAPI (cu\w+)\(", text)) | derived
    return newest, declared


def test_the_table_parses() -> None:
    rows = table()
    assert len(rows) > 200
    assert rows[("cuMemAlloc", 3020, 0)] == ("cuMemAlloc_v2", 2)
    assert rows[("cuLaunchKernel", 7000, 1)] == ("cuLaunchKernel_ptsz", 11)


def test_every_variant_of_a_base_in_the_table_is_in_the_table_with_nvidia_s_arity() -> None:
    rows = table()
    pfn, cuda_version = typedefs()
    bases = {b for b, _, _ in rows}
    theirs = {k: n for k, n in pfn.items() if k[0] in bases}
    ours = {k: n for k, (_, n) in rows.items() if k[1] <= cuda_version}
    assert sorted(set(theirs) - set(ours)) == [], "variants missing from driver_table.h"
    assert sorted(set(ours) - set(theirs)) == [], "variants cudaTypedefs.h does not have"
    assert {k: n for k, n in ours.items() if theirs[k] != n} == {}, "parameter counts differ"


def test_exported_names_are_nvidia_s() -> None:
    rows = table()
    newest, declared = cuda_h_names()
    by_base: dict[str, list[tuple[int, int, str]]] = {}
    for (base, ver, pt), (name, _) in rows.items():
        by_base.setdefault(base, []).append((ver, pt, name))
    _, cuda_version = typedefs()
    wrong = {}
    for base, variants in by_base.items():
        # the name cuda.h gives the base (cuMemAlloc -> cuMemAlloc_v2, cuMemcpyHtoD -> ..._v2_ptds)
        # is one of its variants (a base with later, separately named APIs, e.g. cuCtxCreate_v4,
        # maps to an older one)
        names = {v[2] for v in variants if v[0] <= cuda_version and not v[1]}
        pt_names = {v[2] for v in variants if v[0] <= cuda_version and v[1]}
        if base in newest and newest[base] not in names:
            wrong[base] = (sorted(names), newest[base])
        if base + "#pt" in newest and newest[base + "#pt"] not in pt_names:
            wrong[base + " (per-thread)"] = (sorted(pt_names), newest[base + "#pt"])
    assert wrong == {}
    per_thread = ("_ptds", "_ptsz")  # spelled by __CUDA_API_PT*(): checked above for the newest
    undeclared = sorted(name for (_, ver, _), (name, _) in rows.items()
                        if ver <= cuda_version and name not in declared and not name.endswith(per_thread))
    assert undeclared == [], "names cuda.h neither declares nor maps to"


def test_every_variant_of_the_table_is_exported() -> None:
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is not installed")
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(built().lib)], capture_output=True, text=True,
                         check=True).stdout
    exported = {cols[7].split("@")[0] for cols in (ln.split() for ln in out.splitlines())
                if len(cols) >= 8 and cols[4] == "GLOBAL" and cols[6] != "UND"}
    assert sorted({name for name, _ in table().values()} - exported) == []
