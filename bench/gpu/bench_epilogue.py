#!/usr/bin/env python3
"""addmm with a row bias and an activation: torch's F.act(F.linear(x, W, b))
against gemmtune's selection (default backends unless --backends), in one
process, on the same card, tensors and timer; then the epilogue passes'
achieved bandwidth against a torch device-to-device copy of the same bytes.

Part 1, for each shape of the benchmark suite (M in {1, 16, 128, 1024, 4096}
x the N x K list; bf16, y = x.W^T + b with W stored N x K as nn.Linear
keeps it, gemmtune's layout "nt") and each activation (bias only, relu,
gelu, gelu tanh, silu): gemmtune tunes through its C API (cache in a
temporary directory; through the gemmtune package over the C API), then
both sides are timed interleaved with CUDA
events, L2 scrubbed before every timed call and the GPU kept busy while the
host enqueues (bench_vs_torch.py's method); medians; ratio torch/gemmtune;
both checked against an f32 reference.

Part 2 (--passes, on by default), for each large output (M*N >= 2^22) and
activation: gemmtune restricted to CUBLAS (whose bf16 epilogue is always a
pass: the GEMM writes f32, one pass adds the bias, applies the activation
and rounds), profiled with torch.profiler (CUPTI: device time of every
kernel, gemmtune's included), cold L2 before every run; the pass's bytes
(its input and output; the row bias is negligible) over its median device
time, beside cudaMemcpy device-to-device moving the same bytes, profiled the
same way. The target is >= 80% of the copy's bandwidth.

  python3 bench/gpu/bench_epilogue.py --out DIR            # everything (long)
  python3 bench/gpu/bench_epilogue.py --suite quick --out DIR
  python3 bench/gpu/bench_epilogue.py --shapes 2048x14336x4096 --acts gelu,gelu_tanh --out DIR
  python3 bench/gpu/bench_epilogue.py --dry-run            # the plan, no GPU or torch needed

Writes epilogue.json and epilogue.md under --out.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_shapes import MS, NKS, parse_shapes  # noqa: E402

# Activation as the benchmark names it -> gemmtune's name.
ACTIVATIONS = {"bias": "none", "relu": "relu", "gelu": "gelu", "gelu_tanh": "gelu_tanh", "silu": "silu"}
DTYPE_BYTES = {"f32": 4, "f64": 8, "f16": 2, "bf16": 2, "i32": 4}
PASS_PREFIX = "gemmtune_epilogue_"
COPY_KEY = "Memcpy DtoD"
LARGE_OUTPUT = 1 << 22  # elements: where a pass is memory-bound for sure


def shapes(suite_name):
    """(M, N, K) of the suite: every M for every N x K (no 8192^3: an addmm
    with a row bias is a linear layer)."""
    if suite_name == "all":
        return [(m, n, k) for (n, k) in NKS for m in MS]
    if suite_name == "quick":
        return [(m, n, k) for (n, k) in [(4096, 4096), (28672, 4096), (4096, 14336)] for m in (1, 128, 4096)]
    raise SystemExit(f"unknown suite {suite_name!r}: all or quick")


def parse_activations(text):
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in ACTIVATIONS]
    if unknown or not names:
        raise ValueError(f"--acts takes a comma-separated subset of {','.join(ACTIVATIONS)}, got {text!r}")
    return names


def pass_bytes(kernel, m, n):
    """Bytes an epilogue pass moves over an m x n output, from its name
    gemmtune_epilogue_<out>_<in>_<bias>_<act>: it reads its input and writes
    its output, except a fill (act none, input = output), which only writes.
    None for a name that is not a pass."""
    if not kernel.startswith(PASS_PREFIX):
        return None
    parts = kernel[len(PASS_PREFIX):].split("_", 3)
    if len(parts) != 4 or parts[0] not in DTYPE_BYTES or parts[1] not in DTYPE_BYTES:
        return None
    out, src, _, act = parts
    reads = 0 if (act == "none" and src == out) else DTYPE_BYTES[src]
    return m * n * (DTYPE_BYTES[out] + reads)


def plan(args):
    problem_shapes = parse_shapes(args.shapes) if args.shapes else shapes(args.suite)
    timed = [(m, n, k, a) for (m, n, k) in problem_shapes for a in parse_activations(args.acts)]
    passes = [(m, n, k, a) for (m, n, k, a) in timed if m * n >= LARGE_OUTPUT] if args.passes else []
    return timed, passes


def median(values):
    return statistics.median(values) if values else float("nan")


def geomean(values):
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def write_outputs(out_dir, meta, rows, passes):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "epilogue.json").write_text(json.dumps({"meta": meta, "rows": rows, "passes": passes}, indent=1))
    lines = [f"Card: {meta.get('card', '?')}; torch {meta.get('torch', '?')}; gemmtune {meta.get('gemmtune', '?')}; "
             f"backends {meta.get('backends', '?')}; cold L2, CUDA events, medians.", "",
             "| M | N | K | act | torch us | gemmtune us | torch/gemmtune | selected | tuning s |",
             "|---:|---:|---:|:---|---:|---:|---:|:---|---:|"]
    for r in rows:
        if "ratio" in r:
            lines.append(f"| {r['m']} | {r['n']} | {r['k']} | {r['act']} | {r['torch_us']:.1f} | {r['gemmtune_us']:.1f} | "
                         f"{r['ratio']:.3f} | {r['winner']} | {r['tuning_seconds']:.2f} |")
        else:
            lines.append(f"| {r['m']} | {r['n']} | {r['k']} | {r['act']} | | | | {r.get('error', '?')} | |")
    by_act = {}
    for r in rows:
        if "ratio" in r:
            by_act.setdefault(r["act"], []).append(r["ratio"])
    lines += [""] + [f"{a}: geometric mean torch/gemmtune {geomean(v):.3f}, worst {min(v):.3f} over {len(v)} shapes"
                     for a, v in by_act.items()]
    if passes:
        lines += ["", "| M | N | act | pass kernel | pass us | pass GB/s | copy us | copy GB/s | pass/copy | GEMM us |",
                  "|---:|---:|:---|:---|---:|---:|---:|---:|---:|---:|"]
        for p in passes:
            if "pass_gbps" in p:
                lines.append(f"| {p['m']} | {p['n']} | {p['act']} | {p['kernel']} | {p['pass_us']:.1f} | "
                             f"{p['pass_gbps']:.0f} | {p['copy_us']:.1f} | {p['copy_gbps']:.0f} | "
                             f"{p['fraction']:.2f} | {p['gemm_us']:.1f} |")
            else:
                lines.append(f"| {p['m']} | {p['n']} | {p['act']} | {p.get('error', '?')} | | | | | | |")
    (out / "epilogue.md").write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="all", choices=["all", "quick"])
    ap.add_argument("--shapes", default=None, help="MxNxK[,MxNxK...] instead of the suite")
    ap.add_argument("--acts", default=",".join(ACTIVATIONS), help="subset of " + ",".join(ACTIVATIONS))
    ap.add_argument("--backends", default="default",
                    help="gemmtune's enabled backends for part 1 (default: gemmtune's default set)")
    ap.add_argument("--passes", action=argparse.BooleanOptionalAction, default=True,
                    help="part 2: the passes' bandwidth against a copy (CUBLAS, large outputs)")
    ap.add_argument("--reps", type=int, default=50, help="least timed calls per side and shape")
    ap.add_argument("--max-reps", type=int, default=200)
    ap.add_argument("--pass-reps", type=int, default=30, help="profiled runs per pass and per copy")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--search-space", default="default", choices=["default", "exhaustive"])
    ap.add_argument("--lib", default=None, help="path of libgemmtune_c.so")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--dry-run", action="store_true", help="print what would run; needs neither torch nor a GPU")
    args = ap.parse_args()
    if args.reps < 1 or args.pass_reps < 1 or args.warmup < 0:
        ap.error("--reps and --pass-reps must be at least 1, --warmup at least 0")
    try:
        timed, passes = plan(args)
    except ValueError as e:
        ap.error(str(e))
    if args.dry_run:
        print(f"part 1: {len(timed)} problems (addmm bf16 nt, row bias) on backends {args.backends}")
        for (m, n, k, a) in timed:
            print(f"  {m}x{n}x{k} {a}")
        print(f"part 2: {len(passes)} passes on CUBLAS, each against a copy of the same bytes")
        for (m, n, k, a) in passes:
            print(f"  {m}x{n}x{k} {a}: staged bf16 pass moves "
                  f"{pass_bytes('gemmtune_epilogue_bf16_f32_bf16_' + ACTIVATIONS[a], m, n) / 1e6:.0f} MB")
        return 0

    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"bench_epilogue.py needs PyTorch with CUDA (import torch failed: {e}); "
              f"--dry-run shows the plan without it", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("bench_epilogue.py: no CUDA device visible to torch", file=sys.stderr)
        return 2
    from bench_vs_torch import loaded_libraries, summary, time_interleaved  # (puts python/ on the path)

    dev = torch.device("cuda", 0)
    props = torch.cuda.get_device_properties(dev)
    torch.backends.cuda.matmul.allow_tf32 = False
    # torch's cuBLAS first, so that gemmtune's dlopen finds the same library.
    warm = torch.randn(64, 64, device=dev, dtype=torch.bfloat16)
    torch.nn.functional.linear(warm, warm, warm[0])
    torch.cuda.synchronize()
    if args.lib:
        os.environ["GEMMTUNE_C_LIB"] = args.lib
    try:
        import gemmtune as lib  # after torch: torch's cuBLAS is the one loaded
    except (ImportError, OSError) as e:
        print(f"bench_epilogue.py: the gemmtune package could not load libgemmtune_c.so: {e}", file=sys.stderr)
        return 2
    print(f"card: {props.name}, {props.multi_processor_count} SMs, L2 {props.L2_cache_size >> 20} MiB, "
          f"sm_{props.major}{props.minor}")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); gemmtune {lib.version()} from {lib._capi.path}")
    print("cuBLAS files mapped in this process: " + ", ".join(loaded_libraries("libcublas")))

    torch_act = {"bias": lambda y: y, "relu": F.relu, "gelu": F.gelu,
                 "gelu_tanh": lambda y: F.gelu(y, approximate="tanh"), "silu": F.silu}
    cache_dir = tempfile.mkdtemp(prefix="gemmtune-epilogue-")
    options = {"db": f"{cache_dir}/tuning.db", "search_space": args.search_space}
    backends = None if args.backends == "default" else args.backends
    tuner = lib.Tuner(backends, **options)
    scrub = torch.empty(max(2 * props.L2_cache_size, 64 << 20) // 4, dtype=torch.int32, device=dev)
    stream = torch.cuda.current_stream(dev)
    meta = {"card": props.name, "sm": f"{props.major}{props.minor}", "torch": torch.__version__,
            "gemmtune": lib.version(), "backends": args.backends, "search_space": args.search_space}
    rows, pass_rows = [], []

    def operands(m, n, k):
        torch.manual_seed(m * 31 + n * 7 + k)
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) / math.sqrt(k)
        b = torch.randn(n, device=dev, dtype=torch.bfloat16)
        return x, w, b

    def select(on_tuner, m, n, k, act, x, w, b, c):
        aligned = all(t.data_ptr() % 256 == 0 for t in (x, w, b, c))
        problem = lib.Problem.dense("addmm", m, n, k, dtype="bf16", layout="nt", bias="row",
                                    activation=ACTIVATIONS[act], device="cuda:0", alignment=256 if aligned else 16)
        return on_tuner.select(problem)

    print(f"\n== part 1: torch F.act(F.linear) vs gemmtune ({args.backends}), {len(timed)} problems ==")
    for (m, n, k, act) in timed:
        x, w, b = operands(m, n, k)
        c = torch.empty(m, n, device=dev, dtype=torch.bfloat16)
        row = {"m": m, "n": n, "k": k, "act": act}
        t0 = time.perf_counter()
        try:
            sel = select(tuner, m, n, k, act, x, w, b, c)
        except lib.Error as e:
            row["error"] = f"gemmtune could not select: {e}"
            print(f"{m:>5}x{n:>5}x{k:>5} {act:9} {row['error']}")
            rows.append(row)
            continue
        tune_wall = time.perf_counter() - t0
        f = torch_act[act]

        def run_gt():
            sel.run_pointers(x.data_ptr(), w.data_ptr(), c.data_ptr(), bias=b.data_ptr(), stream=stream.cuda_stream)

        def run_torch():
            return f(F.linear(x, w, b))

        c.fill_(float("nan"))
        run_gt()
        y = run_torch()
        ref = torch_act[act](x.float() @ w.float().t() + b.float())
        torch.cuda.synchronize()
        err_gt = ((c.float() - ref).norm() / ref.norm()).item()
        err_torch = ((y.float() - ref).norm() / ref.norm()).item()
        reps = max(args.reps, min(args.max_reps, int(0.05e6 / (sel.time_us + 100.0))))
        times = time_interleaved([run_torch, run_gt], reps, scrub, args.warmup, 100_000)
        st, sg = summary(times[0]), summary(times[1])
        row.update({"torch_us": st["median_us"], "gemmtune_us": sg["median_us"],
                    "ratio": st["median_us"] / sg["median_us"], "winner": f"{sel.backend}/{sel.choice}",
                    "tuning_seconds": sel.tuning_seconds, "tuning_wall_seconds": tune_wall,
                    "rel_error_gemmtune": err_gt, "rel_error_torch": err_torch, "reps": reps})
        rows.append(row)
        print(f"{m:>5}x{n:>5}x{k:>5} {act:9} torch {st['median_us']:8.1f}us | gt {sg['median_us']:8.1f}us | "
              f"x{row['ratio']:.3f} | {row['winner']} | {sel.tuning_seconds:.1f}s | err {err_gt:.1e} "
              f"(torch {err_torch:.1e})", flush=True)
        if not err_gt < 2e-2:
            print(f"   WRONG RESULT from gemmtune: relative error {err_gt}")
        write_outputs(args.out, meta, rows, pass_rows)
        sel.close()
        del x, w, b, c, y, ref
        torch.cuda.empty_cache()

    if passes:
        print("\n== part 2: the epilogue passes (CUBLAS) vs a device-to-device copy of the same bytes ==")
        from torch.profiler import ProfilerActivity, profile
        cublas = lib.Tuner("CUBLAS", **options)

        def device_us(event):
            for attr in ("device_time_total", "cuda_time_total", "self_device_time_total", "self_cuda_time_total"):
                if hasattr(event, attr):
                    return getattr(event, attr) / max(event.count, 1)
            return float("nan")

        for (m, n, k, act) in passes:
            x, w, b = operands(m, n, k)
            c = torch.empty(m, n, device=dev, dtype=torch.bfloat16)
            prow = {"m": m, "n": n, "k": k, "act": act}
            try:
                sel = select(cublas, m, n, k, act, x, w, b, c)
            except lib.Error as e:
                prow["error"] = f"CUBLAS could not select: {e}"
                print(f"{m:>5}x{n:>5} {act:9} {prow['error']}")
                pass_rows.append(prow)
                continue
            for _ in range(args.warmup):
                sel.run_pointers(x.data_ptr(), w.data_ptr(), c.data_ptr(), bias=b.data_ptr(), stream=stream.cuda_stream)
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for r in range(args.pass_reps):
                    scrub.fill_(r)
                    sel.run_pointers(x.data_ptr(), w.data_ptr(), c.data_ptr(), bias=b.data_ptr(), stream=stream.cuda_stream)
                torch.cuda.synchronize()
            kernels = {e.key: device_us(e) for e in prof.key_averages()}
            epilogue = [key for key in kernels if key.startswith(PASS_PREFIX)]
            gemm = [v for key, v in kernels.items()
                    if not key.startswith(PASS_PREFIX) and ("gemm" in key.lower() or "nvjet" in key.lower()
                                                            or "xmma" in key.lower())]
            if not epilogue:
                prow["error"] = "no epilogue pass in the profile: " + ", ".join(sorted(kernels)[:6])
                print(f"{m:>5}x{n:>5} {act:9} {prow['error']}")
                pass_rows.append(prow)
                sel.close()
                continue
            kernel = epilogue[0]
            nbytes = pass_bytes(kernel, m, n)
            # The same bytes through cudaMemcpy: half read, half written.
            src = torch.empty(nbytes // 2, dtype=torch.uint8, device=dev)
            dst = torch.empty_like(src)
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for r in range(args.pass_reps):
                    scrub.fill_(r)
                    dst.copy_(src)
                torch.cuda.synchronize()
            copies = [device_us(e) for e in prof.key_averages() if e.key.startswith(COPY_KEY)]
            copy_us = copies[0] if copies else float("nan")
            prow.update({"kernel": kernel, "pass_us": kernels[kernel], "bytes": nbytes,
                         "pass_gbps": nbytes / kernels[kernel] / 1e3, "copy_us": copy_us,
                         "copy_gbps": nbytes / copy_us / 1e3, "gemm_us": sum(gemm) if gemm else float("nan"),
                         "selected": f"{sel.backend}/{sel.choice}"})
            prow["fraction"] = prow["pass_gbps"] / prow["copy_gbps"]
            pass_rows.append(prow)
            print(f"{m:>5}x{n:>5} {act:9} {kernel}: {prow['pass_us']:7.1f}us {prow['pass_gbps']:6.0f} GB/s | copy "
                  f"{copy_us:7.1f}us {prow['copy_gbps']:6.0f} GB/s | pass/copy {prow['fraction']:.2f} | "
                  f"GEMM {prow['gemm_us']:.1f}us", flush=True)
            write_outputs(args.out, meta, rows, pass_rows)
            sel.close()
            del x, w, b, c, src, dst
            torch.cuda.empty_cache()

    write_outputs(args.out, meta, rows, pass_rows)
    print()
    by_act = {}
    for r in rows:
        if "ratio" in r:
            by_act.setdefault(r["act"], []).append(r["ratio"])
    for a, v in by_act.items():
        below = [f"{r['m']}x{r['n']}x{r['k']} x{r['ratio']:.3f}" for r in rows if r.get("act") == a and
                 r.get("ratio", 1.0) < 1.0]
        print(f"epilogue {a}: geometric mean torch/gemmtune x{geomean(v):.3f}, worst x{min(v):.3f}"
              + (f"; below 1.0: {', '.join(below)}" if below else ""))
    fractions = [p["fraction"] for p in pass_rows if "fraction" in p]
    if fractions:
        print(f"epilogue passes: median {median(fractions):.2f} of the copy's bandwidth, worst {min(fractions):.2f} "
              f"over {len(fractions)} passes")
    failed = [r for r in rows if "error" in r] + [p for p in pass_rows if "error" in p]
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
