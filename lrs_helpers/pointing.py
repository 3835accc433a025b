"""From a pointing offset to the source position in the MIRI LRS slit.

JWST points with the Fine Guidance Sensor; the MIRI field sits at the far side of the focal plane,
and a systematic 0.15-0.20 arcsec offset in V3 between where FGS thinks MIRI points and where it
does has been reported. The slit's short axis (ideal Y of the pysiaf aperture MIRIM_SLIT) lies
within 5 degrees of +V3, so almost all of that offset goes *across* the 0.51 arcsec slit.

Core functions: :func:`v2v3_offset_to_slit` / :func:`slit_to_v2v3_offset` (through pysiaf),
:func:`centroid_source` (photutils) and :func:`pixel_to_v2v3_offset`. Edges: :func:`ta_centroid`
reads a target-acquisition image, :func:`slit_explorer` is the V3-offset widget.
"""

import contextlib
import logging
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import instrument

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


def _finite(values, name):
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
    from astropy.stats import sigma_clipped_stats
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.centroids import centroid_2dg

    data = np.array(image, dtype=float)
    if data.ndim != 2 or min(data.shape) < box_size:
        raise ValueError(f"image must be 2-D and at least {box_size} px on a side; got shape {data.shape}")
    bad = ~np.isfinite(data) if mask is None else (~np.isfinite(data) | np.asarray(mask, bool))
    x0, y0 = (int(round(v)) for v in _finite(guess_xy, "guess_xy"))
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
    det_x = float(x) + subarray_origin[0]
    det_y = float(y) + subarray_origin[1]
    v2, v3 = ap.det_to_tel(det_x, det_y)
    return float(v2 - ap.V2Ref), float(v3 - ap.V3Ref)


def v2v3_offset_to_pixel(dv2_arcsec, dv3_arcsec, *, subarray_origin=(1, 1), aperture=TA_APERTURE):
    """0-based image pixel of a V2/V3 offset from an aperture's reference point (inverse of
    :func:`pixel_to_v2v3_offset`)."""
    ap = siaf_aperture(aperture)
    det_x, det_y = ap.tel_to_det(ap.V2Ref + float(dv2_arcsec), ap.V3Ref + float(dv3_arcsec))
    return float(det_x - subarray_origin[0]), float(det_y - subarray_origin[1])


@dataclass(frozen=True)
class TACentroid:
    """Source position measured on a target-acquisition image.

    ``x_pixel``/``y_pixel`` are 0-based in the image array; ``dv2``/``dv3`` the offset from the TA
    aperture's reference point, arcsec.
    """

    x_pixel: float
    y_pixel: float
    dv2: float
    dv3: float
    aperture: str


def ta_centroid(ta_image, *, aperture=TA_APERTURE, box_size=11):
    """Centroid of the source in a MIRI target-acquisition image and its V2/V3 offset.

    Parameters
    ----------
    ta_image : path-like, ImageModel or array_like
        A TA exposure (EXP_TYPE MIR_TACQ or MIR_TACONFIRM, rate or cal level), read through
        :func:`lrs_helpers.io.open_product`; or a 2-D FULL-array image.
    aperture : str
        TA region of interest; the brightest source inside it is measured.
    box_size : int
        Side of the box fitted by :func:`centroid_source`, pixels.

    Returns
    -------
    TACentroid
    """
    if isinstance(ta_image, np.ndarray):
        data, origin, label = np.asarray(ta_image, dtype=float), (1, 1), "the TA image array"
    else:
        from lrs_helpers import io

        model = io.open_product(ta_image, levels=("rate", "cal"),
                                exp_types=("MIR_TACQ", "MIR_TACONFIRM"))
        try:
            data = np.array(model.data, dtype=float)
            origin = (int(model.meta.subarray.xstart or 1), int(model.meta.subarray.ystart or 1))
            label = str(ta_image if not hasattr(ta_image, "meta") else ta_image.meta.filename)
            if data.ndim == 3:
                data = np.nanmedian(data, axis=0)
        finally:
            if model is not ta_image:
                model.close()
    from lrs_helpers import io

    # a file's problems (no source in the ROI, a subarray that misses it) come back as one line
    with (io.input_errors(label) if label != "the TA image array" else contextlib.nullcontext()):
        return _ta_centroid(data, origin, label, aperture, box_size)


def _ta_centroid(data, origin, label, aperture, box_size):
    """:func:`ta_centroid` on an image array whose first pixel is ``origin`` (1-based)."""
    if data.ndim != 2:
        raise ValueError(f"{label}: expected a 2-D image; got shape {data.shape}")
    # Search the aperture's region of interest for the brightest smoothed pixel.
    ap = siaf_aperture(aperture)
    corners_x, corners_y = ap.corners("det")
    x_lo = int(np.floor(min(corners_x))) - origin[0]
    y_lo = int(np.floor(min(corners_y))) - origin[1]
    x_hi = int(np.ceil(max(corners_x))) - origin[0]
    y_hi = int(np.ceil(max(corners_y))) - origin[1]
    x_lo, y_lo = max(x_lo, 0), max(y_lo, 0)
    x_hi, y_hi = min(x_hi, data.shape[1]), min(y_hi, data.shape[0])
    if x_hi - x_lo < box_size or y_hi - y_lo < box_size:
        raise ValueError(
            f"{label}: the image (shape {data.shape}, origin {origin}) does not cover the "
            f"{aperture} region of interest; expected a FULL-array or TA-subarray image"
        )
    roi = data[y_lo:y_hi, x_lo:x_hi]
    if np.isfinite(roi).sum() < 10:
        raise ValueError(f"{label}: the {aperture} region holds no valid pixels")
    from scipy.ndimage import uniform_filter

    smooth = uniform_filter(np.nan_to_num(roi, nan=np.nanmedian(roi)), size=3)
    peak_y, peak_x = np.unravel_index(np.argmax(smooth), smooth.shape)
    x, y = centroid_source(data, (peak_x + x_lo, peak_y + y_lo), box_size=box_size)
    dv2, dv3 = pixel_to_v2v3_offset(x, y, subarray_origin=origin, aperture=aperture)
    return TACentroid(x_pixel=x, y_pixel=y, dv2=dv2, dv3=dv3, aperture=aperture)


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

    from lrs_helpers import pathloss

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
