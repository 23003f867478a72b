#!/usr/bin/env python3
"""gemmtune's tuned selection (by default over CUBLAS + CUBLASLT; --backends
adds CUDA, gemmtune's own kernels) against torch.mm, in one process, on the
same card, the same tensors and the same timer.

For each transformer-like shape (bf16; y = x.W^T with W stored N x K
row-major as nn.Linear keeps it, gemmtune's layout "nt"; optionally plain
"nn"), gemmtune tunes through its Python package over the C API (cache in a temporary directory, the
tuning time recorded); then gemmtune's selected kernel, run on torch's
tensors and stream, and torch.mm are timed the same way, interleaved:
CUDA events around one call, after a warm-up, with L2 scrubbed before every
timed call (a 2 x L2 buffer written outside the timed region, for both) and
the GPU kept busy while the host enqueues, so neither side's launch overhead
is timed as idle GPU. Medians over many repetitions. A third column times
torch.mm again as a control: its ratio to the first is the noise floor.

Prints time, TFLOP/s and achieved bandwidth (A, B and C once) for both, the
ratio torch_time / gemmtune_time, the geometric mean, and the card; checks
gemmtune's output against torch's and against an f32 product. Writes
results.json and results.md under --out.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch  # noqa: E402

# The gemmtune package from this checkout (python/), unless one is installed.
sys.path.append(str(Path(__file__).resolve().parents[2] / "python"))

from bench_shapes import parse_shapes, suite  # noqa: E402


def loaded_libraries(fragment):
    """Files of this process's mappings whose name contains `fragment`."""
    seen = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if fragment in path and path not in seen:
                    seen.append(path)
    except OSError:
        pass
    return seen


def time_interleaved(fns, reps, scrub, warmup, sleep_cycles):
    """Median-ready lists of microseconds, one list per function."""
    for _ in range(warmup):
        for f in fns:
            f()
    torch.cuda.synchronize()
    starts = [[torch.cuda.Event(enable_timing=True) for _ in range(reps)] for _ in fns]
    ends = [[torch.cuda.Event(enable_timing=True) for _ in range(reps)] for _ in fns]
    for r in range(reps):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            # Busy GPU while the host enqueues the scrub, the events and the
            # call: host-side overhead then never shows up as GPU time.
            torch.cuda._sleep(sleep_cycles)
            scrub.fill_(r)  # evicts L2: cold inputs for both
            starts[i][r].record()
            fns[i]()
            ends[i][r].record()
    torch.cuda.synchronize()
    return [[s.elapsed_time(e) * 1000.0 for s, e in zip(starts[i], ends[i])] for i in range(len(fns))]


def summary(samples):
    s = sorted(samples)
    q = lambda f: s[min(len(s) - 1, int(f * (len(s) - 1) + 0.5))]  # noqa: E731
    med = statistics.median(s)
    return {"median_us": med, "p10_us": q(0.1), "p90_us": q(0.9), "spread": (q(0.75) - q(0.25)) / med if med else 0}


def rel_error(x, ref):
    ref = ref.float()
    den = ref.norm().item()
    return (x.float() - ref).norm().item() / den if den else float("nan")


def write_outputs(args, props, lib, rows):
    """results.json and results.md under --out (rewritten after every shape,
    so a run cut short still leaves its numbers)."""
    good = [r for r in rows if "ratio" in r]
    geo = math.exp(sum(math.log(r["ratio"]) for r in good) / len(good)) if good else float("nan")
    worst = min((r["ratio"] for r in good), default=float("nan"))
    controls = [r["control_ratio"] for r in good if "control_ratio" in r]
    control_geo = math.exp(sum(math.log(c) for c in controls) / len(controls)) if controls else float("nan")
    meta = {"card": props.name, "sm": f"{props.major}{props.minor}", "torch": torch.__version__,
            "torch_cuda": torch.version.cuda, "gemmtune": lib.version(), "search_space": args.search_space,
            "backends": args.backends, "reps": args.reps, "geomean_ratio": geo, "min_ratio": worst,
            "control_geomean": control_geo, "cublas_files": loaded_libraries("libcublas")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))

    lines = [f"Card: {props.name} (sm_{props.major}{props.minor}); torch {torch.__version__}; gemmtune {lib.version()}; "
             f"backends {args.backends}; search space {args.search_space}; {args.reps}-{args.max_reps} interleaved reps, cold L2, "
             "CUDA events, medians.", "",
             "| M | N | K | layout | torch us | torch TFLOP/s | torch GB/s | gemmtune us | gemmtune TFLOP/s | "
             "gemmtune GB/s | torch/gemmtune | control | selected | tuning s |",
             "|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|---:|"]
    for r in good:
        lines.append(f"| {r['m']} | {r['n']} | {r['k']} | {r['layout']} | {r['torch']['median_us']:.1f} | "
                     f"{r['torch_tflops']:.1f} | {r['torch_gbps']:.0f} | {r['gemmtune']['median_us']:.1f} | "
                     f"{r['gemmtune_tflops']:.1f} | {r['gemmtune_gbps']:.0f} | {r['ratio']:.3f} | "
                     f"{r.get('control_ratio', float('nan')):.3f} | {r['winner']} | {r['tuning_seconds']:.2f} |")
    lines += ["", f"Geometric mean torch/gemmtune: {geo:.3f}; worst shape: {worst:.3f}; "
                  f"control (torch/torch) geometric mean: {control_geo:.3f}"]
    (out / "results.md").write_text("\n".join(lines) + "\n")

    return geo, worst, control_geo, good


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="all", choices=["all", "quick"])
    ap.add_argument("--shapes", default=None, help="MxNxK[,MxNxK...] instead of the suite")
    ap.add_argument("--layouts", default="nt", help="comma-separated: nt (x.W^T, nn.Linear) and/or nn")
    ap.add_argument("--reps", type=int, default=100, help="least timed calls per function and shape")
    ap.add_argument("--max-reps", type=int, default=400,
                    help="short kernels get more calls, up to this many (about 0.1 s of each function)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--search-space", default="default", choices=["default", "exhaustive"])
    ap.add_argument("--backends", default="CUBLAS,CUBLASLT")
    ap.add_argument("--tune-options", default="", help="extra gemmtune options, key=value;...")
    ap.add_argument("--no-control", action="store_true", help="skip the torch-vs-torch noise control")
    ap.add_argument("--lib", default=None, help="path of libgemmtune_c.so")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args()
    try:
        shapes = parse_shapes(args.shapes) if args.shapes else suite(args.suite)
    except ValueError as e:
        ap.error(str(e))  # exit 2, before any work

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch")
    dev = torch.device("cuda", 0)
    props = torch.cuda.get_device_properties(dev)
    torch.backends.cuda.matmul.allow_tf32 = False
    # torch first: its cuBLAS is loaded before gemmtune dlopens libcublas, so
    # both use the very same library (the loader matches by soname).
    warm = torch.randn(64, 64, device=dev, dtype=torch.bfloat16)
    torch.mm(warm, warm)
    torch.cuda.synchronize()
    if args.lib:
        os.environ["GEMMTUNE_C_LIB"] = args.lib
    import gemmtune as lib  # after torch: torch's cuBLAS is the one loaded

    print(f"card: {props.name}, {props.multi_processor_count} SMs, L2 {props.L2_cache_size >> 20} MiB, "
          f"sm_{props.major}{props.minor}")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); gemmtune {lib.version()} from {lib._capi.path}")
    print("cuBLAS files mapped in this process: " + ", ".join(loaded_libraries("libcublas")))
    for name, ok, why in lib.backends():
        if name in args.backends.split(","):
            print(f"  {name}: {'available' if ok else 'UNAVAILABLE: ' + why}")

    cache_dir = tempfile.mkdtemp(prefix="gemmtune-bench-")
    options = {"db": f"{cache_dir}/tuning.db", "search_space": args.search_space}
    for item in filter(None, args.tune_options.split(";")):
        key, _, value = item.partition("=")
        options[key] = value
    tuner = lib.Tuner(args.backends, **options)
    scrub = torch.empty(max(2 * props.L2_cache_size, 64 << 20) // 4, dtype=torch.int32, device=dev)
    sleep_cycles = 100_000  # about 50 us
    stream = torch.cuda.current_stream(dev)

    rows = []
    for layout in args.layouts.split(","):
        for (m, n, k) in shapes:
            torch.manual_seed(m * 31 + n * 7 + k)
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            if layout == "nt":
                w = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
                b = w.t()  # k x n, column-major
            else:
                b = torch.randn(k, n, device=dev, dtype=torch.bfloat16)
            c_torch = torch.empty(m, n, device=dev, dtype=torch.bfloat16)
            c_torch2 = torch.empty_like(c_torch)
            c_gt = torch.empty_like(c_torch)
            aligned = all(t.data_ptr() % 256 == 0 for t in (x, b, c_gt))
            problem = lib.Problem.dense("mm", m, n, k, dtype="bf16", layout=layout, device="cuda:0",
                                             alignment=256 if aligned else 16)
            t0 = time.perf_counter()
            try:
                sel = tuner.select(problem)
            except lib.Error as e:
                print(f"{m}x{n}x{k} {layout}: gemmtune could not select: {e}")
                rows.append({"m": m, "n": n, "k": k, "layout": layout, "error": str(e)})
                continue
            tune_wall = time.perf_counter() - t0

            def run_gt():
                sel.run_pointers(x.data_ptr(), b.data_ptr(), c_gt.data_ptr(), stream=stream.cuda_stream)

            def run_torch():
                torch.mm(x, b, out=c_torch)

            def run_torch_again():
                torch.mm(x, b, out=c_torch2)

            c_gt.fill_(float("nan"))
            run_gt()
            run_torch()
            ref = torch.mm(x.float(), b.float())
            torch.cuda.synchronize()
            err_gt, err_torch, diff = rel_error(c_gt, ref), rel_error(c_torch, ref), rel_error(c_gt, c_torch)
            fns = [run_torch, run_gt] + ([] if args.no_control else [run_torch_again])
            # Short kernels are noisier: give them more calls (each call also
            # costs the ~50 us sleep and the scrub).
            reps = max(args.reps, min(args.max_reps, int(0.1e6 / (sel.time_us + 100.0))))
            times = time_interleaved(fns, reps, scrub, args.warmup, sleep_cycles)
            st, sg = summary(times[0]), summary(times[1])
            flops = 2.0 * m * n * k
            nbytes = 2.0 * (m * k + k * n + m * n)
            row = {
                "m": m, "n": n, "k": k, "layout": layout,
                "torch": st, "gemmtune": sg,
                "torch_tflops": flops / st["median_us"] / 1e6, "gemmtune_tflops": flops / sg["median_us"] / 1e6,
                "torch_gbps": nbytes / st["median_us"] / 1e3, "gemmtune_gbps": nbytes / sg["median_us"] / 1e3,
                "ratio": st["median_us"] / sg["median_us"], "reps": reps,
                "winner": f"{sel.backend}/{sel.choice}", "tuned_us": sel.time_us,
                "tuning_seconds": sel.tuning_seconds, "tuning_wall_seconds": tune_wall, "cache_hit": sel.cache_hit,
                "rel_error_gemmtune": err_gt, "rel_error_torch": err_torch, "rel_diff_vs_torch": diff,
                "choices": sel.report.choices,
            }
            if not args.no_control:
                sc = summary(times[2])
                row["control_ratio"] = st["median_us"] / sc["median_us"]
            rows.append(row)
            print(f"{m:>5}x{n:>5}x{k:>5} {layout} torch {st['median_us']:8.1f}us {row['torch_tflops']:6.1f}TF "
                  f"{row['torch_gbps']:5.0f}GB/s | gt {sg['median_us']:8.1f}us {row['gemmtune_tflops']:6.1f}TF "
                  f"{row['gemmtune_gbps']:5.0f}GB/s | x{row['ratio']:.3f}"
                  + (f" (ctl x{row['control_ratio']:.3f})" if not args.no_control else "")
                  + f" | {row['winner']} | {sel.tuning_seconds:.1f}s | err {err_gt:.1e}", flush=True)
            write_outputs(args, props, lib, rows)
            if not (err_gt < 2e-2):
                print(f"   WRONG RESULT from gemmtune: relative error {err_gt}")
            sel.close()
            del x, b, c_torch, c_torch2, c_gt, ref
            torch.cuda.empty_cache()

    geo, worst, control_geo, good = write_outputs(args, props, lib, rows)
    print()
    print(f"card {props.name}: geometric mean torch/gemmtune x{geo:.3f}, worst x{worst:.3f}, "
          f"control x{control_geo:.3f}, {len(good)}/{len(rows)} shapes")
    below = [f"{r['m']}x{r['n']}x{r['k']} x{r['ratio']:.3f}" for r in good if r["ratio"] < 1.0]
    if below:
        print("below 1.0: " + ", ".join(below))
    return 0 if len(good) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
