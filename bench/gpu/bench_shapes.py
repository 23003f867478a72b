"""The GPU benchmark suite's shapes (M, N, K): transformer projections with
N x K weights of 4096-hidden models at token counts 1 to 4096, plus one
large square. Shared by bench_vs_torch.py and isolation_overhead.py."""

MS = [1, 16, 128, 1024, 4096]
NKS = [(4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336)]


def suite(name):
    shapes = [(m, n, k) for (n, k) in NKS for m in MS] + [(8192, 8192, 8192)]
    if name == "all":
        return shapes
    if name == "quick":
        return [(m, n, k) for (n, k) in [(4096, 4096), (28672, 4096), (4096, 14336)] for m in (1, 128, 4096)] + [
            (8192, 8192, 8192)]
    raise SystemExit(f"unknown suite {name}")
