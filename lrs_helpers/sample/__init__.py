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
from pathlib import Path

import numpy as np
from astropy.io import fits

from .. import __version__
from ..io import os_cause, output_error, scratch_folder

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


class SampleCacheError(OSError):
    """A twin folder cannot be built or replaced; the message names the folder and why."""


def build(scenario, *, cache_dir=None, seed=DEFAULT_SEED, force=False):
    """Build (or reuse) the sample twin of ``scenario``.

    A complete build is reused when its stamp (``built.json``) matches the seed and the code and
    every file it lists is present. A damaged entry (unreadable stamp, missing files) is rebuilt.
    A folder at the twin's place without a stamp was not made here and is never deleted.

    Parameters
    ----------
    scenario : str
        One of :data:`SCENARIOS`.
    cache_dir : path-like, optional
        Cache root; default :func:`cache_root`.
    seed : int
        Random seed (0 to 2**32 - 1); the same seed gives the same files.
    force : bool
        Rebuild even when a complete build with this seed and version exists.

    Returns
    -------
    dict of str -> pathlib.Path
        The written files by role (always including ``"truth"``).

    Raises
    ------
    KeyError
        Unknown scenario.
    ValueError
        A seed outside 0 to 2**32 - 1.
    SampleCacheError
        The twin's place holds something lrs_helpers did not make, or is not a folder.
    lrs_helpers.io.LRSOutputError
        The folder cannot be written (one line naming it and the cause: permission, disk full).
    """
    if scenario not in SCENARIOS:
        raise KeyError(f"unknown sample scenario {scenario!r}; expected one of {sorted(SCENARIOS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed {seed!r} is not a valid random seed; expected an integer "
                         "from 0 to 4294967295")
    target = scenario_dir(scenario, cache_dir)
    fingerprint = _code_fingerprint()
    record = _read_stamp(target)
    if record is not None and not force and record.get("seed") == seed \
            and record.get("code") == fingerprint:
        return {role: target / name for role, name in record["files"].items()}
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink():
            raise SampleCacheError(f"{target}: not a folder; lrs_helpers keeps the {scenario} twin "
                                   "there. Move it away or choose another cache folder.")
        if not (target / _STAMP).exists():
            raise SampleCacheError(
                f"{target}: exists and was not made by lrs_helpers (no {_STAMP}); it is left alone. "
                "Move it away or choose another output folder.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(target.parent, error, "cannot be created") from error
    # Build into a scratch folder beside the target, then swap it in, so a build cut short
    # never leaves a half-written twin that looks complete.
    scratch = scratch_folder(target)
    old = None
    try:
        module = importlib.import_module(SCENARIOS[scenario][0])
        try:
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
        except Exception as error:
            # a full disk reaches us through astropy as an AttributeError, too
            if os_cause(error, target.parent, fallback=False) is None:
                raise
            raise output_error(target, error, "cannot be built") from error
        if target.exists():
            # our own earlier build (it has a stamp): moved aside, removed once the new one is in
            old = scratch_folder(target)
            old.rmdir()
            target.rename(old)
        try:
            scratch.rename(target)
        except OSError as error:
            # Another process finished the same deterministic build first: use its copy.
            if _read_stamp(target) is None:
                raise output_error(target, error, "cannot be built") from error
            record = _read_stamp(target)
    finally:
        for leftover in (scratch, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
    return {role: target / name for role, name in record["files"].items()}


def _read_stamp(folder):
    """The stamp of a complete build in ``folder``, or None when it is missing, unreadable or
    names a file that is not there (a damaged entry, rebuilt by :func:`build`)."""
    try:
        record = json.loads((Path(folder) / _STAMP).read_text())
        files = record["files"]
        if not all((Path(folder) / name).is_file() for name in files.values()):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return record


def mark_twin(path, *, scenario, seed):
    """Mark a FITS file as a sample twin in its primary header (in place; for files we just wrote).

    Sets ORIGIN to :data:`TWIN_ORIGIN` and adds ``LRSTWIN = T``, ``LRSTWVER`` (lrs_helpers
    version), ``LRSTWSED`` (seed) and ``LRSTWSCN`` (scenario). stdatamodels reads ORIGIN from the
    header, so ``model.meta.origin`` says it too.
    """
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


def load_truth(scenario, *, cache_dir=None, seed=None):
    """The recorded truth of a scenario's twin (built when missing).

    Parameters
    ----------
    scenario : str
        One of :data:`SCENARIOS`.
    cache_dir : path-like, optional
        Cache root; default :func:`cache_root`.
    seed : int, optional
        The twin's seed. Default: that of the twin already in the cache, whatever it is (so
        the truth matches the files there; a twin built with another seed is not replaced),
        else :data:`DEFAULT_SEED`.

    Returns
    -------
    dict
        ``truth.json`` contents, plus the arrays of ``truth.npz`` when the scenario wrote one.
    """
    if seed is None:
        record = _read_stamp(scenario_dir(scenario, cache_dir)) if scenario in SCENARIOS else None
        seed = record.get("seed", DEFAULT_SEED) if record is not None else DEFAULT_SEED
    files = build(scenario, cache_dir=cache_dir, seed=seed)
    return read_truth(Path(files["truth"]).parent)

