#!/usr/bin/env python3
"""Where do the fast cuBLASLt choices come from? Runs `gemmtune tune` (the
CLI, exhaustive search space, no cache) on the GPU benchmark's shapes and
groups the measured choices by where they came from: cuBLAS's default (what
torch.mm runs), the heuristic's top 8 (the default search space), and each
axis of the neighbourhood (custom option, cluster shape, split-K/swizzle,
tile) and the enumerated rest. Prints, per shape, the best time of each
group as a ratio to cuBLAS's default. A development tool: it informs which
choices the default search space should carry. Needs a GPU.

  python3 bench/gpu/explore_choices.py --gemmtune .device/bin/gemmtune --out DIR
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_torch import suite  # noqa: E402

NAME_FIELDS = ("a", "t", "s", "sk", "r", "sw", "c", "i", "cl")


def parse(name):
    """lt_a66_t10_s35_sk1_r0_sw0_c3_i0_cl5 -> dict of fields."""
    out = {}
    for part in name.split("_")[1:]:
        for f in sorted(NAME_FIELDS, key=len, reverse=True):
            if part.startswith(f) and part[len(f):].isdigit():
                out[f] = int(part[len(f):])
                break
    return out


def group(choice, seeds):
    if choice["backend"] == "CUBLAS":
        return "cublas_default" if choice["name"] == "cublas_default" else "cublas_other"
    d = choice.get("description") or ""
    if "heuristic #" in d:
        rank = int(d.split("heuristic #")[1].split(",")[0])
        return "heuristic_top8" if rank <= 8 else "heuristic_9_64"
    if "neighbour" in d:
        p = parse(choice["name"])
        for s in seeds:
            diff = [f for f in NAME_FIELDS if p.get(f) != s.get(f)]
            if diff == ["c"]:
                return "n_custom"
            if diff == ["cl"]:
                return "n_cluster"
            if diff == ["t"]:
                return "n_tile"
            if set(diff) <= {"sk", "r", "sw"}:
                return "n_split_swizzle"
        return "n_other"
    return "enumerated"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemmtune", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--suite", default="all")
    ap.add_argument("--layout", default="nt")
    ap.add_argument("--budget-ms", default="5")
    ap.add_argument("--deadline-s", type=float, default=480)
    ap.add_argument("--backends", default="CUBLAS,CUBLASLT")
    ap.add_argument("--ms", default="", help="comma-separated M values to keep (default: all)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = ["cublas_default", "cublas_other", "heuristic_top8", "heuristic_9_64", "n_custom", "n_cluster",
              "n_split_swizzle", "n_tile", "n_other", "enumerated"]
    print("shape".ljust(22) + "".join(g[:12].rjust(13) for g in groups) + "  best choice", flush=True)
    start = time.time()
    records = []
    keep = {int(m) for m in args.ms.split(",")} if args.ms else None
    for m, n, k in sorted(suite(args.suite), key=lambda s: s[0] * s[1] * s[2]):
        if keep is not None and m not in keep:
            continue
        if time.time() - start > args.deadline_s:
            print(f"deadline reached before {m}x{n}x{k}")
            break
        cmd = [args.gemmtune, "tune", "mm", f"{m}x{n}x{k}", "--dtype", "bf16", "--layout", args.layout,
               "--device", "cuda", "--backends", args.backends, "--search-space", "exhaustive",
               "--budget-ms", args.budget_ms, "--json", "--quiet", "--no-cache"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{m}x{n}x{k}: exit {r.returncode}: {r.stderr[-400:]}")
            continue
        rec = json.loads(r.stdout)
        rec["shape"] = [m, n, k]
        records.append(rec)
        ok = [c for c in rec["choices"] if c["status"] in ("ok", "selected") and c.get("time_us")]
        seeds = [parse(c["name"]) for c in ok if "heuristic #" in (c.get("description") or "")]
        best = {}
        for c in ok:
            g = group(c, seeds)
            if g not in best or c["time_us"] < best[g]["time_us"]:
                best[g] = c
        base = best.get("cublas_default", {}).get("time_us")
        if base is None:  # without CUBLAS: print the fastest few instead
            for c in sorted(ok, key=lambda c: c["time_us"])[:4]:
                print(f"{m}x{n}x{k} {args.layout}: {c['time_us']:.1f} us {c['name']}")
            continue
        row = f"{m}x{n}x{k}".ljust(22)
        for g in groups:
            row += (f"{base / best[g]['time_us']:.3f}" if g in best and base else "-").rjust(13)
        top = min(ok, key=lambda c: c["time_us"])
        print(row + f"  {top['name']} ({len(ok)} timed, {rec['tuning_seconds']:.1f} s)", flush=True)
    (out / f"explore_{args.layout}.json").write_text(json.dumps(records))


if __name__ == "__main__":
    main()
