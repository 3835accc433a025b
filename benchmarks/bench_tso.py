"""Benchmark: a whole multi-segment time series through diagnose and the EMI correction.

Writes ``--segments`` SLITLESSPRISM FASTR1 uncal segments of ``--nints`` x ``--ngroups`` x 416 x
72 (default 4 x 1000 x 36: 2.16 GB each, 8.6 GB in all) into a folder under ``--folder``
(default /tmp), integration block by integration block: the emi_tso twin's ramps (point source
on the slitless sky, photon and read noise, flight 390.625 Hz and 10 Hz EMI;
:func:`lrs_helpers.sample.emi_tso.simulate`) for 8 integrations, repeated (SLITLESSPRISM
integrations of any length start at one of 8 390 Hz phases, so the 390 Hz EMI stays true; the
10 Hz EMI and the noise repeat every 8 integrations, which changes neither the work nor the
memory). Each segment is marked as a sample twin. Then:

* serial, in one child process, per segment: one read of the data (every integration through
  :class:`lrs_helpers.io.IntegrationChunks`, the anchor), :func:`lrs_helpers.diagnosis.diagnose`
  and :func:`lrs_helpers.emi.correct_file`, each with its wall time, its time as a multiple of
  the read, and its peak resident memory (VmHWM, reset before each step through
  /proc/self/clear_refs); the EMI fit with BLAS on one thread and on every core;
* Dask, in another child: a LocalCluster of ``--workers`` single-threaded worker processes
  (started, then the helpers imported on each, both timed apart) diagnoses every segment (:func:`lrs_helpers.diagnosis.diagnose_files`) and corrects every
  segment (:func:`lrs_helpers.segments.map_segments`); wall times, speed-up over the serial
  sum, each worker's peak memory, and whether each report is the same as the serial one;
* level 2, in a third child: a rateints of ``--rateints-gb`` (default 2.2 GB, 3661 integrations)
  and an x1dints of ``--x1dints-gb`` (1.05 GB, 19225 integrations) grown from the
  slitless_background and error_tso twins (their integrations repeated in order,
  :func:`grow_product`) through :func:`lrs_helpers.diagnosis.diagnose`, timed against one read
  of every byte of the file, with the peak memory of each.

``--parts`` picks what runs (default ``ramps,dask,level2``).

Measured (4 x 2.16 GB, 8.6 GB; 2 cores shared with other jobs, load average 8-10, Linux
autogroup scheduling on; imports alone 201 MB):

* diagnose per segment 61 / 67 / 75 / 75 s (5.9-11.4 x one read of the segment, 6.5-10.5 s),
  peak 485-533 MB (0.24-0.26 x the segment); it reads each segment three times (usability,
  EMI, jump check);
* emicorr per segment 38 / 58 / 49 / 56 s (4.7-8.9 x one read), peak 678-686 MB (0.33 x);
* Dask, 2 workers: diagnose of the 4 segments 685 s against 278 s serial (speed-up 0.41),
  emicorr 216 s against 200 s (0.93), worker peaks 550 / 705 MB; every report the same as the
  serial one. No speed-up on this machine: other sessions kept both cores busy and autogroup
  scheduling shares the CPU between sessions, so two workers of one session split one share
  (and read two 2 GB files at once). On idle cores the segments are independent work;
* the EMI fit on two chunks: 0.76 s with BLAS on one thread, 3.77 s on every core.

After the level-2 products were streamed and the ramp checks made to share one pass
(``--parts ramps,level2 --segments 1``; load average 6.9-7.5 on 2 cores; imports 201 MB):

* uncal, 2.16 GB, two runs: diagnose 79.9 / 73.5 s (20.7 / 24.1 x one read of 3.9 / 3.1 s),
  reading the file once instead of three times; peak 608 / 608 MB (0.30 x the segment, up from
  485-533 MB: the jump check's trace-peak rate image of the first chunk is now made while the
  EMI fit's state is held); emicorr 51.0 / 64.3 s (13.2 / 21.1 x), 679 / 687 MB; the EMI fit on
  two chunks 0.66 / 0.92 s on one BLAS thread, 3.50 / 3.37 s on every core;
* rateints, 2.19 GB (3661 integrations): diagnose 81.4 s (20.3 x one read of 4.0 s), peak
  498 MB (0.24 x); an earlier run on 2.09 GB gave 99.2 s, 499 MB;
* x1dints, 1.05 GB (19225 integrations): diagnose 27.4 s (28.3 x one read of 0.97 s), peak
  680 MB (0.68 x: the spectra columns a check needs, 60 MB each, are whole arrays). Before
  err_vs_scatter was held to the first 2048 integrations the same file took 51.3 s and 1.59 GB.

On an idle machine (``--parts ramps,dask --segments 4 --nints 500``: 4 x 1.08 GB; load average
1.3-2.0 on 2 cores):

* serial, per segment: diagnose 12.6 / 11.0 / 11.4 / 9.2 s (9.8-22 x one read), peak 522-606 MB;
  emicorr 10.4 / 10.7 / 10.7 / 11.8 s (12.6-18.3 x), peak 674-686 MB;
* Dask, 2 workers: diagnose 38.6 s against 44.2 s serial (speed-up 1.15), emicorr 27.7 s
  against 43.6 s (1.57); worker peaks 596 / 668 MB; every report the same as the serial one.
  With Dask's default worker settings diagnose had no speed-up (0.99): memory handed back to
  the system above 64 KiB and the stack sampler made a diagnose 2.7x slower in a worker than in
  a plain process; the local cluster now starts its workers with
  ``segments.LOCAL_WORKER_CONFIG``. A worker is still ~1.5x slower than a plain process at
  diagnose (cause not found), which limits its speed-up.

The segments and outputs are deleted at the end. Prints one JSON document; exits 1 when a
peak is above ``--target-mb`` (1 GB) on any segment, or a Dask report differs from the serial.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_tso.py [--segments 4 --nints 1000 --ngroups 36]
[--parts ramps,dask,level2]``
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lrs_helpers import __version__, sample
from lrs_helpers.sample import emi_tso, grounding

SUBARRAY, READPATT = emi_tso.SUBARRAY, emi_tso.READPATT
ROOT = "jw01033005001_04103_00001"
BANK_INTS = 8


def build_segment(path, number, nints, ngroups, seed, first_integration, block_ints=50):
    """Write one uncal segment block by block (StreamingHDU); returns its size in bytes."""
    from astropy.io import fits
    from stdatamodels.jwst import datamodels

    bank = emi_tso.simulate(BANK_INTS, ngroups, seed)["ramps"]
    model = datamodels.Level1bModel(data=bank[:1])
    grounding.base_metadata(model, exp_type="MIR_LRS-SLITLESS", subarray=SUBARRAY, ngroups=ngroups, nints=nints,
                            readpatt=READPATT, target=emi_tso.TARGET, target_ra=emi_tso.TARGET_RA,
                            target_dec=emi_tso.TARGET_DEC, start="2022-07-06T05:42:18.000",
                            filename=path.name, tso=True)
    model.meta.exposure.segment_number = number
    model.meta.exposure.integration_start = first_integration
    model.meta.exposure.integration_end = first_integration + nints - 1
    model.int_times = emi_tso._int_times(model.meta.exposure.start_time, nints, ngroups)
    buffer = io.BytesIO()
    model.to_fits(buffer)
    buffer.seek(0)
    with fits.open(buffer) as parts:
        parts[0].writeto(path, overwrite=True)
        sample.mark_twin(path, scenario="emi_tso", seed=seed)  # a small file yet: cheap in place
        for part in parts[1:]:
            if part.name == "SCI":
                header = part.header.copy()
                header["NAXIS4"] = nints
                stream = fits.StreamingHDU(str(path), header)
                for start in range(0, nints, block_ints):
                    which = np.arange(start, min(start + block_ints, nints)) % BANK_INTS
                    stream.write((bank[which] ^ np.uint16(0x8000)).view(np.int16))  # uint16 as BZERO 32768
                stream.close()
            else:
                with fits.open(path, mode="append") as target:
                    target.append(part.copy())
    return path.stat().st_size


def _data_bytes(header):
    """Bytes of an HDU's data, without the padding to a whole FITS block."""
    if header.get("XTENSION") == "BINTABLE":
        return int(header["NAXIS1"]) * int(header["NAXIS2"]) + int(header.get("PCOUNT", 0))
    if not header.get("NAXIS"):
        return 0
    return abs(int(header["BITPIX"])) // 8 * int(np.prod([header[f"NAXIS{i}"] for i in range(1, header["NAXIS"] + 1)]))


def grow_product(twin, path, nints):
    """Write a copy of a level-2 twin (rateints, x1dints) with ``nints`` integrations.

    Every extension that holds one image or table row per integration (the cubes of a
    rateints; EXTRACT1D and INT_TIMES of an x1dints) repeats the twin's integrations in order;
    the other extensions are copied byte for byte, the primary header gets the new NINTS. A
    twin's whole data are held at once (tens of MB), the output is written a copy at a time.
    Returns the file's size in bytes.
    """
    from astropy.io import fits

    with fits.open(twin, memmap=False) as hdul, open(twin, "rb") as source, open(path, "wb") as out:
        twin_nints = int(hdul[0].header["NINTS"])
        for hdu in hdul:
            header = hdu.header.copy()
            for key in ("CHECKSUM", "DATASUM"):
                header.remove(key, ignore_missing=True)
            size = _data_bytes(header)
            data = os.pread(source.fileno(), size, hdu.fileinfo()["datLoc"]) if size else b""
            axis = f"NAXIS{header.get('NAXIS', 0)}" if header.get("XTENSION") == "IMAGE" else "NAXIS2"
            repeats = header.get("XTENSION") in ("IMAGE", "BINTABLE") and header.get(axis) == twin_nints
            if hdu is hdul[0]:
                header["NINTS"], header["INTSTART"], header["INTEND"] = nints, 1, nints
            if repeats:
                header[axis] = nints
            out.write(header.tostring().encode("ascii"))
            if repeats:
                copies, rest = divmod(nints, twin_nints)
                for _ in range(copies):
                    out.write(data)
                out.write(data[:rest * (size // twin_nints)])
                size = size // twin_nints * nints
            else:
                out.write(data)
            out.write(bytes(-size % 2880))
    return Path(path).stat().st_size


PEAK = """
import json, os, sys, time
def peak_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) / 1024
def reset_peak():
    with open('/proc/self/clear_refs', 'w') as handle:
        handle.write('5')
def step(row, name, function):
    # one timed step, its peak memory measured from a reset
    reset_peak()
    start = time.perf_counter()
    result = function()
    row[name] = {"seconds": time.perf_counter() - start, "peak_rss_mb": peak_mb()}
    return result
"""

SERIAL = PEAK + """
import numpy as np
from lrs_helpers import diagnosis, emi, io
paths, out_folder = json.loads(sys.argv[1]), sys.argv[2]
print(json.dumps({"imports_peak_rss_mb": peak_mb()}), flush=True)
for path in paths:
    row = {"segment": os.path.basename(path)}
    chunks = io.IntegrationChunks(path)
    step(row, "read", lambda: sum(float(np.sum(ramps, dtype=np.uint64)) for _, ramps, _ in chunks))
    report = step(row, "diagnose", lambda: diagnosis.diagnose(path))
    row["findings"] = {f.check: [f.severity, f.measured] for f in report.findings}
    out = os.path.join(out_folder, os.path.basename(path).replace("_uncal", "_emicorr_ramp"))
    step(row, "emicorr", lambda: emi.correct_file(path, out, progress=False))
    os.unlink(out)
    print(json.dumps(row, default=str), flush=True)
# BLAS threads for the EMI fit: the first two chunks of the first segment
chunks = io.IntegrationChunks(paths[0])
first = [block for block, _ in zip(chunks, range(2))]
for name, limit in (("blas_1_thread", 1), ("blas_every_core", os.cpu_count())):
    with emi.blas_threads(limit):
        start = time.perf_counter()
        emi.measure_blocks(first, chunks.shape, "SLITLESSPRISM", "FASTR1", (390.625, 10.039216))
        print(json.dumps({"threads": name, "seconds": time.perf_counter() - start}), flush=True)
"""

LEVEL2 = PEAK + """
from lrs_helpers import diagnosis
for path in json.loads(sys.argv[1]):
    row = {"segment": os.path.basename(path)}
    def read():  # the floor: every byte of the file once, 64 MB at a time
        with open(path, "rb", buffering=0) as handle:
            while handle.read(64 * 2**20):
                pass
    step(row, "read", read)
    report = step(row, "diagnose", lambda: diagnosis.diagnose(path))
    row["findings"] = {f.check: [f.severity, f.measured] for f in report.findings}
    print(json.dumps(row, default=str), flush=True)
"""

DASK = PEAK + """
import dask
from dask.distributed import Client, LocalCluster
from lrs_helpers import cli, diagnosis, segments
paths, out_folder, workers = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def worker_peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) / 1024
def worker_reset():
    with open('/proc/self/clear_refs', 'w') as handle:
        handle.write('5')
def warm_up():
    import lrs_helpers.cli, lrs_helpers.diagnosis
if __name__ == "__main__":
    start = time.perf_counter()
    # the worker settings of lrs-helpers' own local cluster (segments.LOCAL_WORKER_CONFIG)
    with dask.config.set(segments.LOCAL_WORKER_CONFIG), \\
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \\
            Client(cluster) as client:
        client.wait_for_workers(workers)
        cluster_start = time.perf_counter() - start
        started = time.perf_counter()
        client.run(warm_up)  # the helpers' imports, once per worker
        imports = time.perf_counter() - started
        started = time.perf_counter()
        client.run(worker_reset)
        results = diagnosis.diagnose_files(paths, scheduler=client)
        diagnose_seconds = time.perf_counter() - started
        diagnose_peaks = sorted(client.run(worker_peak).values())
        client.run(worker_reset)
        items = [(p, os.path.join(out_folder, os.path.basename(p).replace("_uncal", "_emicorr_ramp")), False)
                 for p in paths]
        started = time.perf_counter()
        written = segments.map_segments(cli._emicorr_one, items, scheduler=client)
        emicorr_seconds = time.perf_counter() - started
        emicorr_peaks = sorted(client.run(worker_peak).values())
    for _, out in written:
        if not isinstance(out, Exception):
            os.unlink(out)
    print(json.dumps({
        "cluster_start_seconds": cluster_start, "worker_imports_seconds": imports,
        "diagnose_seconds": diagnose_seconds, "diagnose_worker_peak_rss_mb": diagnose_peaks,
        "emicorr_seconds": emicorr_seconds, "emicorr_worker_peak_rss_mb": emicorr_peaks,
        "failed": [str(r) for _, r in results + written if isinstance(r, Exception)],
        "findings": {os.path.basename(str(p)): {f.check: [f.severity, f.measured] for f in r.findings}
                     for p, r in results if not isinstance(r, Exception)},
    }, default=str), flush=True)
"""


def run_child(code, *args):
    """Run Python code in a fresh process; the JSON lines it prints."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _round(value, digits=2):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    return value


def level2(folder, rateints_gb, x1dints_gb):
    """The level-2 segments (a rateints, an x1dints) grown from the twins, through diagnose."""
    from lrs_helpers import data

    built, paths = {}, []
    for key, target_gb in (("slitless_rateints", rateints_gb), ("errors_x1dints", x1dints_gb)):
        twin = data.get(key, source="sample", verbose=False)
        twin_bytes, twin_nints = twin.stat().st_size, _nints(twin)
        nints = int(np.ceil(target_gb * 1e9 / (twin_bytes / twin_nints)))
        path = folder / twin.name
        start = time.perf_counter()
        size = grow_product(twin, path, nints)
        built[twin.name] = {"gb": round(size / 1e9, 2), "nints": nints,
                            "build_seconds": round(time.perf_counter() - start, 1)}
        paths.append(str(path))
    rows = run_child(LEVEL2, json.dumps(paths))
    for row in rows:
        row.update(built[row["segment"]])
        size_mb = built[row["segment"]]["gb"] * 1e9 / 2**20
        row["diagnose"]["times_one_read"] = row["diagnose"]["seconds"] / row["read"]["seconds"]
        row["diagnose"]["peak_rss_over_segment"] = row["diagnose"]["peak_rss_mb"] / size_mb
        row["findings"] = {check: severity for check, (severity, _) in row["findings"].items()}
    return _round(rows)


def _nints(path):
    from astropy.io import fits

    return int(fits.getheader(path, 0)["NINTS"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--nints", type=int, default=1000, help="integrations per segment")
    parser.add_argument("--ngroups", type=int, default=36)
    parser.add_argument("--workers", type=int, default=2, help="Dask LocalCluster worker processes")
    parser.add_argument("--folder", default="/tmp", help="where the segments are written (then deleted)")
    parser.add_argument("--target-mb", type=float, default=1024.0, help="peak memory target per segment")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rateints-gb", type=float, default=2.1, help="size of the level-2 rateints segment")
    parser.add_argument("--x1dints-gb", type=float, default=1.05, help="size of the level-2 x1dints segment")
    parser.add_argument("--parts", default="ramps,dask,level2",
                        help="comma-separated: ramps (uncal series, serial), dask (the same on workers; "
                             "needs ramps), level2 (a rateints and an x1dints through diagnose)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts <= {"ramps", "dask", "level2"} or ("dask" in parts and "ramps" not in parts):
        parser.error(f"--parts {args.parts}: expected some of ramps, dask, level2 (dask with ramps)")
    report = {"benchmark": "tso_series", "segments": args.segments, "nints": args.nints, "ngroups": args.ngroups,
              "cores": len(os.sched_getaffinity(0)), "target_mb": args.target_mb,
              # other work on the machine slows every step; on a shared machine it decides the speed-up
              "load_average_at_start": [round(v, 1) for v in os.getloadavg()]}
    folder = Path(tempfile.mkdtemp(prefix="bench_tso-", dir=args.folder))
    peaks, same = [], {}
    try:
        if "ramps" in parts:
            peaks += ramps(report, folder, args, "dask" in parts)
            same = report.get("dask", {}).get("reports_same_as_serial", {})
        if "level2" in parts:
            report["level2"] = level2(folder, args.rateints_gb, args.x1dints_gb)
            peaks += [row["diagnose"]["peak_rss_mb"] for row in report["level2"]]
        report["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
        report["meets_target"] = bool(max(peaks) < args.target_mb)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report["versions"] = {"numpy": np.__version__, "python": sys.version.split()[0], "lrs_helpers": __version__}
    print(json.dumps(report, indent=1))
    return 0 if report["meets_target"] and all(same.values()) else 1


def ramps(report, folder, args, with_dask):
    """The uncal series: serial diagnose and emicorr per segment, then (``with_dask``) the same
    on a LocalCluster. Adds to ``report``; returns every peak RSS (MB)."""
    paths, sizes = [], []
    start = time.perf_counter()
    for number in range(1, args.segments + 1):
        path = folder / f"{ROOT}-seg{number:03d}_mirimage_uncal.fits"
        sizes.append(build_segment(path, number, args.nints, args.ngroups, args.seed + number,
                                   1 + (number - 1) * args.nints))
        paths.append(str(path))
    report["series_gb"] = round(sum(sizes) / 1e9, 2)
    report["segment_gb"] = [round(size / 1e9, 2) for size in sizes]
    report["build_seconds"] = round(time.perf_counter() - start, 1)
    out = folder / "out"
    out.mkdir()

    lines = run_child(SERIAL, json.dumps(paths), str(out))
    report["imports_peak_rss_mb"] = round(lines[0]["imports_peak_rss_mb"])
    rows = [line for line in lines if "segment" in line]
    serial_findings = {}
    for row, size in zip(rows, sizes):
        serial_findings[row["segment"]] = row.pop("findings")
        for step in ("read", "diagnose", "emicorr"):
            row[step]["peak_rss_over_segment"] = row[step]["peak_rss_mb"] / (size / 2**20)
            if step != "read":
                row[step]["times_one_read"] = row[step]["seconds"] / row["read"]["seconds"]
    report["serial"] = _round(rows)
    report["threads"] = {line["threads"]: round(line["seconds"], 2) for line in lines if "threads" in line}
    serial_diagnose = sum(row["diagnose"]["seconds"] for row in rows)
    serial_emicorr = sum(row["emicorr"]["seconds"] for row in rows)
    report["serial_total_seconds"] = {"diagnose": round(serial_diagnose, 1), "emicorr": round(serial_emicorr, 1)}
    report["findings_first_segment"] = _round(next(iter(serial_findings.values())), 4)
    peaks = [row[step]["peak_rss_mb"] for row in rows for step in ("diagnose", "emicorr")]
    if not with_dask:
        return peaks

    dask_run = run_child(DASK, json.dumps(paths), str(out), str(args.workers))[0]
    same = {name: dask_run["findings"].get(name) == json.loads(json.dumps(found, default=str))
            for name, found in serial_findings.items()}
    report["dask"] = _round({
        "workers": args.workers, "threads_per_worker": 1,
        "cluster_start_seconds": dask_run["cluster_start_seconds"],
        "worker_imports_seconds": dask_run["worker_imports_seconds"],
        "diagnose_seconds": dask_run["diagnose_seconds"],
        "diagnose_speedup": serial_diagnose / dask_run["diagnose_seconds"],
        "diagnose_worker_peak_rss_mb": dask_run["diagnose_worker_peak_rss_mb"],
        "emicorr_seconds": dask_run["emicorr_seconds"],
        "emicorr_speedup": serial_emicorr / dask_run["emicorr_seconds"],
        "emicorr_worker_peak_rss_mb": dask_run["emicorr_worker_peak_rss_mb"],
        "failed": dask_run["failed"], "reports_same_as_serial": same,
    })
    return peaks + dask_run["diagnose_worker_peak_rss_mb"] + dask_run["emicorr_worker_peak_rss_mb"]


if __name__ == "__main__":
    raise SystemExit(main())
