"""The GPU benchmark suite's shapes (M, N, K): transformer projections with
N x K weights of 4096-hidden models at token counts 1 to 4096, plus one
large square, and --shapes lists. Shared by bench_vs_torch.py,
bench_epilogue.py and isolation_overhead.py."""

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


def parse_shapes(text):
    """"2048x14336x4096,1x4096x4096" -> [(2048, 14336, 4096), (1, 4096, 4096)]."""
    out = []
    for item in text.split(","):
        dims = item.strip().split("x")
        if len(dims) != 3 or not all(d.isdigit() and int(d) > 0 for d in dims):
            raise ValueError(f"--shapes takes MxNxK[,MxNxK...] with positive sizes, got {item.strip()!r}")
        out.append(tuple(int(d) for d in dims))
    return out
