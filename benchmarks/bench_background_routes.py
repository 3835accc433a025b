"""Benchmark: where to subtract the slitless background, every route on the same twin ramps.

Data: the slitless_background twin's scene (sky with the PID 1033 row gradients and the PID 1053
column structure, drifting by 4% and wobbling by 1.5% over the exposure; a point source with a
1% transit; the hot and reference columns; 0.2% bad pixels) read up the ramp by
``lrs_helpers.sample.slitless_bkg.ramps`` (24 integrations of 20 groups, Poisson noise per frame,
read noise per group), and a dedicated background exposure of the same sky by
``slitless_bkg.background_exposure`` (4 integrations of 125 groups with their own noise, at the
mean sky level: taken at another time, it cannot follow the drift).

Routes, each run for real (jwst 3.0 steps offline, flat gain and read-noise references):

* ``none``: ramps -> jwst ``RampFitStep`` -> rateints, nothing subtracted;
* ``rateints_edge`` (the notebook's workaround): ``RampFitStep``, then
  :func:`lrs_helpers.background.edge_background` per integration (the default model);
* ``groups_edge``: :func:`lrs_helpers.background.subtract_groups` on every group of the ramps, then
  ``RampFitStep`` (the route of ExoTiC-MIRI and Eureka's stage 1: background per group);
* ``background_exposure``: ``RampFitStep``, then jwst ``BackgroundStep`` with the background
  exposure in ``bkg_list``: its sigma-clipped integration average is subtracted from every
  integration (what spec2's background step does; :func:`background.background_exposure_average`
  is the same in numpy, and is checked against it here);
* ``true_sky``: ``RampFitStep``, then the twin's true sky (per integration) subtracted: the noise
  floor of the transit depth.

Figures per route:

* sky left per row: for each row 40-380, the mean over the integrations of the true sky minus
  what the route subtracted (the unsubtracted rateints minus the route's), over the aperture
  columns 33-40, in % of the sky there; mean, rms and 95th percentile of |.| over the rows (the
  metric of bench_background_models.py);
* transit depth: white light summed over the CRDS aperture (columns 30-41) and the 5-12 um rows,
  depth = 1 - mean in transit / mean out of transit (the twin's recorded light curve says which
  integrations), against the true 1%, in ppm.

Each figure over ``--seeds`` (default 3) noise draws: the value per seed, its mean and spread.
Run: ``.venv/bin/python benchmarks/bench_background_routes.py [--seeds 3]``; prints one JSON document.
"""

import argparse
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from lrs_helpers import __version__, background, pipeline

ROWS = slice(40, 381)
APERTURE = (33, 41)
#: the CRDS MIR_LRS-SLITLESS extraction aperture, half-open (columns 30-41)
WHITE_LIGHT_COLUMNS = (30, 42)
ROUTES = ("none", "rateints_edge", "groups_edge", "background_exposure", "true_sky")


def ramp_fit(ramp):
    """jwst RampFitStep offline with flat MIRI gain and read noise: the rateints data, DN/s."""
    from jwst.ramp_fitting import RampFitStep

    shape = ramp.data.shape[-2:]
    overrides = {"gain": pipeline.miri_gain_model(shape), "readnoise": pipeline.miri_readnoise_model(shape)}
    _, rateints = pipeline.run_step(RampFitStep, ramp, offline=True, overrides=overrides)
    return rateints


def jwst_background_step(rateints, background_path):
    """jwst BackgroundStep offline, the background exposure given in ``bkg_list``."""
    from jwst.background import BackgroundStep

    overrides = {reftype: "N/A" for reftype in BackgroundStep.reference_file_types}
    return pipeline.run_step(BackgroundStep, rateints, offline=True, overrides=overrides,
                             bkg_list=[str(background_path)])


def rows_left(subtracted, sky):
    """Sky left per row (rows 40-380, columns 33-40, mean over integrations), % of the sky."""
    columns = slice(*APERTURE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        left = np.nanmean((sky - subtracted)[:, ROWS, columns], axis=-1) / sky[:, ROWS, columns].mean(axis=-1)
    return 100 * left.mean(axis=0)


def transit_depth(rates, truth):
    """White-light transit depth, %: columns 30-41, rows 5-12 um; NaN pixels take the row's mean."""
    wave = truth["wavelength_per_row"]
    band = (wave > 5) & (wave < 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        box = np.nanmean(rates[:, band, slice(*WHITE_LIGHT_COLUMNS)], axis=-1).sum(axis=-1)
    depth = truth["transit_depth"]
    in_transit = truth["light_curve"] < 1 - 0.99 * depth
    out_of_transit = truth["light_curve"] == 1
    return 100 * (1 - box[in_transit].mean() / box[out_of_transit].mean())


def run_routes(seed, workdir):
    """Every route on the ramps of one seed: {route: {"rows": per-row residual, "depth": %}},
    and the largest difference between jwst's and our background-exposure average (DN/s)."""
    from stdatamodels.jwst import datamodels

    from lrs_helpers.sample import mark_twin, slitless_bkg

    ramp, truth = slitless_bkg.ramps(seed)
    sky = truth["sky_scale"][:, None, None] * truth["sky"]
    rates = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        unsubtracted = ramp_fit(ramp)
        rates["none"] = np.asarray(unsubtracted.data, dtype=np.float64)
        rates["rateints_edge"] = rates["none"] - background.edge_background(rates["none"], unsubtracted.dq)
        per_group = ramp.copy()
        per_group.data = background.subtract_groups(ramp.data, ramp.groupdq, ramp.pixeldq)[0].astype(np.float32)
        rates["groups_edge"] = np.asarray(ramp_fit(per_group).data, dtype=np.float64)
        exposure = slitless_bkg.background_exposure(seed + 1000)
        background_path = Path(workdir) / f"seed{seed}_{exposure.meta.filename}"
        exposure.save(background_path)
        mark_twin(background_path, scenario="slitless_background", seed=seed + 1000)
        stepped = jwst_background_step(unsubtracted.copy(), background_path)
        rates["background_exposure"] = np.asarray(stepped.data, dtype=np.float64)
        with datamodels.open(background_path) as saved:
            ours = background.background_exposure_average(saved.data, saved.dq)
        rates["true_sky"] = rates["none"] - sky
    jwst_average = rates["none"] - rates["background_exposure"]
    agreement = float(np.nanmax(np.abs(jwst_average - ours[None])))
    results = {}
    for route, rate in rates.items():
        results[route] = {"rows": rows_left(rates["none"] - rate, sky), "depth": transit_depth(rate, truth)}
    return results, agreement, truth["transit_depth"]


def summarise(per_seed, true_depth):
    """Per route: the figures of each seed, their mean and standard deviation."""
    table = {}
    for route in ROUTES:
        figures = {"mean": [], "rms": [], "p95": [], "depth_error_ppm": []}
        for results in per_seed:
            rows = results[route]["rows"]
            figures["mean"].append(float(np.mean(rows)))
            figures["rms"].append(float(np.sqrt(np.mean(rows**2))))
            figures["p95"].append(float(np.percentile(np.abs(rows), 95)))
            figures["depth_error_ppm"].append(1e4 * (results[route]["depth"] - 100 * true_depth))
        table[route] = {key: {"per_seed": [float(f"{value:.3g}") for value in values],
                              "mean": float(f"{np.mean(values):.3g}"), "std": float(f"{np.std(values):.2g}")}
                        for key, values in figures.items()}
    return table


def compare(seeds=(1, 2, 3)):
    """Every route on the ramps of each seed: (table, seconds, worst jwst/numpy background difference)."""
    start = time.perf_counter()
    per_seed, agreement = [], 0.0
    with tempfile.TemporaryDirectory(prefix="bench_background_routes_") as workdir:
        for seed in seeds:
            results, difference, true_depth = run_routes(seed, workdir)
            per_seed.append(results)
            agreement = max(agreement, difference)
    return summarise(per_seed, true_depth), time.perf_counter() - start, agreement


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    table, seconds, agreement = compare(tuple(range(1, args.seeds + 1)))
    document = {
        "benchmark": "slitless background routes on the same twin ramps",
        "sky_left": "per row 40-380, columns 33-40, mean over 24 integrations, % of the sky: mean, rms, p95 of |.|",
        "transit_depth": "white light, columns 30-41, 5-12 um; measured minus true (1%), ppm",
        "table": table,
        "jwst_background_step_vs_numpy_max_dn_s": float(f"{agreement:.2g}"),
        "seconds": round(seconds, 1),
        "lrs_helpers": __version__,
        "python": platform.python_version(),
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
