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
created) and export files (`gemmtune cache export`) as plain JSON. As for
the CLI's `cache import`, the input must be a regular file (a folder, a FIFO
or /dev/zero is refused, never read), an export file at most 1 GiB, and a
record that is not a well-formed tuning record is skipped with a warning
naming it (a file none of whose records is usable is refused). The output's
folder is checked before any work; the page replaces the file all at once,
keeping its permissions and any symlink to it.
"""

import argparse
import base64
import datetime
import html
import io
import json
import math
import numbers
import os
import sys

from . import _files

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


# The CLI's bound on import files (src/store/store.cpp, kMaxImportBytes).
MAX_EXPORT_BYTES = 1 << 30


def _fail(message):
    """Bad input: the message on stderr and exit code 2, before any work."""
    print(f"gemmtune.report: {message}", file=sys.stderr)
    raise SystemExit(2)


def _warn(message):
    print(f"gemmtune.report: warning: {message}", file=sys.stderr)


def _refusal(error):
    """The message of a path _files refused (OSError), or of one holding a NUL (ValueError)."""
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)


def load_records(path):
    """Every tuning record of a results database (.db) or export file (.json).
    A record the page cannot show is skipped with a warning naming it."""
    try:
        f = _files.open_regular(path, path)  # a folder, FIFO or device: refused, never read
    except (OSError, ValueError) as e:
        _fail(_refusal(e))
    with f:
        try:
            head = f.read(16)
            if not head.startswith(b"SQLite format 3"):
                size = os.fstat(f.fileno()).st_size
                if size > MAX_EXPORT_BYTES:
                    _fail(f"{path}: is {size} bytes, more than the {MAX_EXPORT_BYTES} bytes (1 GiB) an export file "
                          "may have")
                text = head + f.read(MAX_EXPORT_BYTES + 1 - len(head))
                if len(text) > MAX_EXPORT_BYTES:
                    _fail(f"{path}: grew past {MAX_EXPORT_BYTES} bytes (1 GiB) while being read")
        except OSError as e:
            _fail(f"{path}: cannot read it: {e.strerror}")
    if head.startswith(b"SQLite format 3"):
        import ctypes

        from . import _capi
        from .errors import Error

        out = ctypes.c_char_p()
        try:
            _capi.check(_capi.lib.gemmtune_database_records(path.encode(), ctypes.byref(out)))
        except Error as e:
            # The library's message and status: 2 (StoreInputError) for a file
            # that is not a gemmtune database, 1 for the machine's faults.
            print(f"gemmtune.report: {e}", file=sys.stderr)
            raise SystemExit(e.status) from None
        data = json.loads(out.value.decode())
    else:
        try:
            data = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            _fail(f"{path} is neither a gemmtune database nor an export file ({e})")
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        _fail(f"{path} has no 'records' list (not a gemmtune export file)")
    # As `gemmtune cache import`: each record stands alone; a bad one is
    # named and skipped, and a file with none usable is refused.
    good = []
    for i, record in enumerate(records):
        why = invalid_record(record)
        if why is None:
            good.append(record)
        else:
            _warn(f"skipped {path} records[{i}]: {why}")
    if records and not good:
        _fail(f"no record of {path} is a well-formed tuning record")
    return good


# ---------------------------------------------------------------- validation
#
# What the page reads of a record, checked before anything is drawn: an
# export file is the user's input, written by hand or by another tool.


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, numbers.Number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# kind -> (test, what the message says is expected). Sizes and strides are
# the C API's int64_t; times are what the page divides by.
_KINDS = {
    "object": (lambda v: isinstance(v, dict), "an object"),
    "array": (lambda v: isinstance(v, list), "an array"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "boolean": (lambda v: isinstance(v, (bool, int)), "a boolean"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 63,
                "an integer from 0 to 2**63 - 1"),
    "time": (lambda v: _is_number(v) and math.isfinite(v) and v >= 0, "a finite number >= 0"),
}


def _expect(value, where, kind):
    """Why `value` (at `where`) is not `kind`, or None."""
    test, wanted = _KINDS[kind]
    return None if test(value) else f"{where} must be {wanted}, not {_json_type(value)}"


def _first(*reasons):
    return next((r for r in reasons if r), None)


def _matrix_invalid(matrix, where):
    return _expect(matrix, where, "object") or _first(
        _expect(matrix.get("dtype"), where + ".dtype", "string"),
        *(_expect(matrix.get(f), f"{where}.{f}", "integer") for f in ("rows", "cols", "row_stride", "col_stride")),
        _expect(matrix.get("batch_stride", 0), where + ".batch_stride", "integer"))


def _rejection_invalid(rejection, where):
    if not rejection:
        return None
    return _expect(rejection, where, "object") or _first(
        *(_expect(rejection.get(f), f"{where}.{f}", "string") for f in ("stage", "reason", "message")))


def invalid_record(record):
    """Why the report cannot show this record (the first fault found), or None."""
    if not isinstance(record, dict):
        return f"a record must be an object, not {_json_type(record)}"
    problem = record.get("problem")
    reason = _expect(problem, "problem", "object")
    if reason:
        return reason
    reason = _first(
        _expect(problem.get("op"), "problem.op", "string"),
        _expect(problem.get("device"), "problem.device", "string"),
        *(_expect(problem.get(f), f"problem.{f}", "integer") for f in ("batch", "m", "n", "k")),
        *(_matrix_invalid(problem.get(f), f"problem.{f}") for f in ("a", "b", "c")),
        _expect(problem.get("bias", "none"), "problem.bias", "string"),
        _expect(problem.get("activation", "none"), "problem.activation", "string"),
        _expect(problem.get("allow_tf32", False), "problem.allow_tf32", "boolean"))
    if reason:
        return reason
    if problem.get("bias", "none") != "none":
        reason = _matrix_invalid(problem.get("bias_desc"), "problem.bias_desc")
        if reason:
            return reason
    winner = record.get("winner")
    if winner:
        reason = _expect(winner, "winner", "object") or _first(
            _expect(winner.get("backend"), "winner.backend", "string"),
            _expect(winner.get("choice"), "winner.choice", "string"),
            _expect(winner.get("time_us"), "winner.time_us", "time"))
        if reason:
            return reason
    for field in ("choices", "backends", "enabled"):
        reason = _expect(record.get(field, []), field, "array")
        if reason:
            return reason
    for i, choice in enumerate(record.get("choices", [])):
        where = f"choices[{i}]"
        reason = _expect(choice, where, "object") or _first(
            _expect(choice.get("backend"), where + ".backend", "string"),
            _expect(choice.get("name"), where + ".name", "string"),
            _rejection_invalid(choice.get("rejection"), where + ".rejection"))
        timing = choice.get("timing") if isinstance(choice, dict) else None
        if not reason and timing:
            reason = _expect(timing, where + ".timing", "object") or _expect(
                timing.get("median_us"), where + ".timing.median_us", "time")
        if reason:
            return reason
    for i, backend in enumerate(record.get("backends", [])):
        where = f"backends[{i}]"
        reason = _expect(backend, where, "object") or _first(
            _expect(backend.get("backend"), where + ".backend", "string"),
            _rejection_invalid(backend.get("rejection"), where + ".rejection"))
        if reason:
            return reason
    for i, name in enumerate(record.get("enabled", [])):
        reason = _expect(name, f"enabled[{i}]", "string")
        if reason:
            return reason
    for field in ("environment", "search_space", "created_at", "fallback_reason"):
        reason = _expect(record.get(field, ""), field, "string")
        if reason:
            return reason
    return _expect(record.get("tuning_seconds", 0), "tuning_seconds", "time")


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


def check_output(path, force=False):
    """Refuses (exit 2), before any work, an output the page could not
    replace: a missing or unwritable folder, anything but a regular file (or
    a symlink to one) at the path, and, unless force, an existing file that
    is not a gemmtune report."""
    what = f"-o {path}"
    try:
        target = _files.writable_target(path, what)
        if force or not os.path.exists(target):
            return
        with _files.open_regular(target, what) as f:
            head = f.read(4096)
    except (OSError, ValueError) as e:
        _fail(_refusal(e))
    if _MARKER.encode() not in head:
        _fail(f"{path} exists and is not a gemmtune report; choose another -o or pass --force")


def write(text, path, force=False):
    """Writes atomically, keeping the file's permissions and any symlink to
    it; an existing file that is not a gemmtune report is kept unless force."""
    check_output(path, force)
    try:
        _files.write_atomically(path, text, f"-o {path}")
    except OSError as e:  # the disk's fault (full, failing): the old file is left as it was
        print(f"gemmtune.report: {e.strerror or e}", file=sys.stderr)
        raise SystemExit(1) from None


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
    check_output(args.output, args.force)
    records = load_records(args.database)
    text = render(records, source=args.database, peak_tflops=args.peak_tflops, bandwidth_gbs=args.bandwidth_gbs,
                  title=args.title)
    write(text, args.output, force=args.force)
    print(f"gemmtune.report: {len(records)} records -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
