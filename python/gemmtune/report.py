"""An HTML report of a gemmtune results database.

    python -m gemmtune.report ~/.cache/gemmtune/tuning.db -o report.html
    python -m gemmtune.report export.json -o report.html --peak-tflops 989 --bandwidth-gbs 3350

The page has, per device, a roofline plot (each winner's achieved FLOP/s
against its arithmetic intensity, with the peak and bandwidth lines), a
speed-up chart of each problem's winner over the device's library backend
(BLAS on the CPU, CUBLAS on CUDA), and per problem every choice's time and
TFLOP/s with the winner marked and every rejection with its stage and reason.

Peaks: --peak-tflops and --bandwidth-gbs set them; for GPUs gemmtune knows
(H100, H200: NVIDIA's dense datasheet figures for the problem's dtype) they
are filled in; otherwise the lines are the best FLOP/s and bytes/s the
database's own measurements reached, and the plot says so.

Needs matplotlib (Debian: python3-matplotlib). Reads .db files through
libgemmtune_c (a database that does not exist is an error; nothing is
created) and export files (`gemmtune cache export`) as plain JSON.
"""

import argparse
import base64
import datetime
import html
import io
import json
import math
import os
import sys
import tempfile

_MARKER = "<!-- gemmtune-report -->"

_DTYPE_BYTES = {"f32": 4, "f64": 8, "f16": 2, "bf16": 2, "i8": 1, "u8": 1, "i32": 4, "f8e4m3": 1, "f8e5m2": 1}

# NVIDIA's datasheet figures (dense, no sparsity): TFLOP/s per input dtype
# class and memory bandwidth in GB/s. Matched against the device name the
# CUDA runtime reports (the record's environment, gpu=...).
_KNOWN_GPUS = [
    ("H200", {"f64": 67, "f32": 67, "tf32": 495, "f16": 989, "bf16": 989, "fp8": 1979, "i8": 1979}, 4800),
    ("H100 PCIe", {"f64": 51, "f32": 51, "tf32": 378, "f16": 756, "bf16": 756, "fp8": 1513, "i8": 1513}, 2000),
    ("H100", {"f64": 67, "f32": 67, "tf32": 495, "f16": 989, "bf16": 989, "fp8": 1979, "i8": 1979}, 3350),
]


def _fail(message):
    """Bad input: the message on stderr and exit code 2, before any work."""
    print(f"gemmtune.report: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_records(path):
    """Every tuning record of a results database (.db) or export file (.json)."""
    if not os.path.exists(path):
        _fail(f"{path} does not exist")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        import ctypes

        from . import _capi

        out = ctypes.c_char_p()
        _capi.check(_capi.lib.gemmtune_database_records(path.encode(), ctypes.byref(out)))
        data = json.loads(out.value.decode())
    else:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            _fail(f"{path} is neither a gemmtune database nor an export file ({e})")
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        _fail(f"{path} has no 'records' list (not a gemmtune export file)")
    return records


# ---------------------------------------------------------------- numbers


def flops(problem):
    """Multiply-adds times two, for the whole batch."""
    return 2.0 * problem["batch"] * problem["m"] * problem["n"] * problem["k"]


def bytes_moved(problem):
    """Bytes each operand occupies once: A and B read, C written, the bias read."""
    b = problem["batch"]
    a = problem["a"]
    bm = problem["b"]
    c = problem["c"]
    total = b * problem["m"] * problem["k"] * _DTYPE_BYTES.get(a["dtype"], 4)
    b_batches = 1 if (b > 1 and bm.get("batch_stride", 0) == 0) else b
    total += b_batches * problem["k"] * problem["n"] * _DTYPE_BYTES.get(bm["dtype"], 4)
    total += b * problem["m"] * problem["n"] * _DTYPE_BYTES.get(c["dtype"], 4)
    if problem.get("bias", "none") != "none":
        d = problem["bias_desc"]
        total += d["rows"] * d["cols"] * _DTYPE_BYTES.get(d["dtype"], 4)
    return max(total, 1)


def library_backend(problem):
    return "BLAS" if problem["device"] == "cpu" else "CUBLAS"


def device_name(record):
    """'NVIDIA H100 80GB HBM3' or the CPU model, from the record's environment."""
    for part in record.get("environment", "").split(";"):
        if part.startswith(("gpu=", "cpu=")):
            return part.split("=", 1)[1]
    return record["problem"]["device"]


def describe(problem):
    shape = f"{problem['m']}x{problem['n']}x{problem['k']}"
    if problem.get("batch", 1) != 1:
        shape = f"{problem['batch']}x{shape}"

    def letter(m):
        return "t" if m["row_stride"] == 1 and m["rows"] > 1 and m["col_stride"] != 1 else "n"

    text = f"{problem['op']} {problem['a']['dtype']} {shape} {letter(problem['a'])}{letter(problem['b'])}"
    if problem.get("bias", "none") != "none":
        text += f" bias={problem['bias']}"
    if problem.get("activation", "none") != "none":
        text += f" act={problem['activation']}"
    return text


def dtype_class(problem):
    dtype = problem["a"]["dtype"]
    if dtype == "f32" and problem.get("allow_tf32"):
        return "tf32"
    if dtype.startswith("f8"):
        return "fp8"
    if dtype in ("i8", "u8"):
        return "i8"
    return dtype


def known_peaks(name, problem):
    """(TFLOP/s, GB/s) from the datasheet table, or None."""
    for key, tflops, bandwidth in _KNOWN_GPUS:
        if key in name:
            peak = tflops.get(dtype_class(problem))
            return (peak, bandwidth) if peak else None
    return None


def best_time(record, backend):
    times = [c["timing"]["median_us"] for c in record.get("choices", [])
             if c["backend"] == backend and not c.get("rejection") and c.get("timing")]
    return min(times) if times else None


# ---------------------------------------------------------------- plots


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def roofline_png(name, records, peak_tflops=None, bandwidth_gbs=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = []
    for r in records:
        if not r.get("winner"):
            continue
        t = r["winner"]["time_us"] * 1e-6
        if t <= 0:
            continue
        p = r["problem"]
        points.append((flops(p) / bytes_moved(p), flops(p) / t, p["a"]["dtype"], describe(p)))
    figure, axes = plt.subplots(figsize=(7.5, 4.8))
    if not points:
        axes.text(0.5, 0.5, "no winners to plot", ha="center", va="center", transform=axes.transAxes)
        return _png(figure)
    label = "datasheet"
    if peak_tflops is None or bandwidth_gbs is None:
        guess = known_peaks(name, records[0]["problem"])
        if guess and peak_tflops is None:
            peak_tflops = guess[0]
        if guess and bandwidth_gbs is None:
            bandwidth_gbs = guess[1]
    measured = peak_tflops is None or bandwidth_gbs is None
    peak = peak_tflops * 1e12 if peak_tflops is not None else max(y for _, y, _, _ in points)
    bandwidth = bandwidth_gbs * 1e9 if bandwidth_gbs is not None else max(y / x for x, y, _, _ in points)
    if measured:
        label = "best measured here (no datasheet figure; set --peak-tflops/--bandwidth-gbs)"
    xs = [x for x, _, _, _ in points]
    lo, hi = min(xs) / 2, max(xs) * 2
    ridge = peak / bandwidth
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    axes.loglog(grid, [min(peak, bandwidth * x) for x in grid], color="black", linewidth=1.5,
                label=f"roofline ({label})")
    axes.axhline(peak, color="grey", linestyle=":", linewidth=1, label=f"peak {peak / 1e12:.3g} TFLOP/s")
    axes.plot(grid, [bandwidth * x for x in grid], color="grey", linestyle="--", linewidth=1,
              label=f"bandwidth {bandwidth / 1e9:.4g} GB/s")
    for dtype in sorted({d for _, _, d, _ in points}):
        sel = [(x, y) for x, y, d, _ in points if d == dtype]
        axes.scatter([x for x, _ in sel], [y for _, y in sel], s=28, label=f"winners, {dtype}", zorder=3)
    axes.axvline(ridge, color="lightgrey", linewidth=0.8)
    axes.set_xlim(lo, hi)
    axes.set_ylim(min(y for _, y, _, _ in points) / 3, peak * 2)
    axes.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    axes.set_ylabel("achieved FLOP/s")
    axes.set_title(f"roofline: {name}")
    axes.grid(True, which="both", alpha=0.25)
    axes.legend(fontsize=7, loc="lower right")
    return _png(figure)


def speedup_png(name, records):
    """Bar chart of winner speed-up over the library backend; (png, rows used)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for r in records:
        if not r.get("winner"):
            continue
        library = best_time(r, library_backend(r["problem"]))
        if library is None or r["winner"]["time_us"] <= 0:
            continue
        rows.append((describe(r["problem"]), library / r["winner"]["time_us"], r["winner"]["backend"]))
    figure, axes = plt.subplots(figsize=(7.5, max(2.5, 0.32 * len(rows) + 1.2)))
    if not rows:
        axes.text(0.5, 0.5, "no problem has a timed library-backend choice to compare with", ha="center",
                  va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return _png(figure), rows
    rows.sort(key=lambda row: row[1])
    colours = ["#2b8a3e" if s > 1.0 else "#868e96" for _, s, _ in rows]
    axes.barh(range(len(rows)), [s for _, s, _ in rows], color=colours)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([f"{d} ({b})" for d, _, b in rows], fontsize=7)
    axes.axvline(1.0, color="black", linewidth=1)
    geo = math.exp(sum(math.log(s) for _, s, _ in rows) / len(rows))
    axes.set_xlabel(f"speed-up of the winner over {library_backend(records[0]['problem'])} "
                    f"(geometric mean {geo:.2f}x)")
    axes.set_title(f"winner vs library backend: {name}")
    axes.grid(True, axis="x", alpha=0.25)
    return _png(figure), rows


# ---------------------------------------------------------------- page


def _problem_section(record):
    p = record["problem"]
    work = flops(p)
    winner = record.get("winner") or {}
    best = winner.get("time_us")
    esc = html.escape
    out = [f"<section class='problem'><h3>{esc(describe(p))}</h3>"]
    meta = f"enabled: {esc(', '.join(record.get('enabled', [])))}; search space {esc(record.get('search_space', ''))}"
    if record.get("fallback"):
        meta += f"; <b class='fallback'>FALLBACK to the library backend</b>: {esc(record.get('fallback_reason', ''))}"
    out.append(f"<p class='meta'>{meta}; tuned {esc(record.get('created_at', ''))} in "
               f"{record.get('tuning_seconds', 0):.2f} s</p>")
    out.append("<table><tr><th></th><th>backend</th><th>choice</th><th>median (us)</th><th>TFLOP/s</th>"
               "<th>of best</th></tr>")
    timed = [c for c in record.get("choices", []) if not c.get("rejection") and c.get("timing")]
    timed.sort(key=lambda c: c["timing"]["median_us"])
    for c in timed:
        t = c["timing"]["median_us"]
        is_winner = (c["backend"], c["name"]) == (winner.get("backend"), winner.get("choice"))
        tflops = work / (t * 1e-6) / 1e12 if t > 0 else float("nan")
        share = f"{100.0 * best / t:.1f}%" if best and t > 0 else ""
        out.append(f"<tr class='{'winner' if is_winner else ''}'><td>{'&#9733;' if is_winner else ''}</td>"
                   f"<td>{esc(c['backend'])}</td><td>{esc(c['name'])}</td><td>{t:.3f}</td>"
                   f"<td>{tflops:.3f}</td><td>{share}</td></tr>")
    out.append("</table>")
    rejections = [(b["backend"], "", b["rejection"]) for b in record.get("backends", []) if b.get("rejection")]
    rejections += [(c["backend"], c["name"], c["rejection"]) for c in record.get("choices", []) if c.get("rejection")]
    if rejections:
        out.append("<details><summary>" + f"{len(rejections)} rejected" + "</summary><table class='rejections'>"
                   "<tr><th>backend</th><th>choice</th><th>stage</th><th>reason</th><th>message</th></tr>")
        for backend, choice, r in rejections:
            out.append(f"<tr><td>{esc(backend)}</td><td>{esc(choice)}</td><td>{esc(r['stage'])}</td>"
                       f"<td>{esc(r['reason'])}</td><td>{esc(r['message'])}</td></tr>")
        out.append("</table></details>")
    out.append("</section>")
    return "\n".join(out)


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
tr.winner { background: #e6fcf5; font-weight: bold; }
.meta { color: #555; font-size: 12px; }
.fallback { color: #c92a2a; }
img.plot { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
"""

# Counts the plots that loaded; the headless-browser test reads it back.
_SCRIPT = """
window.addEventListener('load', function () {
  var images = document.querySelectorAll('img.plot'), loaded = 0;
  images.forEach(function (img) { if (img.complete && img.naturalWidth > 0) loaded++; });
  document.body.setAttribute('data-plots', images.length);
  document.body.setAttribute('data-plots-loaded', loaded);
});
"""


def render(records, *, source="", peak_tflops=None, bandwidth_gbs=None, title="gemmtune results"):
    esc = html.escape
    by_device = {}
    for r in records:
        by_device.setdefault((device_name(r), r["problem"]["device"]), []).append(r)
    parts = ["<!DOCTYPE html>", _MARKER, "<html><head><meta charset='utf-8'>", f"<title>{esc(title)}</title>",
             f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>", f"<h1>{esc(title)}</h1>",
             f"<p class='meta'>{len(records)} tuning records from {esc(source)}; generated "
             f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}</p>"]
    if not records:
        parts.append("<p>The database holds no records yet: tune something first (gemmtune tune ...).</p>")
    for (name, device), group in sorted(by_device.items()):
        parts.append(f"<h2>{esc(name)} ({esc(device)})</h2>")
        parts.append(f"<img class='plot' alt='roofline of {esc(name)}' src='data:image/png;base64,"
                     f"{roofline_png(name, group, peak_tflops, bandwidth_gbs)}'>")
        png, rows = speedup_png(name, group)
        parts.append(f"<img class='plot' alt='speed-up over the library backend on {esc(name)}' "
                     f"src='data:image/png;base64,{png}'>")
        skipped = len([r for r in group if r.get("winner")]) - len(rows)
        if skipped:
            parts.append(f"<p class='meta'>{skipped} problem(s) left out of the speed-up chart: the library "
                         f"backend ({library_backend(group[0]['problem'])}) was not enabled or had no timed choice.</p>")
        for record in sorted(group, key=lambda r: describe(r["problem"])):
            parts.append(_problem_section(record))
    parts.append("</body></html>")
    return "\n".join(parts)


def write(text, path, force=False):
    """Writes atomically; an existing file that is not a gemmtune report is kept unless force."""
    if os.path.exists(path) and not force:
        with open(path, "rb") as f:
            if _MARKER.encode() not in f.read(4096):
                _fail(f"{path} exists and is not a gemmtune report; choose another -o or pass --force")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".gemmtune-report-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gemmtune.report",
                                     description="An HTML report (rooflines, speed-ups, every choice) of a gemmtune "
                                                 "results database or export file.")
    parser.add_argument("database", help="tuning.db, or a file from `gemmtune cache export`")
    parser.add_argument("-o", "--output", default="gemmtune-report.html", help="the HTML file (default %(default)s)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak for the roofline")
    parser.add_argument("--bandwidth-gbs", type=float, help="the device's memory bandwidth for the roofline")
    parser.add_argument("--title", default="gemmtune results")
    parser.add_argument("--force", action="store_true", help="overwrite an output file that is not a report")
    args = parser.parse_args(argv)
    for name in ("peak_tflops", "bandwidth_gbs"):
        value = getattr(args, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            parser.error(f"--{name.replace('_', '-')} must be a positive number")
    records = load_records(args.database)
    text = render(records, source=args.database, peak_tflops=args.peak_tflops, bandwidth_gbs=args.bandwidth_gbs,
                  title=args.title)
    write(text, args.output, force=args.force)
    print(f"gemmtune.report: {len(records)} records -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
