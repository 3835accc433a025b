"""From a pointing offset to the source position in the MIRI LRS slit.

JWST points with the Fine Guidance Sensor; the MIRI field sits at the far side of the focal plane,
and a systematic 0.15-0.20 arcsec offset in V3 between where FGS thinks MIRI points and where it
does has been reported. The slit's short axis (ideal Y of the pysiaf aperture MIRIM_SLIT) lies
within 5 degrees of +V3, so almost all of that offset goes *across* the 0.51 arcsec slit.

Target acquisition (TA) removes that offset: the acquisition image (MIR_TACQ) shows the source
in the TA region of interest, where the offset is expected; the verification image
(MIR_TACONFIRM) shows it through the slit, where it ended up. TA images read out FASTGRPAVG were
calibrated with one frame's time, so their rates are too high by the frames averaged per group
(MIRI known issue LRS06, jwst#8069).

Core functions: :func:`v2v3_offset_to_slit` / :func:`slit_to_v2v3_offset` (through pysiaf),
:func:`centroid_source` (photutils), :func:`pixel_to_v2v3_offset`, :func:`ta_rate_factor` and
:func:`source_count_rate` (photutils aperture photometry). Edges: :func:`ta_centroid` reads an
acquisition or verification image (and on a slit verification image fits the position across
the slit with the slit's clipping modelled), :func:`ta_exposure_time` reads a TA header's timing,
:func:`slit_explorer` is the V3-offset widget. Offsets accept astropy Quantities.
"""

import contextlib
import logging
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy import units as u
from astropy.stats import SigmaClip, sigma_clipped_stats
from astropy.utils.exceptions import AstropyUserWarning
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture
from photutils.centroids import centroid_2dg
from scipy.ndimage import uniform_filter
from scipy.optimize import least_squares
from scipy.special import erf

from . import instrument, io, pathloss
from .units import to_value

#: Target-acquisition region of interest used for LRS slit observations (FULL array), and the slit.
TA_APERTURE = instrument.TA_APERTURE
SLIT_APERTURE = instrument.SLIT_APERTURE


@lru_cache(maxsize=None)
def siaf_aperture(name):
    """A MIRI aperture from the SIAF that ships with pysiaf, imported without network access.

    pysiaf compares its SIAF version with one online when it is first imported and logs a
    warning when it cannot; that check is blocked here (the bundled SIAF is what we use) and its
    log line silenced.

    Parameters
    ----------
    name : str
        Aperture name, e.g. ``"MIRIM_SLIT"`` or ``"MIRIM_TALRS"``.

    Returns
    -------
    pysiaf.Aperture
    """
    logging.getLogger("pysiaf").setLevel(logging.ERROR)
    if "pysiaf" not in sys.modules:
        import requests

        online_get = requests.get

        def refuse(*args, **kwargs):
            raise requests.ConnectionError("online SIAF version check skipped")

        requests.get = refuse
        try:
            import pysiaf  # noqa: F401
        finally:
            requests.get = online_get
    siaf = _miri_siaf()
    if name not in siaf.apernames:
        raise ValueError(f"aperture {name!r} is not in the MIRI SIAF; expected e.g. 'MIRIM_SLIT'")
    return siaf[name]


@lru_cache(maxsize=1)
def _miri_siaf():
    import pysiaf

    return pysiaf.Siaf("MIRI")


def _finite(values, name, unit=u.arcsec):
    """``values`` as a float array in ``unit`` (a Quantity is converted; a plain number is taken
    to be in ``unit``); a Quantity of another physical type raises one clear error."""
    values = to_value(values, unit, name)
    array = np.asarray(values, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite numbers; got {values!r}")
    return array


def v2v3_offset_to_slit(dv2_arcsec, dv3_arcsec, aperture=SLIT_APERTURE):
    """Where a pointing offset puts the source in the slit.

    Parameters
    ----------
    dv2_arcsec, dv3_arcsec : float or array_like
        Source position minus the aperture's reference point in the telescope frame (V2, V3),
        arcsec.
    aperture : str
        pysiaf aperture, default the LRS slit ``MIRIM_SLIT``.

    Returns
    -------
    along_arcsec, across_arcsec : numpy.ndarray
        Ideal X (along the slit's 4.72 arcsec length) and ideal Y (across its 0.51 arcsec width)
        relative to the slit centre, arcsec.
    """
    dv2 = _finite(dv2_arcsec, "dv2_arcsec")
    dv3 = _finite(dv3_arcsec, "dv3_arcsec")
    ap = siaf_aperture(aperture)
    along, across = ap.tel_to_idl(ap.V2Ref + dv2, ap.V3Ref + dv3)
    return np.asarray(along, dtype=float), np.asarray(across, dtype=float)


def slit_to_v2v3_offset(along_arcsec, across_arcsec, aperture=SLIT_APERTURE):
    """Inverse of :func:`v2v3_offset_to_slit`.

    Parameters
    ----------
    along_arcsec, across_arcsec : float or array_like
        Position in the aperture's ideal frame, arcsec.
    aperture : str
        pysiaf aperture name.

    Returns
    -------
    dv2_arcsec, dv3_arcsec : numpy.ndarray
        Offset from the aperture's reference point in V2, V3, arcsec.
    """
    along = _finite(along_arcsec, "along_arcsec")
    across = _finite(across_arcsec, "across_arcsec")
    ap = siaf_aperture(aperture)
    v2, v3 = ap.idl_to_tel(along, across)
    return np.asarray(v2 - ap.V2Ref, dtype=float), np.asarray(v3 - ap.V3Ref, dtype=float)


def slit_outline_arcsec(aperture=SLIT_APERTURE):
    """Corners of the slit in its ideal frame (along, across), arcsec, from the SIAF.

    MIRIM_SLIT has no detector frame in the SIAF, so the stored corners are used as they are.
    """
    along, across = siaf_aperture(aperture).corners("idl", rederive=False)
    return np.asarray(along, dtype=float), np.asarray(across, dtype=float)


def centroid_source(image, guess_xy, *, box_size=11, mask=None):
    """Centroid of a point source near a guessed position, by a 2-D Gaussian fit.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Image, any unit; NaN pixels are ignored.
    guess_xy : (float, float)
        0-based (x, y) pixel position to search around.
    box_size : int
        Odd side of the square box fitted, pixels (11 px = 1.2 arcsec holds the F1500W core).
    mask : array_like of bool, shape (ny, nx), optional
        True where a pixel must be ignored.

    Returns
    -------
    (float, float)
        0-based (x, y) centroid in ``image`` pixels.
    """
    data = np.array(image, dtype=float)
    if data.ndim != 2 or min(data.shape) < box_size:
        raise ValueError(f"image must be 2-D and at least {box_size} px on a side; got shape {data.shape}")
    bad = ~np.isfinite(data) if mask is None else (~np.isfinite(data) | np.asarray(mask, bool))
    x0, y0 = (int(round(v)) for v in _finite(guess_xy, "guess_xy", u.pix))
    half = box_size // 2
    x0 = int(np.clip(x0, half, data.shape[1] - half - 1))
    y0 = int(np.clip(y0, half, data.shape[0] - half - 1))
    box = (slice(y0 - half, y0 + half + 1), slice(x0 - half, x0 + half + 1))
    cutout, cut_bad = data[box], bad[box]
    if (~cut_bad).sum() < 10:
        raise ValueError(f"fewer than 10 valid pixels around ({x0}, {y0}); cannot centroid")
    # Subtract the local sky so the Gaussian fit sees only the source.
    _, sky, _ = sigma_clipped_stats(data[~bad])
    with warnings.catch_warnings():
        # photutils warns when the Gaussian fit does not converge: make that an error here.
        warnings.simplefilter("error", AstropyUserWarning)
        try:
            x, y = centroid_2dg(np.where(cut_bad, 0.0, cutout - sky), mask=cut_bad)
        except AstropyUserWarning:
            x = y = np.nan
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"centroid fit around ({x0}, {y0}) did not converge; no point source there?")
    return float(x + x0 - half), float(y + y0 - half)


def _frame_aperture(aperture):
    """The aperture whose detector transforms serve ``aperture``: itself, or MIRIM_FULL (same
    detector, same distortion) for those without a detector frame in the SIAF (MIRIM_SLIT)."""
    ap = siaf_aperture(aperture)
    return siaf_aperture("MIRIM_FULL") if ap.AperType == "SLIT" else ap


def _detector_to_tel(det_x, det_y):
    """1-based FULL-frame detector pixel -> V2, V3 (arcsec) through the MIRIM_FULL distortion."""
    return siaf_aperture("MIRIM_FULL").det_to_tel(det_x, det_y)


def pixel_to_v2v3_offset(x, y, *, subarray_origin=(1, 1), aperture=TA_APERTURE):
    """V2/V3 offset of a detector position from an aperture's reference point.

    Parameters
    ----------
    x, y : float
        0-based pixel position in the image array.
    subarray_origin : (int, int)
        1-based (SUBSTRT1, SUBSTRT2) of the image on the detector; (1, 1) for FULL.
    aperture : str
        pysiaf aperture whose reference point the offset is measured from.

    Returns
    -------
    dv2_arcsec, dv3_arcsec : float
    """
    ap = siaf_aperture(aperture)
    # SIAF detector pixels are 1-based: pixel 0 of a subarray starting at 1 is detector pixel 1.
    v2, v3 = _frame_aperture(aperture).det_to_tel(float(x) + subarray_origin[0],
                                                   float(y) + subarray_origin[1])
    return float(v2 - ap.V2Ref), float(v3 - ap.V3Ref)


def v2v3_offset_to_pixel(dv2_arcsec, dv3_arcsec, *, subarray_origin=(1, 1), aperture=TA_APERTURE):
    """0-based image pixel of a V2/V3 offset from an aperture's reference point (inverse of
    :func:`pixel_to_v2v3_offset`)."""
    ap = siaf_aperture(aperture)
    dv2 = float(_finite(dv2_arcsec, "dv2_arcsec"))
    dv3 = float(_finite(dv3_arcsec, "dv3_arcsec"))
    det_x, det_y = _frame_aperture(aperture).tel_to_det(ap.V2Ref + dv2, ap.V3Ref + dv3)
    return float(det_x - subarray_origin[0]), float(det_y - subarray_origin[1])


#: Where the source is searched for, by exposure type and subarray: the acquisition image
#: (MIR_TACQ) in the TA region of interest, the verification image (MIR_TACONFIRM), taken after
#: the acquisition moved the source, around the science aperture's reference point.
SEARCH_APERTURES = {
    ("MIR_TACQ", "FULL"): TA_APERTURE,
    ("MIR_TACQ", "SLITLESSPRISM"): "MIRIM_TASLITLESSPRISM",
    ("MIR_TACONFIRM", "FULL"): SLIT_APERTURE,
    ("MIR_TACONFIRM", "SLITLESSPRISM"): "MIRIM_SLITLESSPRISM",
}
#: Half side of the search box around an aperture without a detector outline in the SIAF, pixels
#: (2.2 arcsec: the slit is 0.51" wide, a verification image finds the source within ~0.2").
SEARCH_HALF_SIZE_PX = 20
#: Pivot wavelength of the TA filters, um (filter names), used for the PSF width of the slit
#: clipping correction; FND (neutral density) is broad and taken at 10 um.
TA_FILTER_WAVELENGTH_UM = {"F560W": 5.6, "F1000W": 10.0, "F1500W": 15.0, "FND": 10.0}


@dataclass(frozen=True)
class TACentroid:
    """Source position measured on a target-acquisition or verification image.

    ``x_pixel``/``y_pixel`` are 0-based in the image array; ``dv2``/``dv3`` the offset from the
    reference point of ``aperture`` (the TA region for MIR_TACQ, the science aperture for
    MIR_TACONFIRM), arcsec. On a slit verification image ``slit_along``/``slit_across`` give the
    source position in the slit (ideal frame of MIRIM_SLIT, arcsec); ``slit_across`` comes from a
    fit of the across-slit profile with the slit's clipping modelled. Otherwise they are NaN.
    """

    x_pixel: float
    y_pixel: float
    dv2: float
    dv3: float
    aperture: str
    exp_type: str = "MIR_TACQ"
    slit_along: float = float("nan")
    slit_across: float = float("nan")
    #: systematic error of ``slit_across``: the PSF width's uncertainty carried through the fit
    slit_across_error: float = float("nan")


def _search_box(aperture, origin, shape):
    """(x_lo, x_hi, y_lo, y_hi), 0-based half-open, of the region searched for the source."""
    ap = siaf_aperture(aperture)
    if ap.AperType == "SLIT":
        # no detector frame in the SIAF (MIRIM_SLIT): a box around the reference point
        x, y = v2v3_offset_to_pixel(0.0, 0.0, subarray_origin=origin, aperture=aperture)
        box = (x - SEARCH_HALF_SIZE_PX, x + SEARCH_HALF_SIZE_PX,
               y - SEARCH_HALF_SIZE_PX, y + SEARCH_HALF_SIZE_PX)
    else:
        corners_x, corners_y = ap.corners("det")
        box = (min(corners_x) - origin[0], max(corners_x) - origin[0],
               min(corners_y) - origin[1], max(corners_y) - origin[1])
    x_lo, x_hi, y_lo, y_hi = (int(np.floor(box[0])), int(np.ceil(box[1])),
                              int(np.floor(box[2])), int(np.ceil(box[3])))
    return max(x_lo, 0), min(x_hi, shape[1]), max(y_lo, 0), min(y_hi, shape[0])


def _slit_position(data, x, y, origin, wavelength_um):
    """Along/across position in the slit of a source seen through it (verification image).

    The light of each detector row near the source (sky seen through the slit, away from the
    source, subtracted) is fitted with the Gaussian PSF of
    :func:`lrs_helpers.pathloss.psf_sigma_arcsec` at ``wavelength_um``, cut at the slit edges and
    integrated over the row's extent across the slit (pysiaf): the clipping is modelled, not
    centroided away.
    """
    slit = siaf_aperture(SLIT_APERTURE)
    dv2, dv3 = pixel_to_v2v3_offset(x, y, subarray_origin=origin, aperture=SLIT_APERTURE)
    along, _ = slit.tel_to_idl(slit.V2Ref + dv2, slit.V3Ref + dv3)
    rows = np.arange(int(round(y)) - 6, int(round(y)) + 7)
    cols = np.arange(int(round(x)) - 5, int(round(x)) + 6)
    sky_cols = np.r_[cols[0] - 14:cols[0] - 6, cols[-1] + 7:cols[-1] + 15]
    rows = rows[(rows >= 0) & (rows < data.shape[0])]
    sky_cols = sky_cols[(sky_cols >= 0) & (sky_cols < data.shape[1])]
    sky = np.nanmedian(data[np.ix_(rows, sky_cols)], axis=1)
    light = np.nansum(data[np.ix_(rows, cols)] - sky[:, None], axis=1)
    # each row's extent across the slit, through pysiaf (lower and upper pixel edge)
    edges = np.array([[slit.tel_to_idl(*_detector_to_tel(x + origin[0], row + origin[1] + side))[1]
                       for side in (-0.5, 0.5)] for row in rows])
    lower, upper = edges.min(axis=1), edges.max(axis=1)
    half = instrument.SLIT_WIDTH_ARCSEC / 2.0
    lower, upper = np.clip(lower, -half, half), np.clip(upper, -half, half)
    sigma = float(pathloss.psf_sigma_arcsec(wavelength_um))

    def fit(psf_scale):
        scale = np.sqrt(2.0) * sigma * psf_scale

        def residuals(params):
            amplitude, across = params
            model = 0.5 * amplitude * (erf((upper - across) / scale) - erf((lower - across) / scale))
            return model - light

        guess = (float(np.sum(light)) * 2.0, 0.0)
        return least_squares(residuals, guess, bounds=([0.0, -2 * half], [np.inf, 2 * half]))

    best = fit(1.0)
    # The slit keeps only the core, so the answer leans on the PSF width: refit with it changed
    # by the model's uncertainty (pathloss.PSF_WIDTH_UNCERTAINTY) and take half the spread; the
    # straight slit of the model against the pysiaf outline adds a floor (a centred source in
    # the twin reads +0.004").
    spread = [fit(1.0 + sign * pathloss.PSF_WIDTH_UNCERTAINTY).x[1] for sign in (-1, 1)]
    error = np.hypot(abs(spread[1] - spread[0]) / 2.0, pathloss.SLIT_GEOMETRY_UNCERTAINTY_ARCSEC)
    return float(along), float(best.x[1]), float(error)


def ta_centroid(ta_image, *, exp_type=None, aperture=None, box_size=11):
    """Centroid of the source in a MIRI target-acquisition or verification image.

    Parameters
    ----------
    ta_image : path-like, ImageModel or array_like
        A TA exposure (EXP_TYPE MIR_TACQ or MIR_TACONFIRM, rate or cal level), read through
        :func:`lrs_helpers.io.open_product`; or a 2-D FULL-array image.
    exp_type : {"MIR_TACQ", "MIR_TACONFIRM"}, optional
        For an array: which image it is (default MIR_TACQ). Products say it in their header.
    aperture : str, optional
        pysiaf aperture searched and measured from; default :data:`SEARCH_APERTURES` for the
        exposure type and subarray: the TA region of interest on an acquisition image, the slit
        (or slitless aperture) on a verification image.
    box_size : int
        Side of the box fitted by :func:`centroid_source`, pixels.

    Returns
    -------
    TACentroid
        On a slit verification image also the source's position in the slit.
    """
    filter_name, subarray = "F1500W", "FULL"
    if isinstance(ta_image, np.ndarray):
        data, origin, label = np.asarray(ta_image, dtype=float), (1, 1), "the TA image array"
        exp_type = exp_type or "MIR_TACQ"
    else:
        model = io.open_product(ta_image, levels=("rate", "cal"),
                                exp_types=("MIR_TACQ", "MIR_TACONFIRM"))
        try:
            data = np.array(model.data, dtype=float)
            origin = (int(model.meta.subarray.xstart or 1), int(model.meta.subarray.ystart or 1))
            label = str(ta_image if not hasattr(ta_image, "meta") else ta_image.meta.filename)
            exp_type = str(model.meta.exposure.type)
            subarray = str(model.meta.subarray.name or "FULL")
            filter_name = str(model.meta.instrument.filter or filter_name)
            if data.ndim == 3:
                data = np.nanmedian(data, axis=0)
        finally:
            if model is not ta_image:
                model.close()
    # a file's problems (no source in the ROI, a subarray that misses it) come back as one line
    with (io.input_errors(label) if label != "the TA image array" else contextlib.nullcontext()):
        return _ta_centroid(data, origin, label, aperture, box_size, exp_type, subarray, filter_name)


def _ta_centroid(data, origin, label, aperture, box_size, exp_type, subarray, filter_name):
    """:func:`ta_centroid` on an image array whose first pixel is ``origin`` (1-based)."""
    if data.ndim != 2:
        raise ValueError(f"{label}: expected a 2-D image; got shape {data.shape}")
    if aperture is None:
        if (exp_type, subarray) not in SEARCH_APERTURES:
            raise ValueError(f"{label}: no search region for EXP_TYPE {exp_type} on {subarray}; "
                             f"expected one of {sorted(SEARCH_APERTURES)}")
        aperture = SEARCH_APERTURES[(exp_type, subarray)]
    x_lo, x_hi, y_lo, y_hi = _search_box(aperture, origin, data.shape)
    if x_hi - x_lo < box_size or y_hi - y_lo < box_size:
        raise ValueError(
            f"{label}: the image (shape {data.shape}, origin {origin}) does not cover the "
            f"{aperture} search region; expected a FULL-array or TA-subarray image"
        )
    roi = data[y_lo:y_hi, x_lo:x_hi]
    if np.isfinite(roi).sum() < 10:
        raise ValueError(f"{label}: the {aperture} region holds no valid pixels")
    smooth = uniform_filter(np.nan_to_num(roi, nan=np.nanmedian(roi)), size=3)
    peak_y, peak_x = np.unravel_index(np.argmax(smooth), smooth.shape)
    x, y = centroid_source(data, (peak_x + x_lo, peak_y + y_lo), box_size=box_size)
    dv2, dv3 = pixel_to_v2v3_offset(x, y, subarray_origin=origin, aperture=aperture)
    along = across = across_error = float("nan")
    if exp_type == "MIR_TACONFIRM" and aperture == SLIT_APERTURE:
        wavelength = TA_FILTER_WAVELENGTH_UM.get(filter_name, 10.0)
        along, across, across_error = _slit_position(data, x, y, origin, wavelength)
    return TACentroid(x_pixel=x, y_pixel=y, dv2=dv2, dv3=dv3, aperture=aperture,
                      exp_type=exp_type, slit_along=along, slit_across=across,
                      slit_across_error=across_error)


# ---------------------------------------------------------------------------------------------
# FASTGRPAVG target-acquisition exposures: the exposure time the pipeline divides by.


def ta_rate_factor(readpatt, frame_time_s, group_time_s):
    """How many times too high the pipeline's count rate is for a TA read pattern.

    In the FASTGRPAVG patterns the detector averages ``N`` frames on board into each group
    (:data:`lrs_helpers.instrument.TA_FRAMES_PER_GROUP`), so groups are ``N * TFRAME`` apart.
    The ramp fit divides the slope per group by the header's TGROUP; when that is one frame time
    (jwst#8069, MIRI LRS known issue LRS06) the rate comes out ``N`` times too high.

    Parameters
    ----------
    readpatt : str
        READPATT, e.g. ``"FASTGRPAVG"``, ``"FASTGRPAVG8"`` or ``"FAST"``.
    frame_time_s : float
        TFRAME, seconds.
    group_time_s : float
        TGROUP, seconds: the time the ramp fit divided by.

    Returns
    -------
    float
        ``N * TFRAME / TGROUP``: 1 when the header's group time is right, 4 for FASTGRPAVG with
        TGROUP = TFRAME. Divide the pipeline's rate by it.
    """
    pattern = str(readpatt).strip().upper()
    if pattern not in instrument.TA_FRAMES_PER_GROUP:
        raise ValueError(f"READPATT {readpatt!r} is not a MIRI TA read pattern; expected one of "
                         f"{sorted(instrument.TA_FRAMES_PER_GROUP)}")
    frame_time = float(_finite(frame_time_s, "frame_time_s", u.s))
    group_time = float(_finite(group_time_s, "group_time_s", u.s))
    if frame_time <= 0 or group_time <= 0:
        raise ValueError(f"frame and group times must be positive; got {frame_time}, {group_time} s")
    return instrument.TA_FRAMES_PER_GROUP[pattern] * frame_time / group_time


@dataclass(frozen=True)
class TAExposureTime:
    """The exposure timing of a TA image as the pipeline used it, and the factor it is off by."""

    readpatt: str
    frames_per_group: int
    frame_time: float
    #: TGROUP of the header: what the ramp fit divided by, s
    group_time: float
    #: frames_per_group x frame_time: the real time between groups, s
    true_group_time: float
    #: pipeline rate / true rate (divide the product's rates by it)
    rate_factor: float


def ta_exposure_time(ta_image):
    """Read a TA product's timing keywords and say whether its rates are off (LRS06).

    Parameters
    ----------
    ta_image : path-like or ImageModel
        A MIR_TACQ / MIR_TACONFIRM rate or cal product.

    Returns
    -------
    TAExposureTime
    """
    model = io.open_product(ta_image, levels=("rate", "cal"), exp_types=("MIR_TACQ", "MIR_TACONFIRM"))
    try:
        exposure = model.meta.exposure
        readpatt, tframe, tgroup = exposure.readpatt, exposure.frame_time, exposure.group_time
        name = str(getattr(model.meta, "filename", None) or ta_image)
    finally:
        if model is not ta_image:
            model.close()
    if readpatt is None or tframe is None or tgroup is None:
        raise io.LRSInputError(f"{name}: READPATT, TFRAME and TGROUP are needed; the header lacks "
                               "at least one of them")
    frames = instrument.TA_FRAMES_PER_GROUP.get(str(readpatt).upper())
    if frames is None:
        raise io.LRSInputError(f"{name}: READPATT {readpatt} is not a MIRI TA read pattern")
    return TAExposureTime(readpatt=str(readpatt), frames_per_group=frames, frame_time=float(tframe),
                          group_time=float(tgroup), true_group_time=frames * float(tframe),
                          rate_factor=ta_rate_factor(readpatt, tframe, tgroup))


def source_count_rate(image, xy, *, radius_px=5.0, annulus_px=(10.0, 15.0)):
    """Count rate of a point source by aperture photometry (photutils), local sky subtracted.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Rate image, DN/s; NaN pixels are left out.
    xy : (float, float)
        0-based source position, pixels.
    radius_px : float
        Aperture radius, pixels (5 px = 0.55": 1.1 FWHM at 15 um).
    annulus_px : (float, float)
        Inner and outer radius of the sky annulus, pixels; its sigma-clipped median per pixel is
        subtracted.

    Returns
    -------
    float
        Source count rate inside the aperture, image unit x pixel (DN/s); not aperture-corrected.
    """
    data = np.array(image, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D; got shape {data.shape}")
    position = tuple(float(v) for v in _finite(xy, "xy", u.pix))
    mask = ~np.isfinite(data)
    sky = ApertureStats(data, CircularAnnulus(position, *annulus_px), mask=mask,
                        sigma_clip=SigmaClip(sigma=3.0)).median
    stats = ApertureStats(data - sky, CircularAperture(position, radius_px), mask=mask)
    return float(stats.sum)


def slit_explorer(*, wavelengths_um=(5.0, 7.5, 10.0, 12.5), max_offset_arcsec=0.35):
    """Widget: a V3 offset slider that draws the source on the slit and prints the flux loss.

    Parameters
    ----------
    wavelengths_um : sequence of float
        Wavelengths whose PSF core (FWHM circle) is drawn and whose loss is printed, um.
    max_offset_arcsec : float
        Slider range, arcsec.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    along_edge, across_edge = slit_outline_arcsec()

    def draw(dv3=0.18, dv2=0.0):
        along, across = v2v3_offset_to_slit(dv2, dv3)
        figure, axis = plt.subplots(figsize=(8, 3))
        axis.fill(along_edge, across_edge, color="0.9", edgecolor="k", label="MIRIM_SLIT")
        for index, wavelength in enumerate(wavelengths_um):
            fwhm = 2.3548 * float(pathloss.psf_sigma_arcsec(wavelength))
            axis.add_patch(plt.Circle((float(along), float(across)), fwhm / 2, fill=False,
                                      color=f"C{index}", label=f"FWHM at {wavelength:g} um"))
        axis.plot(along, across, "k+")
        axis.set_aspect("equal")
        axis.set_xlim(-1.0, 1.0)
        axis.set_ylim(-0.6, 0.6)
        axis.set_xlabel("along the slit (arcsec)")
        axis.set_ylabel("across the slit (arcsec)")
        axis.legend(loc="upper right", fontsize="small")
        plt.show()
        losses = 1 - pathloss.slit_throughput(np.asarray(wavelengths_um), across) / \
            pathloss.slit_throughput(np.asarray(wavelengths_um), 0.0)
        print(f"across = {float(across):+.3f} arcsec, along = {float(along):+.3f} arcsec")
        for wavelength, loss in zip(wavelengths_um, losses):
            print(f"  {wavelength:5.1f} um: {100 * loss:5.1f} % less light than a centred source")

    slider = dict(min=-max_offset_arcsec, max=max_offset_arcsec, step=0.01,
                  continuous_update=False, readout_format=".2f")
    return widgets.interactive(
        draw,
        dv3=widgets.FloatSlider(value=0.18, description="dV3 (\")", **slider),
        dv2=widgets.FloatSlider(value=0.0, description="dV2 (\")", **slider),
    )
