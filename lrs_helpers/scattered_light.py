"""Scattered light from the imager field in LRS slit spectra: see it, model it, remove it.

The known-issues page names several ways light that is not the target's reaches the rows where the
slit is dispersed: stray light in the imager optics, the dispersed Airy rings (PSF wings) of bright
sources in the imager field next to the slit (the prism disperses the whole field), persistence of
a bright slit image from an earlier exposure, and real gradients of the sky along the slit. The
pipeline does not remove the first two, and in nodded data they do not cancel: a field source is
fixed on the sky, so it moves with the telescope between the nods and the nod difference leaves a
residual across the slit, steepest on the side facing the source. That residual is smooth along
each wavelength row, so a low-order polynomial across the slit, fitted to the pixels away from the
positive and negative traces, models it row by row; it cannot follow the wings exactly (they fall
as a power of the distance), so some residual stays, larger the closer the source. Persistence
sits on the trace itself and no fit across the slit can separate it.

Core (numpy arrays in, new arrays out, nothing from jwst): :func:`trace_exclusion_mask`,
:func:`background_columns`, :func:`find_nod_traces`, :func:`find_traces`,
:func:`fit_row_background`, :func:`contamination_score`, :func:`box_flux`, :func:`row_wavelength`.
Edges: :func:`correct_s2d` (an s2d product), :func:`draw_lrs_regions` (pysiaf geometry on an
imager frame), :func:`make_explorer` (ipywidgets).
"""


import numpy as np
from stdatamodels import DataModel

from . import instrument
from .io import LRSInputError, input_errors, open_product, write_product

#: number of pixels beyond the polynomial's free parameters a row needs to be fitted
MIN_EXTRA_PIXELS = 3


def trace_exclusion_mask(shape, trace_columns, half_width):
    """Pixels within ``half_width`` columns of one or more traces, per row.

    Parameters
    ----------
    shape : (int, int)
        (rows, columns) of the image; rows run along the wavelength.
    trace_columns : sequence of float or of array_like
        Trace centre column(s): one number per trace (the same on every row, as in an s2d),
        or one array of length ``rows`` per trace (a curved trace on a detector frame).
    half_width : float
        Half-width of the excluded band, columns (pixels whose centre lies within it are excluded).

    Returns
    -------
    numpy.ndarray of bool
        ``shape``; True on the excluded (trace) pixels.
    """
    nrows, ncols = (int(n) for n in shape)
    if half_width < 0 or not np.isfinite(half_width):
        raise ValueError(f"half_width must be a finite number of columns >= 0, got {half_width!r}")
    columns = np.arange(ncols)[None, :]
    mask = np.zeros((nrows, ncols), dtype=bool)
    for centre in trace_columns:
        centre = np.broadcast_to(np.asarray(centre, dtype=float), (nrows,))[:, None]
        mask |= np.abs(columns - centre) <= half_width
    return mask


def background_columns(ncols, trace_columns, half_width):
    """Column ranges away from every trace, as inclusive (first, last) pairs.

    The extract_1d JSON reference wants its background regions this way (``bkg_coeff``, see
    :func:`lrs_helpers.pipeline.extract_slit_s2d`); they are the columns :func:`correct_s2d`
    fits on an s2d whose traces do not curve.

    Parameters
    ----------
    ncols : int
        Number of columns across the slit.
    trace_columns : sequence of float
        Trace centre columns.
    half_width : float
        Columns left out on each side of each trace (as :func:`trace_exclusion_mask`).

    Returns
    -------
    list of (int, int)
        First and last column of each region, inclusive, left to right.
    """
    free = ~trace_exclusion_mask((1, ncols), trace_columns, half_width)[0]
    edges = np.flatnonzero(np.diff(np.r_[0, free.astype(int), 0]))
    return [(int(first), int(stop) - 1) for first, stop in zip(edges[::2], edges[1::2])]


def fit_row_background(image2d, wavelength2d, *, exclude_mask, order=2):
    """Scattered-light (background) model: a polynomial across the slit on every wavelength row.

    Parameters
    ----------
    image2d : array_like, shape (rows, columns)
        s2d (or rate/cal cut-out) surface brightness or count rate; rows are wavelength rows,
        columns run across (along) the slit. NaN pixels are ignored.
    wavelength2d : array_like, shape (rows, columns)
        Wavelength per pixel (um); pixels with a non-finite wavelength are outside the spectral
        region and are neither fitted nor modelled.
    exclude_mask : array_like of bool, shape (rows, columns)
        True on pixels to leave out of the fit: the source and, in nod-subtracted data, its
        negative image (see :func:`trace_exclusion_mask`).
    order : int
        Polynomial degree across the slit, 0-5 (2: follows most of the curvature a field
        source's wings leave across the slit; a line cannot, a higher degree follows the noise).

    Returns
    -------
    numpy.ndarray, shape (rows, columns)
        New float64 array, the model on every pixel of each fitted row (also under the traces);
        NaN on rows with fewer than ``order + 1 + MIN_EXTRA_PIXELS`` usable pixels and outside
        the spectral region.
    """
    image = np.asarray(image2d, dtype=float)
    wavelength = np.asarray(wavelength2d, dtype=float)
    exclude = np.asarray(exclude_mask, dtype=bool)
    if image.ndim != 2:
        raise ValueError(f"image2d must be 2-D (rows, columns), got shape {image.shape}")
    if wavelength.shape != image.shape or exclude.shape != image.shape:
        raise ValueError(f"image2d {image.shape}, wavelength2d {wavelength.shape} and exclude_mask "
                         f"{exclude.shape} must have the same shape")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= 5:
        raise ValueError(f"order must be an integer from 0 to 5, got {order!r}")
    in_region = np.isfinite(wavelength)
    usable = in_region & np.isfinite(image) & ~exclude
    ncols = image.shape[1]
    # Columns scaled to [-1, 1] keep the least-squares fit well conditioned.
    x = np.linspace(-1.0, 1.0, ncols) if ncols > 1 else np.zeros(ncols)
    model = np.full(image.shape, np.nan)
    for row in np.flatnonzero(usable.sum(axis=1) >= order + 1 + MIN_EXTRA_PIXELS):
        use = usable[row]
        coefficients = np.polynomial.polynomial.polyfit(x[use], image[row, use], order)
        model[row] = np.polynomial.polynomial.polyval(x, coefficients)
    model[~in_region] = np.nan
    return model


def contamination_score(image2d, model, source_mask):
    """Fraction of the extracted flux that is scattered light, per wavelength row.

    Parameters
    ----------
    image2d : array_like, shape (rows, columns)
        The image the spectrum is extracted from (before correction).
    model : array_like, shape (rows, columns)
        Scattered-light model (:func:`fit_row_background`).
    source_mask : array_like of bool, shape (rows, columns)
        The extraction aperture (True on the pixels summed into the spectrum).

    Returns
    -------
    numpy.ndarray, shape (rows,)
        ``sum(model) / sum(image)`` over the aperture on each row; NaN where the aperture has no
        finite pixel or the extracted sum is not positive.
    """
    image = np.asarray(image2d, dtype=float)
    background = np.asarray(model, dtype=float)
    aperture = np.asarray(source_mask, dtype=bool)
    if image.ndim != 2 or background.shape != image.shape or aperture.shape != image.shape:
        raise ValueError(f"image2d {image.shape}, model {background.shape} and source_mask "
                         f"{aperture.shape} must be 2-D arrays of the same shape")
    good = aperture & np.isfinite(image) & np.isfinite(background)
    extracted = np.where(good, image, 0.0).sum(axis=1)
    scattered = np.where(good, background, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(good.any(axis=1) & (extracted > 0), scattered / extracted, np.nan)


def box_flux(image2d, source_mask):
    """Sum of the finite pixels of each row inside the aperture (a box extraction).

    Returns
    -------
    numpy.ndarray, shape (rows,)
        Row sums, in the image's unit times pixels; NaN where the aperture has no finite pixel.
    """
    image = np.asarray(image2d, dtype=float)
    aperture = np.asarray(source_mask, dtype=bool)
    if image.ndim != 2 or aperture.shape != image.shape:
        raise ValueError(f"image2d {image.shape} and source_mask {aperture.shape} must be 2-D "
                         "arrays of the same shape")
    good = aperture & np.isfinite(image)
    return np.where(good.any(axis=1), np.where(good, image, 0.0).sum(axis=1), np.nan)


def row_wavelength(wavelength2d):
    """Median wavelength of each row over its finite pixels (um); NaN for rows without any.

    Parameters
    ----------
    wavelength2d : array_like, shape (rows, columns)

    Returns
    -------
    numpy.ndarray, shape (rows,)
    """
    wavelength = np.asarray(wavelength2d, dtype=float)
    if wavelength.ndim != 2:
        raise ValueError(f"wavelength2d must be 2-D (rows, columns), got shape {wavelength.shape}")
    finite = np.isfinite(wavelength)
    out = np.full(wavelength.shape[0], np.nan)
    rows = finite.any(axis=1)
    # sort with NaN last, then take the middle of each row's finite values
    ordered = np.sort(np.where(finite, wavelength, np.inf)[rows], axis=1)
    count = finite[rows].sum(axis=1)
    low = ordered[np.arange(count.size), (count - 1) // 2]
    high = ordered[np.arange(count.size), count // 2]
    out[rows] = 0.5 * (low + high)
    return out


def find_nod_traces(image2d, wavelength2d, *, band_um=(5.0, 10.0)):
    """Columns of the positive and negative traces of a nod-subtracted s2d.

    Parameters
    ----------
    image2d, wavelength2d : array_like, shape (rows, columns)
        Nod-subtracted s2d and its wavelength image (um).
    band_um : (float, float)
        Rows whose wavelength lies in this band are collapsed (median) into one profile.

    Returns
    -------
    (float, float)
        Columns of the positive and of the negative trace: the profile's maximum and minimum,
        refined by a three-point parabola (sub-pixel).
    """
    profile = _checked_band_profile(image2d, wavelength2d, band_um)
    return _vertex(profile, int(np.argmax(profile))), _vertex(-profile, int(np.argmax(-profile)))


def _checked_band_profile(image2d, wavelength2d, band_um):
    """:func:`_band_profile` of a 2-D image and its same-shape wavelength map (ValueError otherwise)."""
    image = np.asarray(image2d, dtype=float)
    wavelength = np.asarray(wavelength2d, dtype=float)
    if image.ndim != 2 or wavelength.shape != image.shape:
        raise ValueError(f"image2d {image.shape} and wavelength2d {wavelength.shape} must be 2-D "
                         "arrays of the same shape")
    return _band_profile(image, wavelength, band_um)


def _band_profile(image, wavelength, band_um):
    """Median of the rows whose wavelength lies in ``band_um`` (0 on columns without data)."""
    rows = row_wavelength(wavelength)
    with np.errstate(invalid="ignore"):
        in_band = (rows >= band_um[0]) & (rows <= band_um[1])
    finite_columns = np.isfinite(image[in_band]).any(axis=0)
    if not finite_columns.any():
        raise ValueError(f"no finite pixels on rows with wavelengths in {band_um} um: is this an "
                         "LRS s2d with its WAVELENGTH array?")
    profile = np.zeros(image.shape[1])
    profile[finite_columns] = np.nanmedian(image[in_band][:, finite_columns], axis=0)
    return profile


def _vertex(values, k):
    """Sub-pixel peak of ``values`` near index ``k`` from a three-point parabola."""
    if 0 < k < values.size - 1:
        left, centre, right = values[k - 1], values[k], values[k + 1]
        with np.errstate(over="ignore", invalid="ignore"):  # values near the float64 limit
            curvature = left - 2 * centre + right
        # an infinite neighbour (e.g. a median of values near the float64 limit) has no vertex
        if np.isfinite(curvature) and curvature < 0:
            return k + 0.5 * (left - right) / curvature
    return float(k)


def find_traces(image2d, wavelength2d, *, band_um=(5.0, 10.0), min_fraction=0.3, min_separation=5):
    """The positive trace and every negative trace of a background-subtracted s2d.

    A Level-2 nod-subtracted s2d has one negative trace (the other nod); a Level-3 s2d (both nods
    combined in the sky frame by calwebb_spec3) has two, one on each side; an s2d whose background
    came from elsewhere has none.

    Parameters
    ----------
    image2d, wavelength2d : array_like, shape (rows, columns)
        s2d and its wavelength image (um).
    band_um : (float, float)
        Rows whose wavelength lies in this band are collapsed (median) into one profile.
    min_fraction : float
        A negative trace is a local minimum of the profile deeper than this fraction of the
        positive peak (0.3: a nod's negative image is as deep as the peak, noise is far shallower).
    min_separation : float
        Minimum distance between two traces, columns.

    Returns
    -------
    positive : float
        Column of the positive trace (sub-pixel).
    negatives : tuple of float
        Columns of the negative traces, left to right (sub-pixel); empty when there is none.
    """
    profile = _checked_band_profile(image2d, wavelength2d, band_um)
    k = int(np.argmax(profile))
    positive = _vertex(profile, k)
    depth = -min_fraction * profile[k]
    negatives = []
    # deepest first, skipping minima too close to a trace already found
    for j in np.argsort(profile):
        if profile[j] >= min(depth, 0.0):
            break
        is_minimum = (j == 0 or profile[j] <= profile[j - 1]) and (j == profile.size - 1 or profile[j] <= profile[j + 1])
        if is_minimum and all(abs(j - c) >= min_separation for c in [positive, *negatives]):
            negatives.append(_vertex(-profile, int(j)))
    return positive, tuple(sorted(negatives))


# ------------------------------------------------------------------------------ edges

def correct_s2d(path_or_model, *, order=2, exclude_half_width=4, aperture_half_width=4,
                output=None):
    """Model and remove the scattered light of a background-subtracted LRS slit s2d (edge function).

    Handles a Level-2 s2d of a nodded pair (a positive and a negative trace) and a Level-3 s2d
    (calwebb_spec3's combination of both nods: a positive trace between two negative ones). In a
    Level-3 s2d the nods overlap only around the target, and the residual of a field source
    changes where one nod stops covering the slit; the fit therefore uses only the pixels covered
    by as many exposures as the best-covered pixel of their row (the WHT array), all traces left
    out.

    Parameters
    ----------
    path_or_model : path-like or DataModel
        A MIR_LRS-FIXEDSLIT s2d product.
    order : int
        Polynomial degree across the slit (:func:`fit_row_background`).
    exclude_half_width : float
        Columns left out of the fit on each side of every trace.
    aperture_half_width : float
        Half-width (columns) of the box summed into the spectrum around the positive trace.
    output : path-like, optional
        Write the corrected s2d there (a new file; never the input).

    Returns
    -------
    dict
        ``wavelength`` (um per row), ``before`` and ``after`` (box-extracted flux density, Jy,
        without aperture correction), ``score`` (:func:`contamination_score`), ``model``
        (MJy/sr), ``traces`` (columns: the positive first, then the negatives), ``written``
        (path or None).

    Raises
    ------
    LRSInputError
        More than two negative traces, or too few fitted pixels on one side of the positive
        trace (the model under the source would be an extrapolation): the message names the file.
    """
    model = open_product(path_or_model, levels=("s2d",), extensions=("SCI", "WAVELENGTH"),
                         exp_types=("MIR_LRS-FIXEDSLIT",))
    name = model.meta.filename if isinstance(path_or_model, DataModel) else path_or_model
    try:
        # what the file holds but the fit cannot use (no finite pixels...) comes back as one line
        with input_errors(name):
            image = np.array(model.data, dtype=float)
            wavelength = np.array(model.wavelength, dtype=float)
            weight = np.array(model.wht, dtype=float) if model.hasattr("wht") else np.ones(image.shape)
            positive, negatives = find_traces(image, wavelength)
            if len(negatives) > 2:
                raise LRSInputError(f"{name}: {len(negatives)} negative traces (at columns "
                                    f"{', '.join(f'{c:.1f}' for c in negatives)}); correct_s2d handles a "
                                    "nodded pair (one) or a Level-3 combination of two nods (two)")
            traces = (positive, *negatives)
            exclude = trace_exclusion_mask(image.shape, traces, exclude_half_width)
            # pixels covered by fewer exposures than the row's best see a different residual
            with np.errstate(invalid="ignore"):
                best = np.nanmax(np.where(np.isfinite(image), weight, np.nan), axis=1, initial=0.0)
                exclude |= weight < best[:, None]
            columns = np.arange(image.shape[1])
            fitted = ~exclude & np.isfinite(image)
            for side, label in ((columns < positive - exclude_half_width, "left"),
                                (columns > positive + exclude_half_width, "right")):
                if np.median(fitted[:, side].sum(axis=1)) < 2:
                    raise LRSInputError(
                        f"{name}: fewer than 2 columns to fit on the {label} of the positive trace "
                        f"(column {positive:.1f}) once the traces at {', '.join(f'{c:.1f}' for c in traces)} "
                        f"are excluded (+/-{exclude_half_width}): the model under the source would be an "
                        "extrapolation; try a smaller exclude_half_width")
            background = fit_row_background(image, wavelength, exclude_mask=exclude, order=order)
            aperture = trace_exclusion_mask(image.shape, [positive], aperture_half_width)
            # nominal MIRI imager pixel (0.11 arcsec square) when the product does not record it
            pixel_sr = model.meta.photometry.pixelarea_steradians or 2.84403e-13
            to_jy = pixel_sr * 1e6  # MJy/sr per pixel -> Jy
            corrected = image - np.where(np.isfinite(background), background, 0.0)
            written = None
            if output is not None:
                result = model.copy()
                result.data = corrected.astype(np.float32)
                written = write_product(result, output, function=correct_s2d,
                                        parameters={"order": order,
                                                    "exclude_half_width": exclude_half_width,
                                                    "aperture_half_width": aperture_half_width})
    finally:
        if not isinstance(path_or_model, DataModel):  # close only what was opened here
            model.close()
    return {"wavelength": row_wavelength(wavelength), "before": box_flux(image, aperture) * to_jy,
            "after": box_flux(corrected, aperture) * to_jy,
            "score": contamination_score(image, background, aperture), "model": background,
            "traces": traces, "written": written}


def lrs_regions():
    """Slit, TA region and LRS spectral region on the FULL MIRIMAGE array, from pysiaf.

    MIRIM_SLIT has no detector frame in the SIAF, so its corners are taken in the telescope
    (V2, V3) frame and converted with MIRIM_FULL's ``tel_to_det``; MIRIM_TALRS (the LRS target
    acquisition region) has its own detector frame. The spectral region is the slit's column
    span, dispersed over the rows the slit's wavelength solution covers (5-14 um: detector rows
    of specwcs 0005, see :mod:`lrs_helpers.sample.grounding`).

    Returns
    -------
    dict of str -> numpy.ndarray
        ``slit``, ``ta``, ``spectral``: (4, 2) polygons of 0-based (column, row) pixel positions.
    """
    import logging

    # pysiaf logs a failed attempt to reach the network on import: keep that off stderr.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        import pysiaf

        siaf = pysiaf.Siaf("MIRI")
    finally:
        logging.disable(previous)
    full = siaf["MIRIM_FULL"]
    v2, v3 = siaf["MIRIM_SLIT"].corners("tel", rederive=False)
    slit_x, slit_y = full.tel_to_det(v2, v3)
    ta_x, ta_y = siaf["MIRIM_TALRS"].corners("det", rederive=False)
    blue_row = instrument.row_at_wavelength("slit", 5.0)
    red_row = instrument.row_at_wavelength("slit", 14.0)
    left, right = np.min(slit_x) - 1.0, np.max(slit_x) - 1.0
    spectral = np.array([[left, red_row], [right, red_row], [right, blue_row], [left, blue_row]])
    # SIAF detector pixels are 1-based; numpy arrays are 0-based.
    return {"slit": np.column_stack([slit_x, slit_y]) - 1.0,
            "ta": np.column_stack([ta_x, ta_y]) - 1.0,
            "spectral": spectral}


def draw_lrs_regions(ax, *, regions=None, zoom=None):
    """Outline the slit (green), TA region (yellow) and LRS spectral region (cyan) on an axes
    showing a FULL-array MIRIMAGE frame (``imshow(..., origin="lower")``).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    regions : dict, optional
        Output of :func:`lrs_regions` (computed when omitted).
    zoom : (x0, x1, y0, y1), optional
        A region to mark with a dashed white box (0-based pixels).

    Returns
    -------
    dict
        The regions drawn.
    """
    from matplotlib.patches import Polygon, Rectangle

    regions = lrs_regions() if regions is None else regions
    for name, colour, label in (("spectral", "cyan", "LRS spectral region"),
                                ("slit", "lime", "slit (MIRIM_SLIT)"),
                                ("ta", "yellow", "TA region (MIRIM_TALRS)")):
        ax.add_patch(Polygon(regions[name], closed=True, fill=False, edgecolor=colour, lw=1.2,
                             label=label))
    if zoom is not None:
        x0, x1, y0, y1 = zoom
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="white", ls="--",
                               lw=1.2, label="zoom"))
    return regions


def make_explorer(s2d_sci, wavelength, trace_columns, reference_flux=None):
    """Widget: polynomial order, excluded columns and rows -> background model and spectrum.

    The sliders set the polynomial order, the columns left out on each side of both traces,
    the extraction half-width, the range of wavelength rows that are corrected (rows outside it
    are excluded: left as they are), and the row whose cut across the slit is drawn.

    Parameters
    ----------
    s2d_sci, wavelength : numpy.ndarray, shape (rows, columns)
        Nod-subtracted s2d and its wavelength image.
    trace_columns : sequence of float
        s2d columns of the positive and negative traces (positive first).
    reference_flux : numpy.ndarray, optional
        A spectrum (per row, same unit as the box sums) to compare with, e.g. the truth.

    Returns
    -------
    ipywidgets.interactive
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    rows = np.arange(s2d_sci.shape[0])
    lam = row_wavelength(wavelength)

    def draw(order=2, exclude_half_width=4, aperture_half_width=4, corrected_um=(5.0, 12.0),
             row=200):
        exclude = trace_exclusion_mask(s2d_sci.shape, trace_columns, exclude_half_width)
        model = fit_row_background(s2d_sci, wavelength, exclude_mask=exclude, order=order)
        model[~((lam >= corrected_um[0]) & (lam <= corrected_um[1]))] = np.nan
        aperture = trace_exclusion_mask(s2d_sci.shape, trace_columns[:1], aperture_half_width)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        columns = np.arange(s2d_sci.shape[1])
        left.plot(columns, s2d_sci[row], ".", color="0.4", label="s2d row")
        left.plot(columns[~exclude[row]], s2d_sci[row, ~exclude[row]], "o", mfc="none", color="C0",
                  label="fitted pixels")
        left.plot(columns, model[row], "C3-", label=f"order {order} model")
        left.set_xlabel("s2d column (along the slit)")
        left.set_title(f"row {row}: {lam[row]:.2f} µm", fontsize=9)
        left.legend(fontsize=7)
        before = box_flux(s2d_sci, aperture)
        after = box_flux(s2d_sci - np.where(np.isfinite(model), model, 0.0), aperture)
        right.plot(lam, before, color="0.6", lw=1, label="before")
        right.plot(lam, after, "C0", lw=1, label="after")
        if reference_flux is not None:
            right.plot(lam, reference_flux, "k--", lw=0.8, label="truth")
        right.set_xlim(5, 14)
        right.set_xlabel("wavelength (µm)")
        right.set_ylabel("box sum")
        right.legend(fontsize=7)
        plt.show()

    return ipywidgets.interactive(
        draw,
        order=ipywidgets.IntSlider(value=2, min=0, max=5, description="order",
                                   continuous_update=False),
        exclude_half_width=ipywidgets.IntSlider(value=4, min=1, max=10, description="exclude ±px",
                                                continuous_update=False),
        aperture_half_width=ipywidgets.IntSlider(value=4, min=1, max=8, description="aperture ±px",
                                                 continuous_update=False),
        corrected_um=ipywidgets.FloatRangeSlider(value=(5.0, 12.0), min=4.0, max=14.0, step=0.1,
                                                 description="rows (µm)", continuous_update=False),
        row=ipywidgets.IntSlider(value=min(200, rows[-1]), min=0, max=int(rows[-1]),
                                 description="row", continuous_update=False))
