"""Sample twins: realistic, pipeline-format MIRI LRS products with a known issue injected.

Each scenario lives in its own module of this package and defines::

    build(out_dir: pathlib.Path, seed: int) -> dict[str, pathlib.Path]

which writes its product file(s) and a truth sidecar into ``out_dir`` and returns them by role
(for example ``{"uncal": ..., "truth": ...}``). ``build`` below caches the result per scenario,
so a twin is made once and then reused by notebooks and tests.

The truth sidecar is ``truth.json`` (scalars, short lists) and, where arrays are needed,
``truth.npz``; :func:`load_truth` reads both. Notebooks and helpers never import this package:
they ask :func:`lrs_helpers.data.get` for a product and :func:`lrs_helpers.data.truth` for its
truth, which is None for a real product.

Every FITS file a scenario writes is marked as a twin in its primary header (:func:`mark_twin`):
ORIGIN is ``LRS_HELPERS`` (never ``STSCI``), ``LRSTWIN = T``, and the lrs_helpers version, seed
and scenario that made it are recorded, so a twin cannot be mistaken for a real product.
"""

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__

#: scenario name -> (module, one-line description)
SCENARIOS = {
    "slit_nods": ("lrs_helpers.sample.slit", "FIXEDSLIT point source at both nods, bright field source scattering into the slit"),
    "ta_image": ("lrs_helpers.sample.ta", "MIRIM_TALRS target-acquisition image of a source at a known V2/V3 offset"),
    "nod_offset": ("lrs_helpers.sample.nods", "FIXEDSLIT nods sharing a 0.15\" across-slit offset, spectrum with real features"),
    "ta_confirm": ("lrs_helpers.sample.ta_confirm", "MIR_TACONFIRM verification image: the source seen through the slit, 0.12\" off its centre line"),
    "ta_fastgrpavg": ("lrs_helpers.sample.ta_fastgrpavg", "slitless TA image read out FASTGRPAVG and ramp-fitted by jwst with TGROUP = TFRAME, plus its FAST verification image"),
    "emi_tso": ("lrs_helpers.sample.emi_tso", "SLITLESSPRISM FASTR1 uncal ramps with 390.625 Hz and 10 Hz EMI"),
    "slitless_background": ("lrs_helpers.sample.slitless_bkg", "SLITLESSPRISM rateints with time-varying sky background; x1dints with wrong ERR"),
    "jump_bright": ("lrs_helpers.sample.jumps", "bright slitless source whose ramp peak trips the default jump threshold, plus real cosmic rays"),
    "foldover_red": ("lrs_helpers.sample.foldover", "red slitless source whose light below 4.5 um folds onto the blue end"),
    "error_tso": ("lrs_helpers.sample.errors_tso", "200-integration slitless x1dints of a steady star whose FLUX_ERROR is wrong by a known factor"),
}

#: default seed per scenario, so every build is deterministic
DEFAULT_SEED = 20221
_STAMP = "built.json"
#: ORIGIN of every twin (real products say STSCI)
TWIN_ORIGIN = "LRS_HELPERS"


def cache_root():
    """Folder that holds downloads and sample twins.

    Returns
    -------
    pathlib.Path
        ``$LRS_HELPERS_CACHE`` when set, else the per-user cache folder.
    """
    env = os.environ.get("LRS_HELPERS_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lrs_helpers"))


def scenario_dir(scenario, cache_dir=None):
    """Folder of one scenario's sample twin inside the cache."""
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    return root / "sample" / scenario


def _code_fingerprint():
    """Hash of the package's source, so a twin is rebuilt whenever the code that makes it changes."""
    digest = hashlib.sha256(__version__.encode())
    for source in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def build(scenario, *, cache_dir=None, seed=DEFAULT_SEED, force=False):
    """Build (or reuse) the sample twin of ``scenario``.

    Parameters
    ----------
    scenario : str
        One of :data:`SCENARIOS`.
    cache_dir : path-like, optional
        Cache root; default :func:`cache_root`.
    seed : int
        Random seed; the same seed gives the same files.
    force : bool
        Rebuild even when a complete build with this seed and version exists.

    Returns
    -------
    dict of str -> pathlib.Path
        The written files by role (always including ``"truth"``).
    """
    if scenario not in SCENARIOS:
        raise KeyError(f"unknown sample scenario {scenario!r}; expected one of {sorted(SCENARIOS)}")
    target = scenario_dir(scenario, cache_dir)
    stamp = target / _STAMP
    fingerprint = _code_fingerprint()
    if stamp.exists() and not force:
        record = json.loads(stamp.read_text())
        if record.get("seed") == seed and record.get("code") == fingerprint:
            return {role: target / name for role, name in record["files"].items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build into a scratch folder beside the target, then swap it in, so a build cut short
    # never leaves a half-written twin that looks complete.
    scratch = Path(tempfile.mkdtemp(prefix=f".{scenario}-", dir=target.parent))
    try:
        module = importlib.import_module(SCENARIOS[scenario][0])
        files = module.build(scratch, seed)
        for path in files.values():
            if Path(path).suffix == ".fits":
                mark_twin(path, scenario=scenario, seed=seed)
        record = {
            "scenario": scenario,
            "seed": seed,
            "version": __version__,
            "code": fingerprint,
            "files": {role: Path(path).name for role, path in files.items()},
        }
        (scratch / _STAMP).write_text(json.dumps(record, indent=1))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            scratch.rename(target)
        except OSError:
            # Another process finished the same deterministic build first: use its copy.
            if not (target / _STAMP).exists():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
    return {role: target / name for role, name in record["files"].items()}


def mark_twin(path, *, scenario, seed):
    """Mark a FITS file as a sample twin in its primary header (in place; for files we just wrote).

    Sets ORIGIN to :data:`TWIN_ORIGIN` and adds ``LRSTWIN = T``, ``LRSTWVER`` (lrs_helpers
    version), ``LRSTWSED`` (seed) and ``LRSTWSCN`` (scenario). stdatamodels reads ORIGIN from the
    header, so ``model.meta.origin`` says it too.
    """
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        header = hdul[0].header
        header["ORIGIN"] = (TWIN_ORIGIN, "sample twin made by lrs_helpers, not STScI data")
        header["LRSTWIN"] = (True, "lrs_helpers sample twin, not a real observation")
        header["LRSTWVER"] = (__version__, "lrs_helpers version that built this twin")
        header["LRSTWSED"] = (int(seed), "random seed of the twin")
        header["LRSTWSCN"] = (scenario, "lrs_helpers.sample scenario")


def read_truth(folder):
    """The truth recorded in a built twin's folder.

    Parameters
    ----------
    folder : path-like
        A scenario folder written by :func:`build` (it holds ``truth.json``).

    Returns
    -------
    dict
        ``truth.json`` contents, plus the arrays of ``truth.npz`` when the scenario wrote one.
    """
    folder = Path(folder)
    truth = json.loads((folder / "truth.json").read_text())
    arrays = folder / "truth.npz"
    if arrays.exists():
        with np.load(arrays) as stored:
            truth.update({name: stored[name] for name in stored.files})
    return truth


def load_truth(scenario, *, cache_dir=None, seed=DEFAULT_SEED):
    """The recorded truth of a scenario's twin (built when missing).

    Returns
    -------
    dict
        ``truth.json`` contents, plus the arrays of ``truth.npz`` when the scenario wrote one.
    """
    files = build(scenario, cache_dir=cache_dir, seed=seed)
    return read_truth(Path(files["truth"]).parent)

