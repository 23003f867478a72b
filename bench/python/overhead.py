"""Python overhead of gemmtune's ops per call, side by side with torch.mm's.

    build/python-venv/bin/python bench/python/overhead.py                # CPU, small shapes
    python3 bench/python/overhead.py --device cuda                        # GPU machine (PYTHONPATH=python)

For each shape it prints, in microseconds per call (the best of several
rounds of many back-to-back calls on the same inputs):
  torch.mm        torch's own call (dispatcher, allocation, kernel)
  gemmtune.mm     gemmtune's op on the same tensors (memo lookup, allocation, C call)
  mm(out=)        the same into a preallocated result
  raw C call      Selection.run_pointers on precomputed pointers (ctypes + kernel)
  kernel          the selected kernel alone, as gemmtune's C++ timer measured it
                  while tuning with warm caches (CPU), or its GPU event time
and the overhead of gemmtune.mm ("over C": above the raw C call, i.e. what
the Python layer adds to ctypes and the kernel): on the CPU above the kernel, on the GPU
above the raw C call (which includes the launch; kernels run asynchronously,
the stream is synchronised once per round). The design keeps it <= 5 us.
"""

import argparse
import statistics
import sys
import time


CLOCK = time.perf_counter


def per_call_us(fn, calls, rounds, sync=None):
    best = float("inf")
    for _ in range(rounds):
        start = CLOCK()
        for _ in range(calls):
            fn()
        if sync:
            sync()
        best = min(best, (CLOCK() - start) / calls * 1e6)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default=None, help="f32 (CPU default) or bf16 (CUDA default)")
    parser.add_argument("--shapes", default="8x8x8,32x32x32,64x64x64,128x128x128")
    parser.add_argument("--backends", default=None, help="enabled set (default: GEMMTUNE_BACKENDS or every one)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: time.perf_counter; cpu: this process's CPU time (time.process_time), for a "
                             "machine shared with other work, where wall time also counts waiting for a core")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    import torch

    import gemmtune

    device = torch.device(args.device)
    dtype_name = args.dtype or ("bf16" if device.type == "cuda" else "f32")
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[dtype_name]
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    tuner = gemmtune.configure(backends=args.backends, cold_cache=False, cache=False)
    print(f"gemmtune {gemmtune.version()}, torch {torch.__version__}, Python {sys.version.split()[0]}, "
          f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, dtype {dtype_name}, "
          f"enabled {','.join(tuner.enabled)}, clock {args.clock}")
    header = (f"{'shape':>12} {'torch.mm':>9} {'gemmtune':>9} {'mm(out=)':>9} {'raw C':>9} {'kernel':>9} "
              f"{'overhead':>9} {'over C':>7}  winner")
    print(header)
    overheads = []
    with torch.inference_mode():
        for shape in args.shapes.split(","):
            m, n, k = (int(v) for v in shape.split("x"))
            a = torch.randn(m, k, device=device).to(dtype)
            b = torch.randn(k, n, device=device).to(dtype)
            out = torch.empty(m, n, device=device, dtype=dtype)
            sel = tuner.select("mm", a, b)
            gemmtune.mm(a, b)  # memo warm
            pa, pb, pc = a.data_ptr(), b.data_ptr(), out.data_ptr()
            stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else None
            t_torch = per_call_us(lambda: torch.mm(a, b), args.calls, args.rounds, sync)
            t_ours = per_call_us(lambda: gemmtune.mm(a, b), args.calls, args.rounds, sync)
            t_out = per_call_us(lambda: gemmtune.mm(a, b, out=out), args.calls, args.rounds, sync)
            t_raw = per_call_us(lambda: sel.run_pointers(pa, pb, pc, stream=stream), args.calls, args.rounds, sync)
            kernel = sel.time_us
            # CPU: above the kernel as gemmtune's C++ timer saw it. GPU: above the
            # raw C call, which already holds the launch (kernel time runs async).
            overhead = t_ours - (t_raw if device.type == "cuda" else kernel)
            overheads.append(overhead)
            print(f"{shape:>12} {t_torch:9.2f} {t_ours:9.2f} {t_out:9.2f} {t_raw:9.2f} {kernel:9.2f} "
                  f"{overhead:9.2f} {t_ours - t_raw:7.2f}  {sel.backend}/{sel.choice}")
    print(f"median overhead of gemmtune.mm above the kernel: {statistics.median(overheads):.2f} us "
          f"(target <= 5 us)")


if __name__ == "__main__":
    main()
