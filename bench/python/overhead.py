"""Python overhead of gemmtune's ops per call, side by side with torch's.

    build/python-venv/bin/python bench/python/overhead.py                # CPU, small shapes
    python3 bench/python/overhead.py --device cuda                        # GPU machine (PYTHONPATH=python)

For each shape MxNxK and op (mm: a (M, K) @ b (K, N); addmm: the same plus
a bias (N,); bmm: a batch of --batch such products; linear: x (M, K), weight
(N, K), bias (N,)) it prints, in microseconds per call (the best of
several rounds of many back-to-back calls on the same inputs; each round
times every variant once, in turn, so drift touches them alike):
  torch          torch's own call (torch.mm, addmm, bmm, F.linear: dispatcher,
                 allocation, kernel)
  gemmtune       gemmtune's op on the same tensors (memo lookup, allocation, C call;
                 in one call into the C fast path where it loaded: see the header)
  out=           the same into a preallocated result
  raw C          Selection.run_pointers on precomputed pointers (ctypes + kernel
                 launch on the GPU; ctypes + the kernel itself on the CPU)
  kernel         the selected kernel alone, as gemmtune's C++ timer measured it
                 while tuning with warm caches (CPU), or its GPU event time
  above raw      gemmtune - raw C: what the Python layer adds to the C call
                 (issue 10's number: <= 5 us), and out= - raw C beside it (the
                 difference between the two is the result's allocation and free)
  above kernel   gemmtune - kernel (CPU only: on the GPU the kernel runs
                 asynchronously, and the stream is synchronised once per round)
"""

import argparse
import statistics
import sys
import time


def per_call_us(variants, calls, rounds, clock, sync=None):
    """{name: best microseconds per call} of each zero-argument function."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, fn in variants.items():
            if sync:
                sync()
            start = clock()
            for _ in range(calls):
                fn()
            if sync:
                sync()
            best[name] = min(best[name], (clock() - start) / calls * 1e6)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default=None, help="f32 (CPU default) or bf16 (CUDA default)")
    parser.add_argument("--shapes", default="8x8x8,32x32x32,64x64x64,128x128x128", help="MxNxK,...")
    parser.add_argument("--ops", default="mm", help="any of mm, addmm, bmm, linear (with a bias): mm,linear (each "
                        "new layout is tuned first: on the GPU that takes seconds)")
    parser.add_argument("--batch", type=int, default=4, help="bmm's batch size")
    parser.add_argument("--backends", default=None, help="enabled set (default: GEMMTUNE_BACKENDS or every one)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the kernels (default: the "
                        "tuner's, every CPU; 1 keeps a threaded kernel's idle workers out of --clock cpu)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--python-path", action="store_true",
                        help="run the ops' Python path even where the C fast path loaded (to compare the two)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: time.perf_counter; cpu: this process's CPU time (time.process_time), for a "
                             "machine shared with other work, where wall time also counts waiting for a core")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    import torch

    import gemmtune

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    dtype_name = args.dtype or ("bf16" if cuda else "f32")
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[dtype_name]
    sync = torch.cuda.synchronize if cuda else None
    tuner = gemmtune.configure(backends=args.backends, threads=args.threads, cold_cache=False, cache=False)
    import gemmtune.torch  # noqa: F401  (binds the ops' fast path to torch)
    if args.python_path:
        gemmtune.ops._use_fast_path(False)
    fast_path = gemmtune.fast_path()
    print(f"gemmtune {gemmtune.version()}, torch {torch.__version__}, Python {sys.version.split()[0]}, "
          f"device {torch.cuda.get_device_name(device) if cuda else 'cpu'}, dtype {dtype_name}, "
          f"enabled {','.join(tuner.enabled)}, clock {args.clock}")
    print("fast path: " + (f"C extension {fast_path.detail}" if fast_path.native else f"Python ({fast_path.detail})"))
    print(f"{'op':>6} {'shape':>14} {'torch':>8} {'gemmtune':>8} {'out=':>8} {'raw C':>8} {'kernel':>8} "
          f"{'above raw':>9} {'(out=)':>7} {'above kernel':>12}  winner")
    above_raw = {}
    above_kernel = []
    with torch.inference_mode():
        for shape in args.shapes.split(","):
            m, n, k = (int(v) for v in shape.split("x"))
            for op in args.ops.split(","):
                a = torch.randn(m, k, device=device).to(dtype)
                out = torch.empty(m, n, device=device, dtype=dtype)
                if op == "mm":
                    b = torch.randn(k, n, device=device).to(dtype)
                    operands, torch_fn, ours = (a, b), torch.mm, gemmtune.mm
                elif op == "addmm":
                    b = torch.randn(k, n, device=device).to(dtype)
                    bias = torch.randn(n, device=device).to(dtype)
                    operands, torch_fn, ours = (bias, a, b), torch.addmm, gemmtune.addmm
                elif op == "bmm":
                    a = torch.randn(args.batch, m, k, device=device).to(dtype)
                    b = torch.randn(args.batch, k, n, device=device).to(dtype)
                    out = torch.empty(args.batch, m, n, device=device, dtype=dtype)
                    operands, torch_fn, ours = (a, b), torch.bmm, gemmtune.bmm
                elif op == "linear":
                    b = torch.randn(n, k, device=device).to(dtype)
                    bias = torch.randn(n, device=device).to(dtype)
                    operands, torch_fn, ours = (a, b, bias), torch.nn.functional.linear, gemmtune.linear
                else:
                    parser.error(f"unknown op {op}")
                sel = tuner.select(op, *operands)
                ours(*operands)  # memo warm
                ours(*operands, out=out)
                pointers = [x.data_ptr() for x in operands]
                if op == "addmm":  # torch's order: bias first
                    pointers = pointers[1:] + pointers[:1]
                pa, pb, pbias = pointers[0], pointers[1], pointers[2] if len(pointers) > 2 else None
                pc = out.data_ptr()
                stream = torch.cuda.current_stream(device).cuda_stream if cuda else None
                t = per_call_us({
                    "torch": lambda: torch_fn(*operands),
                    "ours": lambda: ours(*operands),
                    "out": lambda: ours(*operands, out=out),
                    "raw": lambda: sel.run_pointers(pa, pb, pc, pbias, stream=stream),
                }, args.calls, args.rounds, clock, sync)
                kernel = sel.time_us
                over_raw = t["ours"] - t["raw"]
                above_raw.setdefault(op, []).append(over_raw)
                over_kernel = "-"
                if not cuda:
                    above_kernel.append(t["ours"] - kernel)
                    over_kernel = f"{t['ours'] - kernel:.2f}"
                print(f"{op:>6} {shape:>14} {t['torch']:8.2f} {t['ours']:8.2f} {t['out']:8.2f} {t['raw']:8.2f} "
                      f"{kernel:8.2f} {over_raw:9.2f} {t['out'] - t['raw']:7.2f} {over_kernel:>12}  "
                      f"{sel.backend}/{sel.choice}")
    for op, values in above_raw.items():
        print(f"gemmtune.{op} above the raw C call: median {statistics.median(values):.2f} us, worst "
              f"{max(values):.2f} us (issue 10: <= 5 us)")
    if above_kernel:
        print(f"above the kernel (CPU): median {statistics.median(above_kernel):.2f} us")


if __name__ == "__main__":
    main()
