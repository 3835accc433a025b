"""Benchmark: slitless background models side by side on the two real background frames.

Data: the two real SLITLESSPRISM background frames in ``../shared/data/flight_derived``:

* ``slitless_background_pid1033_l168-9.fits`` (PID 1033, L 168-9 commissioning TSO; each row a
  straight line across the subarray, gradients of -27% to +10%);
* ``slitless_background_jw01053009001.fits`` (PID 1053 obs 9; hot columns 4, 5, 8, a roll-off at
  columns 6-11, a +-1.5% odd/even column pattern and its own pixel noise of about 1%).

From each frame a 20-integration cube is made: integration i holds the frame times
(1 + 0.05 i), a point-source trace (Gaussian, sigma 1.2 px, centred on column 36.3, 30 times
the row's sky per pixel in total) and photon noise for 40 000 electrons per pixel per integration
at the frame's median sky (0.5% of the sky per pixel). Each method models the background of the
cube; the figure of merit is the background left in the extraction aperture (columns 33-40),
row by row: for each row 40-380, the mean over the integrations of (mean over the aperture of
corrected - trace) / (mean over the aperture of the true sky), in %. Reported per method and
frame: the mean over rows, the rms over rows, the 95th percentile and the maximum of |residual|.

The same metric on the slitless_background sample twin (``twin``): its rateints SCI as the cube
(24 integrations; sky with the PID 1033 row gradients and the PID 1053 column structure, a
transit source, hot columns, NaN bad pixels, noise) against its recorded sky. Peers that take a
median ignore NaN pixels there, as jwst's extract_1d does.

Methods (peers reimplemented from their published code, named per method; none is imported):

* ``lrs_helpers_default``: :func:`lrs_helpers.background.edge_background` as shipped (per-row
  line or level through both edges, fixed column pattern out);
* ``lrs_helpers_order0_old``: the previous default, one clipped median per row over columns 4-13
  and 58-71 (``order=0``, ``regions=((4, 14), (58, 72))``);
* ``lrs_helpers_order1_old``: the same regions with ``order=1``;
* ``eureka_deg1``: Eureka ``src/eureka/S3_data_reduction/background.py`` ``fitbg``: per row, a
  degree-1 polynomial through the columns outside the source +- ``bg_hw`` inside ``xwindow``
  (the MIRI LRS template ``demos/JWST/S3_miri_lrs_template.ecf``: xwindow [11, 61], bg_hw 11,
  source at column 36, so columns 11-24 and 48-60), dropping the worst pixel while it is more
  than ``p3thresh`` = 5 times the mean absolute first difference of the residuals
  (``bg_method = mean``) from the fit; the template's ``bg_deg`` is 0, degree 1 is its option;
* ``exotedrf_slope``: exoTEDRF ``exotedrf/stage2.py`` ``backgroundstep_miri(method='slope')``
  with its defaults (trace mask width 20, background width 14 about column 36: columns 13-25 and
  47-59), each row fitted by ``exotedrf/utils.py`` ``robust_polyfit`` (order 1, 5 iterations,
  3 standard deviations of all residuals);
* ``exotic_miri_row_wise`` / ``exotic_miri_col_wise``: ExoTiC-MIRI
  ``exotic_miri/stage_2/background_subtract_step.py`` with its default columns 8-16 and 56-71:
  ``row_wise`` (its default) is the median of those columns per row; ``col_wise`` a line through
  the two regions' medians placed at (start + end) / 2 of each region;
* ``jwst_crds_median``: what jwst 3.0 extract_1d subtracts with the CRDS EXTRACT1D reference for
  MIR_LRS-SLITLESS since 2025 (background columns 10-17 and 54-61, ``bkg_fit = median``): the
  median of those columns per row.

Run: ``.venv/bin/python benchmarks/bench_background_models.py``; prints one JSON document.
"""

import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

from lrs_helpers import __version__, background

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FRAMES = {
    "pid1033": "flight_derived/slitless_background_pid1033_l168-9.fits",
    "pid1053": "flight_derived/slitless_background_jw01053009001.fits",
}
NINTS = 20
SKY_STEP_PER_INTEGRATION = 0.05
TRACE_COLUMN, TRACE_SIGMA_PX, TRACE_TO_SKY = 36.3, 1.2, 30.0
ELECTRONS_PER_PIXEL = 40_000.0
#: the extraction aperture of the metric, half-open (columns 33-40) and the rows judged (40-380)
APERTURE = (33, 41)
ROWS = slice(40, 381)
SEED = 1


def load_frame(name, shared=SHARED):
    """One real background frame as float64 (416, 72)."""
    return fits.getdata(Path(shared) / FRAMES[name]).astype(np.float64)


def build_cube(frame, seed=SEED, nints=NINTS):
    """The 20-integration test cube of one frame: (cube, true sky, trace), each (nints, ny, nx)."""
    from scipy.special import erf

    rng = np.random.default_rng(seed)
    ny, nx = frame.shape
    scale = 1.0 + SKY_STEP_PER_INTEGRATION * np.arange(nints)
    sky = scale[:, None, None] * frame
    edges = np.arange(nx + 1) - 0.5
    profile = np.diff(0.5 * (1 + erf((edges - TRACE_COLUMN) / (np.sqrt(2) * TRACE_SIGMA_PX))))
    row_sky = np.median(frame[:, 12:], axis=1)
    trace = np.broadcast_to(TRACE_TO_SKY * row_sky[:, None] * profile[None, :], sky.shape)
    electrons_per_unit = ELECTRONS_PER_PIXEL / np.median(frame[ROWS, 12:])
    expected = np.clip(sky + trace, 0, None) * electrons_per_unit
    cube = (expected + np.sqrt(expected) * rng.standard_normal(sky.shape)) / electrons_per_unit
    return cube, sky, np.array(trace)


def twin_cube(seed=None, cache_dir=None):
    """The slitless_background sample twin's rateints SCI and its true sky, each (nints, ny, nx).

    Its sky has the PID 1033 row gradients and the PID 1053 column structure (roll-off, odd/even
    pattern), drifts in time, and sits under a transit source, the detector's hot columns, bad
    pixels (NaN) and noise. ``seed=None``: the twin the notebooks use (built into the lrs_helpers
    cache when missing); another seed is built into ``cache_dir`` (a scratch folder), for the
    seed-to-seed spread.
    """
    from lrs_helpers import data, sample

    if seed is None:
        path = data.get("slitless_rateints", source="sample", verbose=False)
        truth = data.truth(path)
    else:
        path = sample.build("slitless_background", cache_dir=cache_dir, seed=seed)["rateints"]
        truth = sample.load_truth("slitless_background", cache_dir=cache_dir, seed=seed)
    with fits.open(path) as hdul:
        cube = hdul["SCI"].data.astype(np.float64)
    return cube, truth["sky_scale"][:, None, None] * truth["sky"]


def row_residuals(model, sky, aperture=APERTURE, rows=ROWS):
    """Background left in the aperture per row, % of the sky there, averaged over integrations.

    ``model`` is the subtracted background, so corrected - trace = sky - model.
    """
    columns = slice(*aperture)
    left = (sky - model)[:, rows, columns].mean(axis=-1) / sky[:, rows, columns].mean(axis=-1)
    return 100.0 * left.mean(axis=0)


def summary(residual):
    """Mean, rms, 95th percentile and maximum of |residual| over rows, % (3 significant digits)."""
    residual = np.asarray(residual, dtype=float)
    figures = {
        "mean": np.mean(residual),
        "rms": np.sqrt(np.mean(residual**2)),
        "p95": np.percentile(np.abs(residual), 95),
        "max": np.max(np.abs(residual)),
    }
    return {key: float(f"{value:.3g}") for key, value in figures.items()}


# ---------------------------------------------------------------------------------------------
# peers, reimplemented from the files named in the module docstring
# ---------------------------------------------------------------------------------------------


def _line_fit_rows(x, y, use):
    """Least-squares line per row (numpy.polyfit degree 1 on the used points): slope, intercept."""
    weight = use.astype(np.float64)
    yw = np.where(use, y, 0.0)
    s0, sx, sxx = weight.sum(-1), weight @ x, weight @ (x * x)
    sy, sxy = yw.sum(-1), yw @ x
    slope = (s0 * sxy - sx * sy) / (s0 * sxx - sx * sx)
    return slope, (sy - slope * sx) / s0


def eureka_deg1(cube, columns=(np.arange(11, 25), np.arange(48, 61)), threshold=5.0):
    """Eureka S3 ``fitbg`` with ``deg=1`` and ``bg_method='mean'``, all rows at once.

    Per row: fit a line to the good background pixels; the spread is the mean absolute first
    difference of the residuals (in column order); while the worst pixel's |residual| / spread
    exceeds ``threshold`` it is masked and the line refitted.
    """
    x = np.concatenate(columns).astype(np.float64)
    y = cube[..., x.astype(int)].reshape(-1, x.size)
    good = np.isfinite(y)
    active = np.ones(y.shape[0], dtype=bool)
    while active.any():
        slope, intercept = _line_fit_rows(x, y[active], good[active])
        residual = y[active] - (slope[:, None] * x + intercept[:, None])
        # first differences of the residuals of the good pixels, in column order
        order = np.argsort(~good[active], axis=-1, kind="stable")
        packed = np.take_along_axis(np.where(good[active], residual, np.nan), order, axis=-1)
        count = good[active].sum(-1)
        steps = np.abs(np.diff(packed, axis=-1))
        spread = np.nansum(steps, axis=-1) / np.maximum(count - 1, 1)
        spread = np.where(spread > 0, spread, np.inf)
        deviation = np.where(good[active], np.abs(residual), -np.inf) / spread[:, None]
        worst = np.argmax(deviation, axis=-1)
        reject = deviation[np.arange(worst.size), worst] > threshold
        rows = np.flatnonzero(active)
        good[rows[reject], worst[reject]] = False
        active[rows[~reject]] = False
    slope, intercept = _line_fit_rows(x, y, good)
    everywhere = np.arange(cube.shape[-1])
    return (slope[:, None] * everywhere + intercept[:, None]).reshape(cube.shape)


def exotedrf_slope(cube, trace_mask_width=20, background_width=14, centre=36, maxiter=5, nstd=3.0):
    """exoTEDRF ``backgroundstep_miri(method='slope')`` with ``utils.robust_polyfit``, all rows at once.

    Columns: ``centre - half - width + 1`` to ``centre + half + width - 1`` minus the trace
    ``centre - half`` to ``centre + half`` (half = trace_mask_width // 2). Per row, ``maxiter``
    rounds of: fit a line to the kept points, keep those within ``nstd`` standard deviations of
    all residuals.
    """
    half = trace_mask_width // 2
    usable = np.ones(cube.shape[-1], dtype=bool)
    usable[:centre - half - background_width + 1] = False
    usable[centre + half + background_width:] = False
    usable[centre - half:centre + half + 1] = False
    x = np.flatnonzero(usable).astype(np.float64)
    y = cube[..., usable].reshape(-1, x.size)
    finite = np.isfinite(y)
    keep = finite.copy()
    for _ in range(maxiter):
        slope, intercept = _line_fit_rows(x, y, keep)
        residual = np.where(finite, y - (slope[:, None] * x + intercept[:, None]), np.nan)
        keep = finite & (np.abs(residual) <= nstd * np.nanstd(residual, axis=-1, keepdims=True))
    everywhere = np.arange(cube.shape[-1])
    return (slope[:, None] * everywhere + intercept[:, None]).reshape(cube.shape)


def _exotic_columns(left=(8, 17), right=(56, 72)):
    return np.concatenate([np.arange(*left), np.arange(*right)])


def exotic_miri_row_wise(cube, left=(8, 17), right=(56, 72)):
    """ExoTiC-MIRI ``BackgroundSubtractStep(method='row_wise')``: median of both regions per row."""
    level = np.nanmedian(cube[..., _exotic_columns(left, right)], axis=-1)
    return np.repeat(level[..., None], cube.shape[-1], axis=-1)


def exotic_miri_col_wise(cube, left=(8, 17), right=(56, 72)):
    """ExoTiC-MIRI ``method='col_wise'``: line through the two regions' medians at their midpoints."""
    x_left, x_right = (left[0] + left[1]) / 2, (right[0] + right[1]) / 2
    y_left = np.nanmedian(cube[..., left[0]:left[1]], axis=-1)
    y_right = np.nanmedian(cube[..., right[0]:right[1]], axis=-1)
    slope = (y_right - y_left) / (x_right - x_left)
    return y_left[..., None] + slope[..., None] * (np.arange(cube.shape[-1]) - x_left)


def jwst_crds_median(cube, regions=((10, 18), (54, 62))):
    """The CRDS MIR_LRS-SLITLESS extract_1d background (columns 10-17, 54-61, median) per row."""
    columns = np.concatenate([np.arange(*region) for region in regions])
    level = np.nanmedian(cube[..., columns], axis=-1)
    return np.repeat(level[..., None], cube.shape[-1], axis=-1)


OLD_REGIONS = ((4, 14), (58, 72))
METHODS = {
    "lrs_helpers_default": lambda cube: background.edge_background(cube),
    "lrs_helpers_order0_old": lambda cube: background.edge_background(cube, order=0, regions=OLD_REGIONS),
    "lrs_helpers_order1_old": lambda cube: background.edge_background(cube, order=1, regions=OLD_REGIONS),
    "eureka_deg1": eureka_deg1,
    "exotedrf_slope": exotedrf_slope,
    "exotic_miri_row_wise": exotic_miri_row_wise,
    "exotic_miri_col_wise": exotic_miri_col_wise,
    "jwst_crds_median": jwst_crds_median,
}


def compare(shared=SHARED, methods=METHODS, twin=True):
    """Every method on both frames, and on the sample twin.

    Returns
    -------
    table : dict
        {method: {frame: summary}} (see :func:`summary`), in %; frames ``pid1033``, ``pid1053``
        and (``twin=True``) ``twin``.
    per_row : dict
        {method: {frame: residual per row}} (rows 40-380), in %.
    seconds : dict
        {method: {frame: wall time of the model}}.
    """
    table, per_row, seconds = {}, {}, {}
    cubes = {frame_name: build_cube(load_frame(frame_name, shared))[:2] for frame_name in FRAMES}
    if twin:
        cubes["twin"] = twin_cube()
    for frame_name, (cube, sky) in cubes.items():
        for name, method in methods.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                model = method(cube)
            seconds.setdefault(name, {})[frame_name] = round(time.perf_counter() - start, 2)
            residual = row_residuals(model, sky)
            per_row.setdefault(name, {})[frame_name] = residual
            table.setdefault(name, {})[frame_name] = summary(residual)
    return table, per_row, seconds


def seed_spread(methods=METHODS, seeds=(2, 3, 4), shared=SHARED):
    """Each method's figures on other noise draws: real-frame cubes and twins built with ``seeds``.

    Returns {method: {frame: {figure: [value per seed]}}}, in %.
    """
    import tempfile

    spread = {}
    with tempfile.TemporaryDirectory(prefix="bench_background_twins_") as cache:
        for seed in seeds:
            cubes = {frame_name: build_cube(load_frame(frame_name, shared), seed=seed)[:2] for frame_name in FRAMES}
            cubes["twin"] = twin_cube(seed=seed, cache_dir=Path(cache))
            for frame_name, (cube, sky) in cubes.items():
                for name, method in methods.items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        figures = summary(row_residuals(method(cube), sky))
                    for key, value in figures.items():
                        spread.setdefault(name, {}).setdefault(frame_name, {}).setdefault(key, []).append(value)
    return spread


def main():
    table, _, seconds = compare()
    document = {
        "benchmark": "slitless background models on the two real frames and the sample twin",
        "metric": "background left in the aperture (columns 33-40), per row 40-380, mean over "
                  f"the integrations ({NINTS} for the real frames), % of the sky there",
        "cube": {"nints": NINTS, "sky_step_per_integration": SKY_STEP_PER_INTEGRATION,
                 "trace_column": TRACE_COLUMN, "trace_sigma_px": TRACE_SIGMA_PX,
                 "electrons_per_pixel": ELECTRONS_PER_PIXEL, "seed": SEED},
        "table": table,
        "other_seeds": seed_spread(),
        "seconds": seconds,
        "lrs_helpers": __version__,
        "python": platform.python_version(),
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
