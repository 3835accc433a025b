"""Benchmark: lrs_helpers.emi.correct against jwst's EMI corrections on the same ramps.

Ramps: the emi_tso twin's simulation (SLITLESSPRISM FASTR1, point source, sky, photon and read
noise, 390.625 Hz and 10.039216 Hz EMI on the true read clock), by default 50 integrations x 20
groups x 416 x 72. Three corrections of the 390.625 Hz EMI run on identical copies:

* ``ours``: :func:`lrs_helpers.emi.correct` (``frequencies=(390.625,)``);
* ``jwst_refwave``: the pure-array joint fit ``jwst.emicorr.emicorr.emicorr_refwave``, given the
  *true* injected waveform as its reference (an advantage ours does not get);
* ``jwst_step_sequential``: ``EmiCorrStep(algorithm="sequential", onthefly_corr_freq=[390.625])``
  run offline through :func:`lrs_helpers.pipeline.run_step` on a RampModel.

Each of ``--repeats`` rounds runs the three back to back; reported are the best wall and CPU
times, the median of the per-round wall-time ratios (robust to a shared, busy machine), and the
residual 390 Hz amplitude measured against truth: the fundamental fitted by ordinary least squares (:func:`lrs_helpers.emi.fit_periodic`)
to (corrected - EMI-free ramps), as a fraction of the injected amplitude. Ratios are jwst time /
our time from the same run. Prints one JSON document.

Run: ``.venv/bin/python benchmarks/bench_emi.py [--nints 50 --ngroups 20 --repeats 5]``
"""

import os

# One thread for every method (before numpy loads its BLAS): a like-for-like single-core
# comparison, and one that a busy shared machine disturbs least.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from lrs_helpers import __version__, emi, pipeline  # noqa: E402
from lrs_helpers.sample import emi_tso  # noqa: E402

FREQUENCY = 390.625


def _timed(function):
    """(wall seconds, CPU seconds of this process, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _ramp_model(ramps):
    from stdatamodels.jwst import datamodels

    ny, nx = ramps.shape[2:]
    model = datamodels.RampModel(
        data=ramps.astype(np.float32),
        pixeldq=np.zeros((ny, nx), np.uint32),
        groupdq=np.zeros(ramps.shape, np.uint8),
    )
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector = "MIRIMAGE"
    model.meta.subarray.name = emi_tso.SUBARRAY
    model.meta.subarray.xstart, model.meta.subarray.ystart = 1, 529
    model.meta.subarray.xsize, model.meta.subarray.ysize = nx, ny
    model.meta.exposure.readpatt = emi_tso.READPATT
    model.meta.exposure.nsamples = 1
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=50)
    parser.add_argument("--ngroups", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    for name in ("stpipe", "jwst", "CRDS", "crds"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from jwst.emicorr import EmiCorrStep
    from jwst.emicorr.emicorr import emicorr_refwave

    sim = emi_tso.simulate(args.nints, args.ngroups, args.seed)
    ramps, clean = sim["ramps"], sim["clean"]
    nints, ngroups, ny, nx = ramps.shape
    times = emi.pixel_read_times(nints, ngroups, ny, nx, emi_tso.SUBARRAY, emi_tso.READPATT)
    injected = sim["coefficients"][FREQUENCY]
    injected_amplitude = float(np.hypot(*injected[0]))

    def residual_fraction(corrected):
        found = emi.fit_periodic(times, np.asarray(corrected, dtype=float) - clean, FREQUENCY)
        return float(np.hypot(*found[0]) / injected_amplitude)

    rowclocks, frameclocks = emi.SUBARRAY_CLOCKS[emi_tso.SUBARRAY]
    period_clocks = 1.0 / FREQUENCY / emi.PIXEL_CLOCK_S
    # The reference waveform jwst expects: one period, sampled at bin centres.
    refwave = emi.waveform((np.arange(int(period_clocks)) + 0.5) / int(period_clocks), injected)
    pixeldq = np.zeros((ny, nx), np.uint32)

    runs = {
        "ours": lambda: emi.correct(ramps, emi_tso.SUBARRAY, emi_tso.READPATT, frequencies=(FREQUENCY,)),
        "jwst_refwave": lambda: emicorr_refwave(
            ramps.astype(np.float32), pixeldq, refwave, 1, rowclocks, frameclocks, period_clocks),
        "jwst_step_sequential": lambda: pipeline.run_step(
            EmiCorrStep, _ramp_model(ramps), offline=True, skip=False, algorithm="sequential",
            onthefly_corr_freq=[FREQUENCY]).data,
    }
    # Rounds run the three corrections back to back, so each round's ratios compare runs made
    # under the same machine load; the medians of those paired ratios are reported, with the
    # best wall and CPU times.
    walls = {name: [] for name in runs}
    cpus = {name: [] for name in runs}
    results = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            wall, cpu, corrected = _timed(run)
            walls[name].append(wall)
            cpus[name].append(cpu)
            results[name] = {"residual_fraction": round(residual_fraction(corrected), 5)}
    for name in runs:
        results[name]["seconds_best"] = round(min(walls[name]), 4)
        results[name]["cpu_seconds_best"] = round(min(cpus[name]), 4)
        if name != "ours":
            paired = np.array(walls[name]) / np.array(walls["ours"])
            results[name]["time_ratio_vs_ours_median"] = round(float(np.median(paired)), 2)
            results[name]["time_ratio_vs_ours_best"] = round(min(walls[name]) / min(walls["ours"]), 2)
            results[name]["cpu_ratio_vs_ours"] = round(min(cpus[name]) / min(cpus["ours"]), 2)
    report = {
        "benchmark": "emi_correct",
        "ramps": {"nints": nints, "ngroups": ngroups, "ny": ny, "nx": nx, "dtype": str(ramps.dtype),
                  "subarray": emi_tso.SUBARRAY, "readpatt": emi_tso.READPATT},
        "injected_390_amplitude_dn": round(injected_amplitude, 4),
        "residual_before_fraction": round(residual_fraction(ramps), 5),
        "results": results,
        "repeats": args.repeats,
        "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        "versions": {"lrs_helpers": __version__, "jwst": _jwst_version(), "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    print(json.dumps(report, indent=1))
    return 0


def _jwst_version():
    import jwst

    return jwst.__version__


if __name__ == "__main__":
    raise SystemExit(main())
