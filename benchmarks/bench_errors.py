"""Benchmark: lrs_helpers.errors.empirical_scatter (bootstrap) against a plain loop of resamples.

Data: 10,000 integrations x 400 wavelengths of white noise (float64, sigma 2 about a level of
100) with 0.3% of the values flagged DO_NOT_USE and 0.1% NaN, as a long TSO's x1dints holds.

* ``ours``: :func:`lrs_helpers.errors.empirical_scatter` with ``n_boot`` resamples: multinomial
  counts of each resample, then (counts @ flux) / (counts @ valid) in blocks;
* ``anchor_loop``: the textbook bootstrap, ``np.nanmean(flux[pick], axis=0)`` for each resample
  (flagged values set to NaN first), timed on ``--anchor-resamples`` resamples and scaled
  linearly to ``n_boot`` (its cost is strictly per resample).

Both run in this process with BLAS limited to 2 threads (set before numpy is imported). Reported:
best wall time of ``--repeats`` runs, the peak memory numpy allocated during one call of ours
(tracemalloc, a separate run so tracing does not slow the timed ones), the process's maximum
resident size, the time ratio anchor / ours, and the accuracy: median over wavelengths of the
estimated uncertainty of the mean x sqrt(usable integrations) / the injected sigma.

Run: ``.venv/bin/python benchmarks/bench_errors.py [--nints 10000 --nwave 400 --n-boot 1000]``
"""

import os

# Two BLAS threads (the 2-core budget of the issue), before numpy loads its BLAS.
THREADS = "2"
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = THREADS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from lrs_helpers import __version__, errors  # noqa: E402

SIGMA = 2.0


def _data(nints, nwave, seed):
    rng = np.random.default_rng(seed)
    flux = 100.0 + rng.normal(0.0, SIGMA, size=(nints, nwave))
    dq = np.where(rng.random(flux.shape) < 0.003, errors.DO_NOT_USE, 0).astype(np.uint32)
    flux[dq != 0] += 50 * SIGMA          # flagged values are wrong: they must be ignored
    flux[rng.random(flux.shape) < 0.001] = np.nan
    return flux, dq


def _anchor(flux, dq, n_resamples, seed):
    """Loop-of-resamples bootstrap standard error of the mean (the textbook form)."""
    values = np.where((dq & errors.DO_NOT_USE) == 0, flux, np.nan)
    rng = np.random.default_rng(seed)
    nints = values.shape[0]
    means = np.empty((n_resamples, values.shape[1]))
    for index in range(n_resamples):
        means[index] = np.nanmean(values[rng.integers(0, nints, nints)], axis=0)
    return np.nanstd(means, axis=0, ddof=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=10_000)
    parser.add_argument("--nwave", type=int, default=400)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--anchor-resamples", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    flux, dq = _data(args.nints, args.nwave, args.seed)
    usable = np.sum(np.isfinite(flux) & (dq == 0), axis=0)

    ours_times, anchor_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        sigma_mean = errors.empirical_scatter(flux, dq, n_boot=args.n_boot, seed=args.seed)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        anchor = _anchor(flux, dq, args.anchor_resamples, args.seed)
        anchor_times.append((time.perf_counter() - start) * args.n_boot / args.anchor_resamples)

    tracemalloc.start()
    errors.empirical_scatter(flux, dq, n_boot=args.n_boot, seed=args.seed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    ours, anchor_best = min(ours_times), min(anchor_times)
    report = {
        "benchmark": "errors_empirical_scatter_bootstrap",
        "data": {"nints": args.nints, "nwave": args.nwave, "n_boot": args.n_boot, "dtype": str(flux.dtype),
                 "input_mb": round(flux.nbytes / 2**20, 1), "flagged_fraction": 0.003, "nan_fraction": 0.001},
        "ours": {
            "seconds_best": round(ours, 3),
            "seconds_all": [round(t, 3) for t in ours_times],
            "peak_traced_mb": round(peak / 2**20, 1),
            "sigma_recovered_median": round(float(np.median(sigma_mean * np.sqrt(usable) / SIGMA)), 4),
        },
        "anchor_loop": {
            "seconds_best_scaled": round(anchor_best, 3),
            "resamples_timed": args.anchor_resamples,
            "sigma_recovered_median": round(float(np.median(anchor * np.sqrt(usable) / SIGMA)), 4),
        },
        "time_ratio_anchor_vs_ours": round(anchor_best / ours, 2),
        "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"seconds": 5.0, "memory_mb": 1024},
        "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        "cpus_available": len(os.sched_getaffinity(0)),
        "repeats": args.repeats,
        "versions": {"lrs_helpers": __version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
