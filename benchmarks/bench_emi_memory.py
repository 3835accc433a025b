"""Benchmark: peak memory of the streamed EMI correction of a whole TSO segment (>= 2 GB uncal).

Builds, in a temporary folder, a SLITLESSPRISM FASTR1 ``_uncal.fits`` of ``--nints`` x
``--ngroups`` x 416 x 72 uint16 (default 1000 x 36: 2.16 GB, the size of a real segment), written
integration block by integration block so that building it needs little memory: a fixed bias
pattern, 8 DN/group sky, 4.17 DN read noise per read, and the flight-measured 390.625 Hz waveform
(:func:`lrs_helpers.emi.flight_waveform`) at every pixel's read time. Then, each in a fresh
process which reports its own peak resident memory (VmHWM):

* ``baseline``: the imports alone (Python, numpy, astropy, stdatamodels, lrs_helpers.emi);
* ``streamed``: :func:`lrs_helpers.emi.correct_file` with ``chunk_bytes=--chunk-mb``;
* ``in_memory`` (``--in-memory-nints``, default 1000 x 10 groups, 571 MB in memory, the case of
  the issue): the ramps built in memory then :func:`lrs_helpers.emi.correct`, as a multiple of
  the input's size.

The target: the streamed peak under 2 x one chunk + 300 MB. The residual 390 Hz EMI of the
streamed output is checked against the known injected waveform on the first and last blocks.
Prints one JSON document.

Run: ``.venv/bin/python benchmarks/bench_emi_memory.py [--nints 1000 --ngroups 36 --chunk-mb 256]``
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lrs_helpers import emi, instrument

SUBARRAY, READPATT = "SLITLESSPRISM", "FASTR1"
PHASE_OFFSET = 0.3
BIAS_DN, SKY_DN_PER_GROUP, READ_NOISE_DN = 12310.0, 8.0, 5.9 / np.sqrt(2.0)


def block_ramps(start, count, ngroups, seed):
    """Ramps of integrations start..start+count: (ramps uint16, EMI-free float32).

    The read noise of integration i repeats that of i mod 8, and FASTR1 integrations of this
    length start at one of 8 EMI phases, so 8 precomputed integrations make any block fast to
    build (the memory and the residual check do not depend on fresh noise).
    """
    clean_bank, emi_bank = _bank(ngroups, seed)
    which = np.arange(start, start + count) % len(clean_bank)
    clean = clean_bank[which]
    ramps = np.clip(np.rint(clean + emi_bank[which]), 0, 65535).astype(np.uint16)
    return ramps, clean


_BANKS = {}


def _bank(ngroups, seed, size=8):
    """EMI-free ramps and EMI of integrations 0..size-1 (cached)."""
    if (ngroups, seed) not in _BANKS:
        ny, nx = emi.SUBARRAY_SHAPES[SUBARRAY]
        rng = np.random.default_rng(seed)
        bias = BIAS_DN + rng.normal(0.0, 150.0, (ny, nx)).astype(np.float32)
        clean = rng.standard_normal((size, ngroups, ny, nx), dtype=np.float32) * np.float32(READ_NOISE_DN)
        clean += bias
        clean += (SKY_DN_PER_GROUP * np.arange(ngroups, dtype=np.float32))[None, :, None, None]
        times = emi.pixel_read_times(size, ngroups, ny, nx, SUBARRAY, READPATT)[..., ::emi.N_CHANNELS]
        signal = emi.emi_signal(times, 390.625, emi.flight_waveform(PHASE_OFFSET)).astype(np.float32)
        # Integration i starts (ngroups + 1) x 62.125 periods after integration i - 1: a phase
        # step of a multiple of 1/8 cycle, so integration i carries the EMI of integration i mod 8.
        step = ((ngroups + 1) * 62.125) % 1
        assert (size * step) % 1 == 0, "the EMI phases of integrations must repeat within the bank"
        _BANKS[(ngroups, seed)] = clean, np.repeat(signal, emi.N_CHANNELS, axis=-1)
    return _BANKS[(ngroups, seed)]


def build_uncal(path, nints, ngroups, seed, block_ints=50):
    """Write the test segment block by block (StreamingHDU); returns its size in bytes."""
    from astropy.io import fits
    from stdatamodels.jwst import datamodels

    ny, nx = emi.SUBARRAY_SHAPES[SUBARRAY]
    model = datamodels.Level1bModel(data=np.zeros((1, ngroups, ny, nx), np.uint16))
    model.meta.instrument.name, model.meta.instrument.detector = "MIRI", "MIRIMAGE"
    model.meta.instrument.filter = "P750L"
    model.meta.exposure.type, model.meta.exposure.readpatt = "MIR_LRS-SLITLESS", READPATT
    model.meta.exposure.nints, model.meta.exposure.ngroups = nints, ngroups
    model.meta.exposure.nframes, model.meta.exposure.groupgap, model.meta.exposure.nsamples = 1, 0, 1
    model.meta.subarray.name = SUBARRAY
    model.meta.subarray.xstart, model.meta.subarray.ystart = 1, 529
    model.meta.subarray.xsize, model.meta.subarray.ysize = nx, ny
    model.meta.filename = path.name
    buffer = io.BytesIO()
    model.to_fits(buffer)
    buffer.seek(0)
    with fits.open(buffer) as parts:
        parts[0].writeto(path, overwrite=True)
        for part in parts[1:]:
            if part.name == "SCI":
                header = part.header.copy()
                header["NAXIS4"] = nints
                stream = fits.StreamingHDU(str(path), header)
                for start in range(0, nints, block_ints):
                    count = min(block_ints, nints - start)
                    # uint16 is stored as int16 with BZERO = 32768
                    stream.write((block_ramps(start, count, ngroups, seed)[0] ^ np.uint16(0x8000)).view(np.int16))
                stream.close()
            else:
                with fits.open(path, mode="append") as target:
                    target.append(part.copy())
    return path.stat().st_size


def run_child(code):
    """Run Python code in a fresh process; (its peak resident memory in MB, wall seconds, stdout).

    The peak is the child's own VmHWM (Linux /proc/self/status), read by the child at its end:
    ``ru_maxrss`` would carry over the parent's size from before the child's exec.
    """
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK + code + "print(_peak_mb())\n"],
                          capture_output=True, text=True, check=True)
    lines = done.stdout.split()
    return float(lines[-1]), time.perf_counter() - start, lines[:-1]


PEAK = ("def _peak_mb():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM'):\n"
        "            return int(line.split()[1]) / 1024\n")
IMPORTS = "import numpy, astropy.io.fits, stdatamodels.jwst.datamodels\nfrom lrs_helpers import emi\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=1000)
    parser.add_argument("--ngroups", type=int, default=36)
    parser.add_argument("--chunk-mb", type=float, default=256.0)
    parser.add_argument("--in-memory-nints", type=int, default=1000, help="0 to skip")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    ny, nx = emi.SUBARRAY_SHAPES[SUBARRAY]
    report = {"benchmark": "emi_correct_file_memory"}
    with tempfile.TemporaryDirectory(prefix="bench_emi_memory-") as folder:
        uncal = Path(folder) / "jw00000000000_00000_00001-seg001_mirimage_uncal.fits"
        start = time.perf_counter()
        size = build_uncal(uncal, args.nints, args.ngroups, args.seed)
        report["uncal"] = {"nints": args.nints, "ngroups": args.ngroups, "ny": ny, "nx": nx,
                           "file_mb": round(size / 2**20, 1), "build_seconds": round(time.perf_counter() - start, 1)}
        baseline_mb, _, _ = run_child(IMPORTS)
        out = Path(folder) / "corrected_ramp.fits"
        chunk_bytes = int(args.chunk_mb * 2**20)
        streamed_mb, seconds, _ = run_child(
            IMPORTS + f"emi.correct_file({str(uncal)!r}, {str(out)!r}, chunk_bytes={chunk_bytes}, progress=False)\n")
        limit_mb = 2 * args.chunk_mb + 300
        report["baseline_imports_peak_rss_mb"] = round(baseline_mb, 1)
        report["streamed"] = {
            "chunk_mb": args.chunk_mb,
            "chunk_integrations": emi._block_ints((args.nints, args.ngroups, ny, nx), chunk_bytes),
            "peak_rss_mb": round(streamed_mb, 1), "target_mb": limit_mb,
            "meets_target": bool(streamed_mb < limit_mb),
            "peak_rss_over_file": round(streamed_mb / (size / 2**20), 3),
            "seconds": round(seconds, 1), "output_mb": round(out.stat().st_size / 2**20, 1),
        }
        report["streamed"]["residual_390_fraction"] = check_residual(out, args)
        out.unlink()
    if args.in_memory_nints:
        nints, ngroups = args.in_memory_nints, 10
        input_mb = nints * ngroups * ny * nx * 2 / 2**20
        code = (IMPORTS + "import sys, resource\nsys.path.insert(0, " + repr(str(Path(__file__).parent)) + ")\n"
                "from bench_emi_memory import block_ramps\n"
                f"ramps = numpy.empty(({nints}, {ngroups}, 416, 72), numpy.uint16)\n"
                f"for start in range(0, {nints}, 50):\n"
                f"    ramps[start:start + 50] = block_ramps(start, min(50, {nints} - start), {ngroups}, {args.seed})[0]\n"
                "print(_peak_mb())\n"
                "open('/proc/self/clear_refs', 'w').write('5')  # restart the peak count here\n"
                "emi.correct(ramps, 'SLITLESSPRISM', 'FASTR1', (390.625, 10.039216))\n")
        peak_mb, seconds, stdout = run_child(code)
        report["in_memory_correct"] = {
            "nints": nints, "ngroups": ngroups, "input_mb": round(input_mb, 1),
            "peak_rss_mb": round(peak_mb, 1), "peak_rss_while_building_mb": round(float(stdout[-1]), 1),
            "peak_over_input": round(peak_mb / input_mb, 2), "seconds_with_building": round(seconds, 1),
        }
    report["versions"] = {"numpy": np.__version__, "python": sys.version.split()[0]}
    print(json.dumps(report, indent=1))
    return 0 if report["streamed"]["meets_target"] else 1


def check_residual(out, args):
    """390 Hz fundamental left in the first and last blocks of the output, fraction of injected."""
    from astropy.io import fits

    injected = np.hypot(*emi.flight_waveform(PHASE_OFFSET)[0])
    ny, nx = emi.SUBARRAY_SHAPES[SUBARRAY]
    fractions = {}
    with fits.open(out, memmap=False) as hdul:
        for start in (0, ((args.nints - 1) // 50) * 50):
            count = min(50, args.nints - start)
            corrected = np.asarray(hdul["SCI"].section[start:start + count], dtype=np.float64)
            clean = block_ramps(start, count, args.ngroups, args.seed)[1]
            times = emi.pixel_read_times(count, args.ngroups, ny, nx, SUBARRAY, READPATT)
            times += start * (args.ngroups + 1) * instrument.FRAME_TIME_S[SUBARRAY]
            left = emi.fit_periodic(times, corrected - clean, 390.625)[0]
            fractions[f"integrations_{start}_{start + count}"] = round(float(np.hypot(*left) / injected), 4)
    return fractions


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    raise SystemExit(main())
