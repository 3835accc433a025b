"""Benchmark: memory and time of a verified download against astroquery's own download.

A product of ``--mib`` MiB (default 256: 256 blocks of the 1 MiB streaming chunk) with the
identity of the manifest's ``jump_uncal`` row is served by the local MAST stand-in
(tests/mast_standin.py, 127.0.0.1). Each method downloads it in a fresh Python process that
reports its peak RSS (``VmHWM``) and its RSS just before the download (after the imports):

* ``ours``: :func:`lrs_helpers.data.download` (product list, streamed body, size/identity checks,
  sha256, lock file);
* ``astroquery``: ``MastMissions(mission="jwst").download_file(..., verbose=False)``, the call
  lrs_helpers made before (no checks; it reads the whole body into memory);
* ``astroquery_verbose``: the same with ``verbose=True`` (streams in blocks, draws a progress bar
  into a buffer; no checks).

Reported per method: the median over ``--repeats`` rounds of the peak RSS increase (MiB) and
wall time (s), and ratios ours / astroquery from the same run. Prints one JSON document.

Run: ``.venv/bin/python benchmarks/bench_download.py [--mib 256 --repeats 3]``
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mast_standin import MastStandin  # noqa: E402

from lrs_helpers import __version__, data  # noqa: E402

KEY = "jump_uncal"

_CHILD = """
import json, os, sys, time
from pathlib import Path
method, server, out = sys.argv[1:4]
os.environ["LRS_HELPERS_MAST_SERVER"] = server
os.environ["LRS_HELPERS_CACHE"] = out
from lrs_helpers import data
name = data.info("{key}")["mast_filename"]
# every method starts with astroquery, astropy.io.fits and requests imported, so only the
# download itself is measured
import astropy.io.fits
client = data._mast_client(server, data.DOWNLOAD_TIMEOUT)
def status_mib(field):
    # VmHWM, not ru_maxrss: ru_maxrss carries the parent's peak across fork and exec
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
before = status_mib("VmRSS")
start = time.perf_counter()
if method == "ours":
    data.download("{key}")
else:
    status, message, _ = client.download_file(name, local_path=str(Path(out) / name), cache=False,
                                              verbose=(method == "astroquery_verbose"))
    assert status == "COMPLETE", message
wall = time.perf_counter() - start
peak = status_mib("VmHWM")
print(json.dumps({{"before_mib": before, "peak_mib": peak, "wall_s": wall}}))
""".format(key=KEY)


def _product(folder, mib):
    """A FITS file of about ``mib`` MiB with the identity of the manifest row of KEY."""
    row = data.info(KEY)
    header = fits.Header()
    header.update({"INSTRUME": "MIRI", "FILENAME": row["mast_filename"], "PROGRAM": row["program"],
                   "OBSERVTN": row["observation"], "EXP_TYPE": "MIR_LRS-SLITLESS", "DATAMODL": "RampModel"})
    groups = max(1, int(mib * 2**20 / (416 * 72 * 4)))
    sci = fits.ImageHDU(np.zeros((1, groups, 416, 72), dtype=np.float32), name="SCI")
    asdf = fits.BinTableHDU.from_columns([fits.Column("ASDF_METADATA", "1B", array=[0])], name="ASDF")
    path = Path(folder) / row["mast_filename"]
    fits.HDUList([fits.PrimaryHDU(header=header), sci, asdf]).writeto(path)
    return path


def _run(method, server, out):
    done = subprocess.run([sys.executable, "-c", _CHILD, method, server, str(out)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{method} failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    methods = ("ours", "astroquery", "astroquery_verbose")
    rounds = {method: [] for method in methods}
    with tempfile.TemporaryDirectory() as folder, MastStandin() as standin:
        product = _product(folder, args.mib)
        standin.add(product.name, product)
        for index in range(args.repeats):
            for method in methods:
                out = Path(folder) / f"{method}-{index}"
                out.mkdir()
                rounds[method].append(_run(method, standin.server, out))
                received = next(out.rglob(product.name))
                assert received.stat().st_size == product.stat().st_size
                received.unlink()
        size = product.stat().st_size
    summary = {}
    for method, results in rounds.items():
        summary[method] = {
            "peak_rss_increase_mib": round(statistics.median(r["peak_mib"] - r["before_mib"] for r in results), 1),
            "peak_rss_increase_mib_each": [round(r["peak_mib"] - r["before_mib"], 1) for r in results],
            "wall_s": round(statistics.median(r["wall_s"] for r in results), 3),
            "wall_s_each": [round(r["wall_s"], 3) for r in results],
        }
    print(json.dumps({
        "benchmark": "verified download vs astroquery download_file, same file, same local server",
        "product_bytes": size,
        "repeats": args.repeats,
        "methods": summary,
        "ratio_peak_rss_increase_ours_over_astroquery": round(
            summary["ours"]["peak_rss_increase_mib"] / max(summary["astroquery"]["peak_rss_increase_mib"], 0.1), 3),
        "ratio_wall_ours_over_astroquery": round(summary["ours"]["wall_s"] / summary["astroquery"]["wall_s"], 2),
        "ratio_wall_ours_over_astroquery_verbose": round(
            summary["ours"]["wall_s"] / summary["astroquery_verbose"]["wall_s"], 2),
        "lrs_helpers": __version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }, indent=1))


if __name__ == "__main__":
    main()
