"""Run one jwst pipeline step on a product, with CRDS or fully offline.

The jwst steps fetch their calibration reference files from CRDS. Without CRDS (no network, or
a quick experiment on a sample twin) a step can still run when every reference it needs is
given as an ``override_<reftype>`` value: a file path, a datamodel, or ``"N/A"``. Two details
make that work on jwst 3.0:

* a CRDS failure is a ``SystemExit``, not an exception, so :func:`run_step` checks *before*
  running that every reference type the step declares has an override and raises a
  ``ValueError`` naming the missing ones;
* after running, the step records the CRDS context it used; a small stub cache
  (``$CRDS_PATH/config/jwst/server_config``) with ``CRDS_SERVER_URL`` pointing at an unused local
  port answers that question without any network.

The CRDS environment variables are set only for the duration of the call and restored after.

Offline or online (``offline=None``): offline when ``LRS_HELPERS_SOURCE=sample``, or when
``CRDS_SERVER_URL`` is not set, or when the host it names does not accept a connection within
:data:`CRDS_PROBE_TIMEOUT` seconds; online otherwise. ``offline=True`` / ``False`` always wins.

Offline reference builders (:func:`miri_gain_model`, :func:`miri_readnoise_model`) make flat
reference models with the subarray metadata jwst checks, so steps such as ``JumpStep`` run on a
SLITLESSPRISM ramp without CRDS.
"""

import contextlib
import functools
import importlib
import logging
import os
import socket
import tempfile
import warnings
from urllib.parse import urlsplit

import numpy as np
from astropy.modeling import fitting, models
from astropy.stats import sigma_clipped_stats
from stdatamodels.jwst import datamodels

from . import instrument
from .data import cache_dir
from .io import open_product

#: Seconds to wait for the CRDS server to accept a connection before running offline.
CRDS_PROBE_TIMEOUT = 2.0

# Reference types a step declares but does not read for some parameter values:
# (step class name, reftype) -> test on the step parameters.
_REFERENCE_NOT_NEEDED = {
    # With frequencies given, EmiCorrStep builds its reference waveforms on the fly.
    ("EmiCorrStep", "emicorr"): lambda params: params.get("onthefly_corr_freq") is not None,
}

_SERVER_CONFIG = {
    "observatory": "jwst",
    "operational_context": "jwst_offline.pmap",
    "edit_context": "jwst_offline.pmap",
    "force_remote_mode": False,
    "bad_files_list": [],
    "last_synced": "offline",
    "mappings": [],
}


def crds_reachable(url=None, timeout=CRDS_PROBE_TIMEOUT):
    """Whether a CRDS server accepts a TCP connection.

    Parameters
    ----------
    url : str, optional
        Server address; default ``$CRDS_SERVER_URL``. Without one the answer is False (this
        function never guesses a default server).
    timeout : float
        Seconds to wait for the connection.

    Returns
    -------
    bool
    """
    url = url or os.environ.get("CRDS_SERVER_URL")
    if not url:
        return False
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def should_run_offline(offline=None):
    """Decide offline vs online (see the module docstring for the rule).

    Parameters
    ----------
    offline : bool or None
        An explicit choice, returned as is; None applies the rule.

    Returns
    -------
    bool
    """
    if offline is not None:
        return bool(offline)
    if os.environ.get("LRS_HELPERS_SOURCE", "").lower() == "sample":
        return True
    return not crds_reachable()


def offline_crds_path():
    """Folder of the offline CRDS stub cache (created when missing).

    Returns
    -------
    pathlib.Path
        ``<lrs_helpers cache>/crds_offline``, holding ``config/jwst/server_config``.
    """
    root = cache_dir() / "crds_offline"
    config = root / "config" / "jwst" / "server_config"
    text = repr(_SERVER_CONFIG)
    if not config.exists() or config.read_text() != text:
        config.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary name and rename, so a concurrent run never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=config.parent, prefix=".server_config-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, config)
    return root


def _unused_local_url():
    """An http address on 127.0.0.1 at a port nothing listens on (nothing leaves the machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def offline_crds_environment():
    """Context manager: CRDS variables set for an offline run, all restored on exit.

    Every ``CRDS_*`` variable is cleared for the duration (a user's ``CRDS_CONTEXT`` or
    ``CRDS_PATH_SINGLE`` would otherwise redirect CRDS), then ``CRDS_PATH`` points at the stub
    cache, ``CRDS_SERVER_URL`` at an unused local port, and ``STPIPE_DISABLE_CRDS_STEPPARS`` is
    true so no step-parameter reference is looked up; ``CRDS_CONFIG_URI=none`` makes CRDS read
    its configuration from the stub after the local address refuses the connection.
    """
    from crds.core.utils import clear_function_caches

    names = [name for name in os.environ if name.startswith("CRDS_")]
    names.append("STPIPE_DISABLE_CRDS_STEPPARS")
    saved = {name: os.environ.get(name) for name in names}
    # CRDS remembers its configuration per process; forget it on the way in and out, so neither
    # an earlier online session nor this offline stub leaks into the next call.
    clear_function_caches()
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ["CRDS_PATH"] = str(offline_crds_path())
        os.environ["CRDS_SERVER_URL"] = _unused_local_url()
        # "none": ask the (absent) server, then fall back to the cached server_config.
        os.environ["CRDS_CONFIG_URI"] = "none"
        os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"
        yield
    finally:
        for name in set(names) | {"CRDS_PATH", "CRDS_SERVER_URL", "CRDS_CONFIG_URI"}:
            value = saved.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        clear_function_caches()


def resolve_step_class(step):
    """The jwst Step class from a class or its import path.

    Parameters
    ----------
    step : type or str
        A Step subclass, or a dotted path such as ``"jwst.jump.JumpStep"``.

    Returns
    -------
    type
    """
    if isinstance(step, str):
        module_name, _, class_name = step.rpartition(".")
        if not module_name:
            raise ValueError(f"step {step!r}: expected a dotted import path such as 'jwst.jump.JumpStep'")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"step {step!r} could not be imported ({error}); expected a jwst Step class "
                             "or its import path, e.g. 'jwst.jump.JumpStep'") from None
    if not isinstance(step, type) or not hasattr(step, "reference_file_types"):
        raise ValueError(f"step {step!r} is not a jwst Step class; pass e.g. jwst.jump.JumpStep")
    return step


def missing_overrides(step_class, overrides, step_params):
    """Reference types the step would have to fetch from CRDS.

    Parameters
    ----------
    step_class : type
        A jwst Step class.
    overrides : dict
        reftype -> override value.
    step_params : dict
        Step parameters; some make a reference unnecessary, e.g.
        ``EmiCorrStep(onthefly_corr_freq=...)``. (``skip=True`` does not: a step run on its own
        always runs.)

    Returns
    -------
    list of str
        Reference types with neither an override nor a reason not to need one.
    """
    missing = []
    for reftype in step_class.reference_file_types:
        if reftype in overrides:
            continue
        not_needed = _REFERENCE_NOT_NEEDED.get((step_class.__name__, reftype))
        if not_needed is not None and not_needed(step_params):
            continue
        missing.append(reftype)
    return missing


def run_step(step, model, *, offline=None, overrides=None, **step_params):
    """Run one jwst step on a model, offline (no CRDS) or online.

    Parameters
    ----------
    step : type or str
        The jwst Step class (e.g. ``jwst.emicorr.EmiCorrStep``) or its import path.
    model : DataModel or path-like
        The input product. A path is opened (and closed again) with
        :func:`lrs_helpers.io.open_product`, so a wrong file gets one clear error. An uncal
        (Level1bModel) becomes a RampModel first, as jwst does when it opens an uncal file (see
        :func:`as_ramp_model`). The step works on its own copy: jwst 3.0 steps leave ``model``
        unchanged.
    offline : bool or None
        True: no CRDS at all, every reference the step needs must be in ``overrides``.
        False: let the step ask CRDS for what is not overridden (a CRDS failure then ends the
        process with ``SystemExit``, as in jwst). None: decide as the module docstring says.
    overrides : dict, optional
        Reference type -> path, datamodel or ``"N/A"``, e.g.
        ``{"gain": miri_gain_model(), "readnoise": miri_readnoise_model()}``. Parameters
        ``override_<reftype>=`` in ``step_params`` are accepted too.
    **step_params
        Step parameters, e.g. ``skip=False, algorithm="sequential"``.

    Returns
    -------
    DataModel
        The step's result.

    Raises
    ------
    ValueError
        Offline, when a reference type the step needs has no override (names the missing types).
    """
    step_class = resolve_step_class(step)
    all_overrides = dict(overrides or {})
    params = {}
    for name, value in step_params.items():
        if name.startswith("override_"):
            all_overrides[name.removeprefix("override_")] = value
        else:
            params[name] = value
    unknown = sorted(set(all_overrides) - set(step_class.reference_file_types))
    if unknown:
        raise ValueError(f"{step_class.__name__} has no reference type(s) {unknown}; "
                         f"it uses {list(step_class.reference_file_types)}")
    run_offline = should_run_offline(offline)
    if run_offline:
        missing = missing_overrides(step_class, all_overrides, params)
        if missing:
            raise ValueError(
                f"cannot run {step_class.__name__} offline: no override for reference type(s) "
                f"{missing}. Pass overrides={{{', '.join(repr(m) + ': <path, datamodel or N/A>' for m in missing)}}} "
                "(see lrs_helpers.pipeline.miri_gain_model / miri_readnoise_model), or run online "
                "with CRDS_SERVER_URL and CRDS_PATH set.")
    instance = step_class(**params, **{f"override_{name}": value for name, value in all_overrides.items()})
    context = offline_crds_environment() if run_offline else contextlib.nullcontext()
    if isinstance(model, (str, os.PathLike)):
        with open_product(model, extensions=()) as opened, context:
            return instance.run(as_ramp_model(opened))
    with context:
        return instance.run(as_ramp_model(model))


def as_ramp_model(model):
    """A Level1bModel (uncal, raw integer counts) as the RampModel jwst steps work on.

    jwst opens an uncal *file* as a RampModel (float32 data) for every detector1 step; an uncal
    model already open is a Level1bModel that the steps refuse. This does the same conversion
    for an open model. Any other model is returned as it is.

    Parameters
    ----------
    model : DataModel

    Returns
    -------
    DataModel
        A new RampModel (data as float32, metadata, INT_TIMES, ZEROFRAME, REFOUT, GROUP copied)
        for a Level1bModel; ``model`` itself otherwise.
    """
    if type(model) is not datamodels.Level1bModel:
        return model
    ramp = datamodels.RampModel(data=np.asarray(model.data, dtype=np.float32))
    ramp.update(model)
    for name in ("int_times", "zeroframe", "refout", "group"):
        # Look in the tree: getattr would create an empty default.
        if model.instance.get(name) is not None:
            setattr(ramp, name, model.instance[name])
    return ramp


def _reference_model(model_class, reftype, shape, fill, subarray, description):
    """A flat MIRI reference model with the subarray metadata jwst matches against."""
    shape = tuple(int(n) for n in shape)
    if subarray not in instrument.SUBARRAYS:
        raise ValueError(f"unknown MIRI subarray {subarray!r}; expected one of {sorted(instrument.SUBARRAYS)}")
    xstart, ystart, xsize, ysize = instrument.SUBARRAYS[subarray]
    if shape != (ysize, xsize):
        raise ValueError(f"shape {shape} does not match subarray {subarray} ({ysize} rows x {xsize} columns)")
    reference = getattr(datamodels, model_class)(data=np.full(shape, fill, dtype=np.float32))
    describe_reference(reference, reftype, description)
    reference.meta.subarray.name = subarray
    reference.meta.subarray.xstart = xstart
    reference.meta.subarray.ystart = ystart
    reference.meta.subarray.xsize = xsize
    reference.meta.subarray.ysize = ysize
    return reference


def describe_reference(reference, reftype, description, *, exp_type=None):
    """Fill the metadata jwst and CRDS read from a reference model built here (in place).

    MIRI imager detector, the reference type, author lrs_helpers, pedigree DUMMY (not a
    calibration product) and a use-after date before the first MIRI data, so a step given it as
    an override accepts it for any exposure. Returns ``reference``.
    """
    reference.meta.instrument.name = "MIRI"
    reference.meta.instrument.detector = "MIRIMAGE"
    if exp_type is not None:
        reference.meta.exposure.type = exp_type
    reference.meta.reftype = reftype
    reference.meta.description = description
    reference.meta.author = "lrs_helpers"
    reference.meta.pedigree = "DUMMY"
    reference.meta.useafter = "2022-01-01T00:00:00"
    return reference


def miri_gain_model(shape=(416, 72), value=instrument.GAIN_E_PER_DN, *, subarray="SLITLESSPRISM"):
    """A flat MIRI GAIN reference model for offline runs.

    Parameters
    ----------
    shape : tuple of int
        (rows, columns) of the science array; must match ``subarray``.
    value : float
        Gain, e-/DN (default :data:`lrs_helpers.instrument.GAIN_E_PER_DN`, 3.1).
    subarray : str
        A key of :data:`lrs_helpers.instrument.SUBARRAYS`.

    Returns
    -------
    stdatamodels.jwst.datamodels.GainModel
    """
    return _reference_model("GainModel", "gain", shape, value, subarray, f"Flat MIRI gain {value} e-/DN (offline stand-in)")


def miri_readnoise_model(shape=(416, 72), value_dn=instrument.FAST_CDS_READNOISE_DN, *, subarray="SLITLESSPRISM"):
    """A flat MIRI READNOISE reference model (CDS noise, DN) for offline runs.

    Parameters
    ----------
    shape : tuple of int
        (rows, columns) of the science array; must match ``subarray``.
    value_dn : float
        CDS read noise, DN (default :data:`lrs_helpers.instrument.FAST_CDS_READNOISE_DN`, 5.9 DN, measured on real
        FAST ground-test ramps).
    subarray : str
        A key of :data:`lrs_helpers.instrument.SUBARRAYS`.

    Returns
    -------
    stdatamodels.jwst.datamodels.ReadnoiseModel
    """
    return _reference_model("ReadnoiseModel", "readnoise", shape, value_dn, subarray,
                            f"Flat MIRI CDS read noise {value_dn} DN (offline stand-in)")


def measure_cds_readnoise(ramps, *, skip_first=1, skip_last=1, clip_sigma=5.0):
    """CDS read noise from ramps, via second frame differences.

    Second differences ``x[i+2] - 2 x[i+1] + x[i]`` cancel a pixel's count rate (and most slow
    curvature); for white read noise of ``s`` DN per frame their variance is ``6 s**2``, and the
    CDS noise is ``sqrt(2) s``.

    Parameters
    ----------
    ramps : array_like
        Ramps, DN, shape (..., ngroups, rows, columns) with one frame per group.
    skip_first, skip_last : int
        Groups dropped at the start (MIRI reset) and end (last-frame effect) of each ramp.
    clip_sigma : float
        Sigma clipping of the differences (cosmic rays, jumps).

    Returns
    -------
    float
        CDS read noise, DN.
    """
    ramps = np.asarray(ramps, dtype=float)
    ngroups = ramps.shape[-3]
    second = np.diff(ramps[..., skip_first:ngroups - skip_last, :, :], n=2, axis=-3)
    _, _, std = sigma_clipped_stats(second, sigma=clip_sigma)
    return float(std / np.sqrt(3.0))


# ---------------------------------------------------------------------------------------------
# Edges: running the real jwst extract_1d offline on slitless integrations
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def siaf_distortion_model(*, degree=4, step=16):
    """A MIRI imager DISTORTION reference model built from the SIAF (pysiaf) polynomials.

    jwst's assign_wcs needs the imager distortion (detector pixels -> V2/V3) for LRS. The CRDS
    file cannot be fetched offline, but pysiaf ships the same flight distortion as the
    ``MIRIM_FULL`` aperture's science-to-telescope polynomials. They are sampled every ``step``
    pixels over the full array and refitted as astropy ``Polynomial2D`` models (forward and
    inverse), which is the form a DISTORTION reference holds.

    Parameters
    ----------
    degree : int
        Polynomial degree of the refit (4 reproduces the SIAF forward transform to 1e-10 arcsec
        and its inverse to 0.02 pixel over the full array).
    step : int
        Sampling step, pixels.

    Returns
    -------
    stdatamodels.jwst.datamodels.DistortionModel
        0-based full-array pixels -> V2, V3 (arcsec), with its inverse.
    """
    # pysiaf tries to reach the network for a newer PRD on import and logs about it
    logging.getLogger("pysiaf").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pysiaf

        full = pysiaf.Siaf("MIRI")["MIRIM_FULL"]
    rows, cols = np.mgrid[0:1024:step, 0:1032:step].astype(np.float64)
    # pysiaf science pixels are 1-based; jwst detector pixels are 0-based
    v2, v3 = full.sci_to_tel(cols + 1.0, rows + 1.0)
    # fit in centred, scaled coordinates so the polynomial fits are well conditioned
    pixel_centre, pixel_scale = (cols.mean(), rows.mean()), 512.0
    tel_centre, tel_scale = (v2.mean(), v3.mean()), 60.0

    def normalise(centre, scale):
        shift = models.Shift(-centre[0]) & models.Shift(-centre[1])
        return shift | models.Scale(1 / scale) & models.Scale(1 / scale)

    u, w = (cols - pixel_centre[0]) / pixel_scale, (rows - pixel_centre[1]) / pixel_scale
    p, q = (v2 - tel_centre[0]) / tel_scale, (v3 - tel_centre[1]) / tel_scale
    fitter = fitting.LinearLSQFitter()
    to_v2 = fitter(models.Polynomial2D(degree), u, w, v2)
    to_v3 = fitter(models.Polynomial2D(degree), u, w, v3)
    to_x = fitter(models.Polynomial2D(degree), p, q, cols)
    to_y = fitter(models.Polynomial2D(degree), p, q, rows)
    transform = normalise(pixel_centre, pixel_scale) | models.Mapping((0, 1, 0, 1)) | to_v2 & to_v3
    transform.inverse = normalise(tel_centre, tel_scale) | models.Mapping((0, 1, 0, 1)) | to_x & to_y
    reference = datamodels.DistortionModel(model=transform)
    reference.meta.input_units = "pixel"
    reference.meta.output_units = "arcsec"
    return describe_reference(reference, "DISTORTION",
                              f"MIRIM_FULL SIAF polynomials (pysiaf {pysiaf.__version__}) refitted, degree {degree}",
                              exp_type="MIR_LRS-SLITLESS")


#: reference pixels of the in-flight SPECWCS tables, 1-based full-array pixels: the slit's
#: (IMX, IMY) and the slitless (IMXSLTL, IMYSLTL)
SPECWCS_SLIT_REFERENCE = (326.13, 300.7)
SPECWCS_SLITLESS_REFERENCE = (38.5, 829.0)


def _specwcs_model(mode, rows, zero):
    """SPECWCS table of ``mode`` ("slit" or "slitless") for ``rows`` (blue to red, the pixel
    rows of the product), relative to ``zero`` (x, y): the product pixel of the table's origin."""
    x_center = np.asarray(instrument.trace_column(mode, rows)) - zero[0]
    y_center = rows - zero[1]
    half_width = 20.0  # the CRDS tables' corners sit ~20 px either side of the trace
    table = np.zeros(rows.size, dtype=[(name, "<f8") for name in (
        "x_center", "y_center", "wavelength", "x0", "y0", "x1", "y1", "x2", "y2", "x3", "y3")])
    table["x_center"], table["y_center"] = x_center, y_center
    table["wavelength"] = instrument.wavelength_at_row(mode, rows)
    table["x0"] = table["x3"] = x_center - half_width
    table["x1"] = table["x2"] = x_center + half_width
    table["y0"] = table["y1"] = y_center + 0.5
    table["y2"] = table["y3"] = y_center - 0.5
    reference = datamodels.MiriLRSSpecwcsModel(wavetable=table)
    reference.meta.x_ref, reference.meta.y_ref = SPECWCS_SLIT_REFERENCE
    reference.meta.x_ref_slitless, reference.meta.y_ref_slitless = SPECWCS_SLITLESS_REFERENCE
    reference.meta.instrument.filter = "P750L"
    exp_type, subarray, source = {"slit": ("MIR_LRS-FIXEDSLIT", "FULL", "specwcs_0005"),
                                  "slitless": ("MIR_LRS-SLITLESS", "SLITLESSPRISM", "specwcs_0006")}[mode]
    reference.meta.subarray.name = subarray
    return describe_reference(reference, "SPECWCS",
                              f"{exp_type} SPECWCS rebuilt from the lrs_helpers instrument fit of {source}",
                              exp_type=exp_type)


def slitless_specwcs_model():
    """A MIR_LRS-SLITLESS SPECWCS reference model rebuilt from the in-flight solution in :mod:`lrs_helpers.instrument`.

    The in-flight CRDS SPECWCS (``jwst_miri_specwcs_0006.fits``) is a table of trace centre and
    wavelength per row; :mod:`lrs_helpers.instrument` carries a fit of that table (wavelength within 0.01 um).
    This rebuilds the table from the fit, so the jwst ``AssignWcsStep`` can run where neither
    CRDS nor the reference file is at hand. Pass the real file instead whenever you have it.

    Returns
    -------
    stdatamodels.jwst.datamodels.MiriLRSSpecwcsModel
        Rows 7-394 of the SLITLESSPRISM subarray, relative to the slitless reference pixel
        (IMXSLTL, IMYSLTL) = (38.5, 829.0), 1-based full-array pixels.
    """
    x_ref, y_ref = SPECWCS_SLITLESS_REFERENCE
    # the table's zero point in subarray pixels, as jwst assign_wcs computes it
    zero = (x_ref - 1, y_ref - 1 - (instrument.SUBARRAYS["SLITLESSPRISM"][1] - 1))
    return _specwcs_model("slitless", np.arange(394, 6, -1, dtype=np.float64), zero)


def slit_specwcs_model():
    """A MIR_LRS-FIXEDSLIT SPECWCS reference model rebuilt from the in-flight solution in :mod:`lrs_helpers.instrument`.

    The slit counterpart of :func:`slitless_specwcs_model`: the in-flight CRDS table
    (``jwst_miri_specwcs_0005.fits``: trace centre and wavelength per FULL-frame row, relative to
    the slit reference pixel IMX/IMY = 326.13/300.7) rebuilt from the instrument fit. Pass the
    real file instead whenever you have it.

    Returns
    -------
    stdatamodels.jwst.datamodels.MiriLRSSpecwcsModel
        Rows 7-393 of the FULL frame.
    """
    x_ref, y_ref = SPECWCS_SLIT_REFERENCE
    return _specwcs_model("slit", np.arange(393, 6, -1, dtype=np.float64), (x_ref - 1, y_ref - 1))


def _with_pointing(model, aperture_name):
    """A copy of ``model`` (a DataModel, or the product at a path) with the pointing keywords
    AssignWcsStep needs filled where it lacks them: V2/V3 reference, V3 angle and parity of the
    SIAF aperture ``aperture_name`` (pysiaf), the sky reference at the target, roll 0."""
    from lrs_helpers.pointing import siaf_aperture

    model = datamodels.open(model) if not hasattr(model, "meta") else model.copy()
    info = model.meta.wcsinfo
    if info.v2_ref is None or info.ra_ref is None:
        aperture = siaf_aperture(aperture_name)
        info.v2_ref, info.v3_ref = float(aperture.V2Ref), float(aperture.V3Ref)
        info.v3yangle, info.vparity = float(aperture.V3IdlYAngle), int(aperture.VIdlParity)
        info.ra_ref, info.dec_ref, info.roll_ref = model.meta.target.ra, model.meta.target.dec, 0.0
    return model


def _assign_wcs(model, aperture_name, specwcs, offline):
    """jwst ``AssignWcsStep`` on a copy of ``model`` with its pointing keywords filled from
    ``aperture_name`` where it lacks them, the SIAF distortion and ``specwcs`` (a model, or a
    path) as its references."""
    from jwst.assign_wcs import AssignWcsStep

    overrides = {reftype: "N/A" for reftype in AssignWcsStep.reference_file_types}
    # a copy of the distortion, so the cached reference model is never changed by the step
    overrides.update(distortion=siaf_distortion_model().copy(),
                     specwcs=specwcs if hasattr(specwcs, "wavetable") else str(specwcs))
    return run_step(AssignWcsStep, _with_pointing(model, aperture_name), offline=offline, overrides=overrides)


def assign_slit_wcs(model, specwcs=None, *, offline=None):
    """Run jwst ``AssignWcsStep`` on a MIR_LRS-FIXEDSLIT image without CRDS.

    The pointing keywords assign_wcs needs (V2/V3 reference of MIRIM_SLIT from pysiaf; RA/Dec
    reference at the target, roll 0) are filled on a copy where the product lacks them.

    Parameters
    ----------
    model : DataModel or path-like
        A MIR_LRS-FIXEDSLIT rate or cal image (ImageModel).
    specwcs : path-like or MiriLRSSpecwcsModel, optional
        The MIR_LRS-FIXEDSLIT SPECWCS reference; default :func:`slit_specwcs_model`.
    offline : bool or None
        As for :func:`run_step`.

    Returns
    -------
    DataModel
        A new model with ``meta.wcs`` (detector -> RA, Dec, wavelength).
    """
    return _assign_wcs(model, instrument.SLIT_APERTURE, slit_specwcs_model() if specwcs is None else specwcs, offline)


def assign_slitless_wcs(model, specwcs=None, *, offline=None):
    """Run jwst ``AssignWcsStep`` on slitless integrations without CRDS.

    The pointing keywords assign_wcs needs (V2/V3 reference of the slitless SIAF aperture from
    pysiaf; RA/Dec reference at the target, roll 0) are filled on a copy where the product
    lacks them.

    Parameters
    ----------
    model : DataModel or path-like
        A MIR_LRS-SLITLESS rateints/calints (CubeModel).
    specwcs : path-like or MiriLRSSpecwcsModel, optional
        The MIR_LRS-SLITLESS SPECWCS reference (e.g. ``jwst_miri_specwcs_0006.fits``); default
        :func:`slitless_specwcs_model`.
    offline : bool or None
        As for :func:`run_step`.

    Returns
    -------
    DataModel
        A new model with ``meta.wcs`` (detector -> RA, Dec, wavelength).
    """
    return _assign_wcs(model, instrument.SLITLESS_APERTURE,
                       slitless_specwcs_model() if specwcs is None else specwcs, offline)


def extract_with_reference(model, reference, *, specwcs=None, offline=None):
    """Extract spectra with jwst ``Extract1dStep`` and a custom JSON reference.

    Parameters
    ----------
    model : DataModel or path-like
        Slitless integrations; when they have no WCS yet, ``specwcs`` is used to assign one.
    reference : path-like
        extract_1d JSON reference (checked with :func:`lrs_helpers.background.validate_extract1d_reference` first).
    specwcs : path-like or MiriLRSSpecwcsModel, optional
        SPECWCS reference for :func:`assign_slitless_wcs` when ``model`` has no WCS yet;
        default :func:`slitless_specwcs_model`.
    offline : bool or None
        As for :func:`run_step`.

    Returns
    -------
    stdatamodels.jwst.datamodels.TSOMultiSpecModel
        The x1dints product (one spectrum per integration in its ``spec_table``).
    """
    from jwst.extract_1d import Extract1dStep
    from .background import validate_extract1d_reference

    validate_extract1d_reference(reference)
    if not isinstance(model, datamodels.JwstDataModel):
        model = datamodels.open(model)
    if getattr(model.meta, "wcs", None) is None:
        model = assign_slitless_wcs(model, specwcs, offline=offline)
    overrides = {reftype: "N/A" for reftype in Extract1dStep.reference_file_types}
    overrides["extract1d"] = str(reference)
    return run_step(Extract1dStep, model, offline=offline, overrides=overrides, apply_apcorr=False)


def extract_slit_s2d(model, *, xstart, xstop, background_columns=(), bkg_order=2, offline=None):
    """Box extraction of an LRS slit s2d with jwst ``Extract1dStep``, background fitted row by row.

    The pipeline's own mitigation of a background that varies across the slit: ``bkg_fit='poly'``
    fits a polynomial of ``bkg_order`` across the slit on every wavelength row, to the pixels of
    the background regions, and subtracts it under the box. No aperture correction is applied,
    so the result compares with a plain box sum.

    Parameters
    ----------
    model : DataModel or path-like
        A MIR_LRS-FIXEDSLIT s2d (SlitModel) with its WCS.
    xstart, xstop : int
        First and last column of the box, inclusive (the extract_1d JSON convention).
    background_columns : sequence of (int, int)
        Background regions, each the first and last column, inclusive; none for no background.
    bkg_order : int
        Polynomial degree across the slit.
    offline : bool or None
        As for :func:`run_step`.

    Returns
    -------
    stdatamodels.jwst.datamodels.MultiSpecModel
        The x1d product.
    """
    import json

    from jwst.extract_1d import Extract1dStep

    aperture = {"id": "MIR_LRS-FIXEDSLIT", "region_type": "target", "dispaxis": 2,
                "xstart": int(xstart), "xstop": int(xstop), "use_source_posn": False}
    if background_columns:
        # bkg_coeff limits are pixel-centre coordinates: first - 0.5 .. last + 0.5 covers whole pixels
        aperture["bkg_coeff"] = [[edge] for first, last in background_columns
                                 for edge in (first - 0.5, last + 0.5)]
        aperture.update(bkg_fit="poly", bkg_order=int(bkg_order))
    reference = {"reftype": "EXTRACT1D", "instrument": "MIRI", "telescope": "JWST",
                 "exp_type": "MIR_LRS-FIXEDSLIT", "apertures": [aperture]}
    if not isinstance(model, datamodels.JwstDataModel):
        model = datamodels.open(model)
    overrides = {reftype: "N/A" for reftype in Extract1dStep.reference_file_types}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "extract1d_lrs_slit.json")
        with open(path, "w") as stream:
            json.dump(reference, stream)
        overrides["extract1d"] = path
        return run_step(Extract1dStep, model, offline=offline, overrides=overrides,
                        apply_apcorr=False, subtract_background=bool(background_columns))


def gaussian_psf_reference(wavelength_um, sigma_px, *, subpix=4, half_width_px=20):
    """A SpecPsfModel (extract_1d's PSF reference) of a pixel-integrated Gaussian profile.

    Parameters
    ----------
    wavelength_um : array_like
        Wavelengths of the PSF rows (um), rising.
    sigma_px : array_like
        Gaussian sigma across the dispersion at each wavelength (pixels), e.g.
        :func:`lrs_helpers.instrument.psf_sigma_pixels`.
    subpix : int
        Samples per pixel across the dispersion.
    half_width_px : int
        Half-width of the profile (pixels).

    Returns
    -------
    stdatamodels.jwst.datamodels.SpecPsfModel
        One aperture ("ANY"), centre column ``half_width_px * subpix``: each sample is the
        Gaussian integrated over one pixel centred there, as a detector pixel records it.
    """
    from scipy.special import erf

    wave = np.asarray(wavelength_um, dtype=float)
    sigma = np.broadcast_to(np.asarray(sigma_px, dtype=float), wave.shape)[:, None]
    offsets = (np.arange(2 * half_width_px * subpix + 1) - half_width_px * subpix)[None, :] / subpix

    def cdf(u):
        return 0.5 * (1.0 + erf(u / (np.sqrt(2.0) * sigma)))

    psf = datamodels.SpecPsfModel()
    psf.apertures.append({"name": "ANY", "subpix": float(subpix), "center_col": float(half_width_px * subpix),
                          "data": cdf(offsets + 0.5) - cdf(offsets - 0.5), "wave": wave})
    psf.meta.instrument.name = "MIRI"
    psf.meta.exposure.type = "MIR_LRS-FIXEDSLIT"
    return psf


def extract_slit_optimal(model, psf, *, background_columns=(), bkg_order=2, offline=None):
    """Optimal (PSF-weighted) extraction of a nod-subtracted LRS slit cal image with jwst
    ``Extract1dStep`` (``extraction_type='optimal'``), the PSF and its negative nod image placed
    from the WCS and the dither position, optionally with a polynomial background across the slit.

    Parameters
    ----------
    model : DataModel or path-like
        A MIR_LRS-FIXEDSLIT cal image (unresampled: extract_1d needs its v2v3 frame to place the
        negative nod), nod-subtracted, with ``meta.dither.dithered_ra/dec``.
    psf : str or SpecPsfModel
        extract_1d PSF reference (the CRDS one, or :func:`gaussian_psf_reference`).
    background_columns : sequence of (int, int)
        Background regions, first and last detector column, inclusive.
    bkg_order : int
        Polynomial degree across the slit.
    offline : bool or None
        As for :func:`run_step`.

    Returns
    -------
    stdatamodels.jwst.datamodels.MultiSpecModel
    """
    import json

    from jwst.extract_1d import Extract1dStep
    from jwst.extract_1d.source_location import location_from_wcs

    if not isinstance(model, datamodels.JwstDataModel):
        model = datamodels.open(model)
    ncols = model.data.shape[-1]
    aperture = {"id": "MIR_LRS-FIXEDSLIT", "region_type": "target", "dispaxis": 2,
                "xstart": 0, "xstop": ncols - 1, "use_source_posn": True}
    if background_columns:
        # with use_source_posn, extract_1d moves the regions with the source from the nominal
        # centre (the middle of xstart..xstop): give them relative to it
        _, _, location, _ = location_from_wcs(model, None, make_trace=False)
        shift = 0.5 * (ncols - 1) - location
        aperture["bkg_coeff"] = [[edge + shift] for first, last in background_columns
                                 for edge in (first - 0.5, last + 0.5)]
        aperture.update(bkg_fit="poly", bkg_order=int(bkg_order))
    reference = {"reftype": "EXTRACT1D", "instrument": "MIRI", "telescope": "JWST",
                 "exp_type": "MIR_LRS-FIXEDSLIT", "apertures": [aperture]}
    overrides = {reftype: "N/A" for reftype in Extract1dStep.reference_file_types}
    overrides["psf"] = psf
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "extract1d_lrs_slit_optimal.json")
        with open(path, "w") as stream:
            json.dump(reference, stream)
        overrides["extract1d"] = path
        return run_step(Extract1dStep, model, offline=offline, overrides=overrides, apply_apcorr=False,
                        extraction_type="optimal", subtract_background=bool(background_columns))
