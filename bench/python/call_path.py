"""Per-call cost of gemmtune's general Python call path (ops._call: the one
Inductor's extern-kernel hook and every NumPy call take) beside gemmtune.mm.

    PYTHONPATH=python build/python-venv/bin/python bench/python/call_path.py

Best of 9 rounds of 5000 calls each on 2x2 operands with out= (the kernel is
negligible: this is the Python layer). Needs torch for the torch row.
"""

import timeit

import numpy as np

import gemmtune
from gemmtune import ops

try:
    import torch

    import gemmtune.torch  # noqa: F401  (registers the ops)
except ImportError:  # the NumPy rows still run
    torch = None


def best_ns(stmt, scope, number=5000, repeat=9):
    return min(timeit.repeat(stmt, number=number, repeat=repeat, globals=scope)) / number * 1e9


def main():
    na, nb, nout = (np.random.default_rng(0).standard_normal((2, 2)).astype(np.float32) for _ in range(3))
    scope = {"ops": ops, "gemmtune": gemmtune, "na": na, "nb": nb, "nout": nout}
    rows = [("ops._call, NumPy", "ops._call(None, 'mm', (na, nb), nout, 'none', 1.0, 1.0)"),
            ("gemmtune.mm, NumPy, out=", "gemmtune.mm(na, nb, out=nout)")]
    if torch is not None:
        scope.update(a=torch.from_numpy(na), b=torch.from_numpy(nb), out=torch.from_numpy(nout))
        rows.insert(0, ("ops._call, torch (Inductor's hook)", "ops._call(None, 'mm', (a, b), out, 'none', 1.0, 1.0)"))
    for _, stmt in rows:  # tune and memoize first
        eval(stmt, scope)  # noqa: S307 (our own statements)
    for name, stmt in rows:
        print(f"{name:36s} {best_ns(stmt, scope) / 1000:6.2f} us")


if __name__ == "__main__":
    main()
