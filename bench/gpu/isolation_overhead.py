#!/usr/bin/env python3
"""Isolation on the GPU benchmark suite: every shape of bench_vs_torch.py
tuned cold by two tuners of one process, side by side and interleaved (the
order alternates per shape), one measuring in worker processes
(isolation=process, the default) and one in this process (isolation=none).

Prints, per shape, the tuning wall time both ways and their ratio, and how
the per-choice median times of the two tunings compare (geometric mean of
worker/in-process over the choices both verified); then the totals: the
isolation overhead on the suite's cold tuning time, the timing agreement,
and how many selections agree. Needs no torch: only the gemmtune package
(python/), libgemmtune_c.so and the gemmtune-worker beside it.

  GEMMTUNE_C_LIB=.../libgemmtune_c.so python3 bench/gpu/isolation_overhead.py [--suite all|quick]
      [--layouts nt,nn] [--backends CUBLAS,CUBLASLT,CUDA] [--device cuda:0] [--out DIR]
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# The gemmtune package from this checkout (python/), unless one is installed.
sys.path.append(str(Path(__file__).resolve().parents[2] / "python"))
from bench_shapes import suite  # noqa: E402  (beside this script)

def choice_times(record):
    """{backend/name: median us} of the verified choices of a tuning record."""
    return {c["backend"] + "/" + c["name"]: c["timing"]["median_us"]
            for c in record.get("choices", []) if not c.get("rejection") and c.get("timing")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="all", choices=["all", "quick"])
    ap.add_argument("--layouts", default="nt")
    ap.add_argument("--backends", default="CUBLAS,CUBLASLT,CUDA")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--lib", default=None)
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args()

    if args.lib:
        os.environ["GEMMTUNE_C_LIB"] = args.lib
    import gemmtune as lib

    print(f"gemmtune {lib.version()} from {lib._capi.path}; backends {args.backends}; device {args.device}")
    tuners = {mode: lib.Tuner(args.backends, cache=0, isolation=mode) for mode in ("process", "none")}
    rows = []
    for layout in args.layouts.split(","):
        for i, (m, n, k) in enumerate(suite(args.suite)):
            problem = lib.Problem.dense("mm", m, n, k, dtype="bf16", layout=layout, device=args.device, alignment=256)
            row = {"m": m, "n": n, "k": k, "layout": layout}
            order = ("process", "none") if i % 2 == 0 else ("none", "process")
            for mode in order:
                t0 = time.perf_counter()
                try:
                    sel = tuners[mode].select(problem)
                except lib.Error as e:
                    row[mode] = {"error": str(e)}
                    continue
                row[mode] = {"wall_s": time.perf_counter() - t0, "winner": f"{sel.backend}/{sel.choice}",
                             "times": choice_times(sel.record)}
                sel.close()
            rows.append(row)
            p, nn = row.get("process", {}), row.get("none", {})
            if "wall_s" not in p or "wall_s" not in nn:
                print(f"{m:>5}x{n:>5}x{k:>5} {layout}: error: {p.get('error') or nn.get('error')}")
                continue
            common = sorted(set(p["times"]) & set(nn["times"]))
            ratios = [p["times"][c] / nn["times"][c] for c in common]
            row["timing_geomean"] = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")
            row["same_winner"] = p["winner"] == nn["winner"]
            print(f"{m:>5}x{n:>5}x{k:>5} {layout} tuning: in process {nn['wall_s']:6.2f}s, isolated {p['wall_s']:6.2f}s"
                  f" (x{p['wall_s'] / nn['wall_s']:.3f}) | choice times worker/in-process x{row['timing_geomean']:.3f}"
                  f" over {len(common)} | winners {'same' if row['same_winner'] else 'differ'}: {p['winner']}"
                  + ("" if row["same_winner"] else f" vs {nn['winner']}"), flush=True)
    good = [r for r in rows if "timing_geomean" in r]
    if not good:
        raise SystemExit("nothing tuned")
    total_p = sum(r["process"]["wall_s"] for r in good)
    total_n = sum(r["none"]["wall_s"] for r in good)
    all_ratios = [r["process"]["times"][c] / r["none"]["times"][c] for r in good
                  for c in set(r["process"]["times"]) & set(r["none"]["times"])]
    geo = math.exp(sum(map(math.log, all_ratios)) / len(all_ratios))
    print()
    print(f"cold tuning of {len(good)} shapes: in process {total_n:.1f} s, isolated {total_p:.1f} s, "
          f"overhead {100 * (total_p / total_n - 1):+.1f}%")
    print(f"per-choice median times, worker / in-process: geometric mean x{geo:.4f} over {len(all_ratios)} choices")
    print(f"selections agree on {sum(r['same_winner'] for r in good)}/{len(good)} shapes")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with open(Path(args.out) / "isolation_overhead.json", "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
