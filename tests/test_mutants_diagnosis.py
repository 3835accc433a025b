"""lrs_helpers.diagnosis: each threshold exercised by a case just inside and one just outside it.

No twin sits near a threshold, so here the measurement a check makes is replaced by a controlled
one (the sky the edge model returns, the centroid a TA image gives, the factor the scatter gives)
and the severity is read on both sides of every documented threshold: a threshold changed
(doubled, halved) or a comparison turned round moves at least one case to the other side.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.optimize import brentq
from stdatamodels.jwst import datamodels

from lrs_helpers import background, diagnosis, errors, foldover, instrument, io, jumps, pathloss, pointing

#: relative step either side of a threshold: small against the thresholds' spacing (x2 to x5)
EDGE = 0.05


def _slitless_cube(signal_per_row, nints=2):
    """A SLITLESSPRISM rateints whose aperture (columns 30-41) holds ``signal_per_row`` per row
    in total (sky included)."""
    ny, nx = instrument.SUBARRAY_SHAPES["SLITLESSPRISM"]
    data = np.zeros((nints, ny, nx), np.float32)
    width = diagnosis.SLITLESS_APERTURE[1] - diagnosis.SLITLESS_APERTURE[0]
    data[:, :, slice(*diagnosis.SLITLESS_APERTURE)] = signal_per_row / width
    model = datamodels.CubeModel(data=data)
    model.meta.exposure.type = "MIR_LRS-SLITLESS"
    return model


def _sky(fraction, significance, signal_per_row, shape):
    """An edge-background model whose aperture share is ``fraction`` of the signal and whose
    level, column 30, is ``significance`` standard errors from zero (alternating rows)."""
    nints, ny, nx = shape
    width = diagnosis.SLITLESS_APERTURE[1] - diagnosis.SLITLESS_APERTURE[0]
    level = fraction * signal_per_row / width
    row_wave = instrument.wavelength_at_row("slitless", np.arange(ny))
    count = nints * int(diagnosis._band(row_wave).sum())
    # rows alternate level +- d: mean level, std d, standard error d / sqrt(count)
    d = level * np.sqrt(count) / significance
    sign = np.where(np.arange(ny) % 2 == 0, 1.0, -1.0)
    rows = level + d * sign
    sky = np.broadcast_to(rows[None, :, None], shape).copy()
    # an odd number of band rows leaves the mean off by d / count: re-centre it exactly
    band = diagnosis._band(row_wave)
    sky[:, band] += level - sky[:, band, 30].mean()
    return sky


@pytest.mark.parametrize("fraction, significance, expected", [
    (diagnosis.BACKGROUND_WARNING_FRACTION * (1 - EDGE), 50.0, "info"),
    (diagnosis.BACKGROUND_WARNING_FRACTION * (1 + EDGE), 50.0, "warning"),
    (diagnosis.PROBLEM_FRACTION * (1 - EDGE), 50.0, "warning"),
    (diagnosis.PROBLEM_FRACTION * (1 + EDGE), 50.0, "problem"),
    (0.2, diagnosis.BACKGROUND_MIN_SIGNIFICANCE * (1 - EDGE), "ok"),
    (0.2, diagnosis.BACKGROUND_MIN_SIGNIFICANCE * (1 + EDGE), "problem"),
])
def test_slitless_background_thresholds(monkeypatch, fraction, significance, expected):
    signal = 1200.0
    model = _slitless_cube(signal)
    sky = _sky(fraction, significance, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    assert finding.measured["significance"][0] == pytest.approx(significance, rel=0.02)
    assert finding.measured["background_fraction"][0] == pytest.approx(fraction, rel=0.02)
    assert finding.severity == expected


def test_documented_thresholds():
    """The values the module notes and notebooks quote (a changed constant is a changed claim)."""
    assert (diagnosis.BACKGROUND_MIN_SIGNIFICANCE, diagnosis.BACKGROUND_WARNING_FRACTION,
            diagnosis.PROBLEM_FRACTION) == (5.0, 0.01, 0.10)
    assert (diagnosis.POINTING_LOSS_TOLERANCE, diagnosis.POINTING_WAVELENGTH_UM) == (0.02, 10.0)
    assert (diagnosis.ERR_TOLERANCE, diagnosis.ERR_MIN_SIGNIFICANCE) == (0.2, 5.0)
    assert diagnosis.NOD_TOLERANCE == 0.02


def _across_for_loss(loss):
    """Across-slit offset (arcsec) whose pathloss at 10 um is ``loss`` (pathloss model)."""
    return brentq(lambda x: 1 - 1 / pathloss.relative_correction(10.0, x) - loss, 0.0, 0.25)


@pytest.mark.parametrize("loss, expected", [
    (diagnosis.POINTING_LOSS_TOLERANCE * (1 - EDGE), "ok"),
    (diagnosis.POINTING_LOSS_TOLERANCE * (1 + EDGE), "warning"),
    (diagnosis.PROBLEM_FRACTION * (1 - EDGE), "warning"),
    (diagnosis.PROBLEM_FRACTION * (1 + EDGE), "problem"),
])
def test_pointing_loss_thresholds(monkeypatch, loss, expected):
    across = _across_for_loss(loss)
    centroid = pointing.TACentroid(x_pixel=10.0, y_pixel=10.0, dv2=0.0, dv3=0.0, aperture="MIRIM_SLIT",
                                   exp_type="MIR_TACONFIRM", slit_along=0.0, slit_across=across,
                                   slit_across_error=0.01)
    monkeypatch.setattr(pointing, "ta_centroid", lambda model: centroid)
    finding = diagnosis.check_pointing(SimpleNamespace(data=np.zeros((20, 20))))
    assert finding.measured["loss_10um"][0] == pytest.approx(loss, rel=1e-6)
    assert finding.severity == expected


def _factor(median, error):
    """An ErrorFactor whose 16-wavelength summary over 5-12 um is ``median`` +- ``error``."""
    wave = np.linspace(5.0, 12.0, 1600)
    nblocks = wave.size // 16
    # equal values per wavelength: each block's factor is ``median``, its error the value's / 4;
    # the summary error is sqrt(pi / 2) x block error / sqrt(blocks) (ErrorFactor.summary)
    per_value = error * 4.0 * np.sqrt(nblocks) / np.sqrt(np.pi / 2)
    return errors.ErrorFactor(wavelength=wave, factor=np.full(wave.size, median),
                              factor_error=np.full(wave.size, per_value),
                              scatter=np.ones(wave.size), reported=np.ones(wave.size),
                              n_spectra=np.full(wave.size, 50), method="bootstrap")


def _err_vs_scatter_on(monkeypatch, result, nspectra=50):
    """check_err_vs_scatter with ``result`` standing in for errors.measure_factor, on ``nspectra``
    stand-in spectra."""
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: result)
    spectra = SimpleNamespace(flux=np.ones((nspectra, 3)), wavelength=np.ones(3),
                              flux_error=np.ones((nspectra, 3)), dq=np.zeros((nspectra, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    return diagnosis.check_err_vs_scatter(None)


@pytest.mark.parametrize("median, significance, expected", [
    (1 + diagnosis.ERR_TOLERANCE * (1 - EDGE), 100.0, "ok"),
    (1 + diagnosis.ERR_TOLERANCE * (1 + EDGE), 100.0, "warning"),
    (1 - diagnosis.ERR_TOLERANCE * (1 - EDGE), 100.0, "ok"),
    (1 - diagnosis.ERR_TOLERANCE * (1 + EDGE), 100.0, "warning"),
    (2.0 * (1 - EDGE), 100.0, "warning"),
    (2.0 * (1 + EDGE), 100.0, "problem"),
    (1.5, diagnosis.ERR_MIN_SIGNIFICANCE * (1 - EDGE), "ok"),
    (1.5, diagnosis.ERR_MIN_SIGNIFICANCE * (1 + EDGE), "warning"),
])
def test_err_vs_scatter_thresholds(monkeypatch, median, significance, expected):
    result = _factor(median, abs(median - 1) / significance)
    summary = result.summary(diagnosis.BAND_UM)
    assert summary[0] == pytest.approx(median, rel=1e-9)
    assert abs(median - 1) / summary[1] == pytest.approx(significance, rel=1e-6)
    finding = _err_vs_scatter_on(monkeypatch, result)
    assert finding.measured["inflation_factor"][0] == pytest.approx(median, rel=1e-9)
    assert finding.severity == expected


def _nod_ratio(median, exceeding):
    from astropy import units as u
    from astropy.table import QTable

    table = QTable({"wavelength": [6.0, 8.0] * u.um, "ratio": [median, median], "ratio_error": [0.01, 0.01],
                    "exceeds": [True, False]})
    table.meta.update(median_ratio=median, fraction_exceeding=exceeding)
    return table


@pytest.mark.parametrize("median, exceeding, expected", [
    (1 + diagnosis.NOD_TOLERANCE * (1 - EDGE), 0.9, "ok"),
    (1 + diagnosis.NOD_TOLERANCE * (1 + EDGE), 0.9, "warning"),
    (1 - diagnosis.NOD_TOLERANCE * (1 + EDGE), 0.9, "warning"),
    (1 + diagnosis.PROBLEM_FRACTION * (1 - EDGE), 0.9, "warning"),
    (1 + diagnosis.PROBLEM_FRACTION * (1 + EDGE), 0.9, "problem"),
    (1 - diagnosis.PROBLEM_FRACTION * (1 + EDGE), 0.9, "problem"),
    (1.2, 0.5 * (1 - EDGE), "ok"),       # most bins within the repeatability: no finding
    (1.2, 0.5 * (1 + EDGE), "problem"),
])
def test_nod_disparity_thresholds(monkeypatch, median, exceeding, expected):
    fit = pathloss.NodOffset(relative=0.1, relative_error=0.01, relative_systematic=0.005, offset_a=0.0,
                             offset_a_error=0.01, offset_b=0.1, shift_rows=0.3, reduced_chi2=1.0, n_samples=300)
    monkeypatch.setattr(pathloss, "nod_ratio", lambda *args, **kw: _nod_ratio(median, exceeding))
    monkeypatch.setattr(pathloss, "estimate_offset_from_nods", lambda *args, **kw: fit)
    finding = diagnosis.check_nod_disparity(None, None)
    assert finding.measured["median_ratio"] == (median, "nod 2 / nod 1")
    assert finding.severity == expected


@pytest.mark.parametrize("amplitude, significance, expected", [
    (diagnosis.EMI_THRESHOLD_DN * (1 - EDGE), 100.0, "ok"),
    (diagnosis.EMI_THRESHOLD_DN * (1 + EDGE), 100.0, "warning"),
    (2.0, diagnosis.EMI_MIN_SIGNIFICANCE * (1 - EDGE), "ok"),
    (2.0, diagnosis.EMI_MIN_SIGNIFICANCE * (1 + EDGE), "warning"),
])
def test_emi_thresholds(monkeypatch, amplitude, significance, expected):
    from lrs_helpers import emi

    floor = amplitude / significance

    def measure_blocks(chunks, shape, subarray, readpatt, frequencies, **kw):
        # one pass fits every frequency: the 390 Hz one, then the 10 Hz and the null frequencies
        found = []
        for frequency in frequencies:
            value = amplitude if frequency == emi.EMI_FREQUENCIES_HZ["Hz390"] else floor
            found.append({"frequency": frequency, "phase": 0.0, "condition": 1.0, "npix_used": 1,
                          "amplitude": value, "coefficients": np.array([[value, 0.0]])})
        return found

    monkeypatch.setattr(emi, "measure_blocks", measure_blocks)
    model = SimpleNamespace(data=np.zeros((1, 5, 416, 72), dtype=np.float32), instance={},
                            meta=SimpleNamespace(subarray=SimpleNamespace(name="SLITLESSPRISM"),
                                                 exposure=SimpleNamespace(readpatt="FASTR1")))
    finding = diagnosis.check_emi(model)
    assert finding.measured["noise_floor"][0] == pytest.approx(floor, rel=1e-9)
    assert finding.severity == expected


# ---------------------------------------------------------------- usable data

def _image_model(sci, dq=None, unit="MJy/sr"):
    model = datamodels.CubeModel(data=np.asarray(sci, np.float32)) if np.ndim(sci) == 3 else \
        datamodels.ImageModel(data=np.asarray(sci, np.float32))
    if dq is not None:
        model.dq = np.asarray(dq, np.uint32)
    model.meta.bunit_data = unit
    return model


def _with_unusable(fraction, how, shape=(2, 40, 30)):
    """A cube whose science region (columns from 4 on) has ``fraction`` of its values unusable
    by ``how`` (NaN, zero or DO_NOT_USE); the reference columns 0-3 are all NaN."""
    sci = np.ones(shape)
    dq = np.zeros(shape, np.uint32)
    sci[..., :instrument.REFERENCE_COLUMNS] = np.nan
    region = (Ellipsis, slice(None), slice(instrument.REFERENCE_COLUMNS, None))
    count = int(round(fraction * sci[region].size))
    flat = np.zeros(sci[region].size, bool)
    flat[:count] = True
    bad = flat.reshape(sci[region].shape)
    if how == "nan":
        sci[region] = np.where(bad, np.nan, 1.0)
    elif how == "zero":
        sci[region] = np.where(bad, 0.0, 1.0)
    else:
        dq[region] = np.where(bad, instrument.DQ["DO_NOT_USE"] | instrument.DQ["JUMP_DET"], 0)
    return _image_model(sci, dq)


@pytest.mark.parametrize("how", ["nan", "zero", "dnu"])
@pytest.mark.parametrize("usable, expected", [
    (diagnosis.USABLE_PROBLEM * (1 - EDGE), "problem"),
    (diagnosis.USABLE_PROBLEM * (1 + EDGE), "warning"),
    (diagnosis.USABLE_WARNING * (1 - EDGE), "warning"),
    (diagnosis.USABLE_WARNING * (1 + EDGE), "ok"),
])
def test_usable_thresholds_and_masks(usable, expected, how):
    """10 % and 50 % usable: NaN, exact zeros and DO_NOT_USE (with other bits set) each count
    as unusable; the reference columns are not judged (a 3 % step either side of 0.1 and 0.5,
    the counts are exact to one pixel in 2080)."""
    model = _with_unusable(1 - usable, how)
    finding = diagnosis.check_usable(model, "rateints", "slitless")
    assert finding.measured["usable_fraction"][0] == pytest.approx(usable, abs=1e-3)
    assert finding.measured["unit"] == ("MJy/sr", "")
    assert finding.severity == expected and finding.check == "usable"


def test_usable_other_dq_bits_do_not_count():
    sci = np.ones((10, 20))
    dq = np.full(sci.shape, instrument.DQ["JUMP_DET"] | instrument.DQ["SATURATED"], np.uint32)
    finding = diagnosis.check_usable(_image_model(sci, dq), "rate", "slit")
    assert finding.measured["usable_fraction"][0] == 1.0 and finding.severity == "ok"
    # without a DQ array every finite non-zero value is usable
    assert diagnosis._usable_count(np.array([1.0, np.nan, 0.0, 2.0])) == 2
    assert diagnosis._usable_count(np.array([1.0, 2.0]), dq=np.array([1, 0, 0])) == 2  # shape differs: no DQ
    assert diagnosis._usable_count(np.array([1.0, 2.0]), dq=np.array([1, 0])) == 1
    assert diagnosis._usable_count(np.zeros(0)) == 0


@pytest.mark.parametrize("mode", ["slit", "slitless"])
def test_usable_full_frame_is_judged_where_the_spectrum_falls(mode):
    """In the mode's full frame only the calibrated rows and columns count: all else NaN, 100 %."""
    shape = instrument.FULL_SHAPE if mode == "slit" else instrument.SLITLESS_SHAPE
    sci = np.full(shape, np.nan)
    first, last = instrument.CALIBRATED_ROWS[mode]
    rows = slice(int(np.ceil(first)), int(np.floor(last)) + 1)
    sci[rows, slice(*instrument.CALIBRATED_COLUMNS[mode])] = 1.0
    finding = diagnosis.check_usable(_image_model(sci), "rate", mode)
    assert finding.measured["usable_fraction"][0] == 1.0
    # one calibrated row lost: just under 100 %
    sci[rows.start] = np.nan
    finding = diagnosis.check_usable(_image_model(sci), "rate", mode)
    assert 0.99 < finding.measured["usable_fraction"][0] < 1.0


def _spectra_model(monkeypatch, wavelength, flux, dq):
    spectra = SimpleNamespace(wavelength=np.asarray(wavelength, float), flux=np.asarray(flux, float),
                              dq=np.asarray(dq, np.uint32), flux_error=np.ones(np.shape(flux)))
    monkeypatch.setattr(errors, "read_spectra", lambda model: spectra)
    return SimpleNamespace(instance={"spec": []}, spec=[],
                           meta=SimpleNamespace(cal_step=SimpleNamespace(photom="COMPLETE")))


def test_usable_spectra_are_judged_over_5_to_12_um(monkeypatch):
    """Points outside 5-12 um (edges included) do not count; inside, NaN and DO_NOT_USE points
    do (4 of 8 left: 50 %, just "ok")."""
    wavelength = np.array([4.0, 4.99, 5.0, 6, 7, 8, 9, 10, 11, 12.0, 12.01, 13])
    flux = np.ones((1, wavelength.size))
    flux[0, [0, 1, 10, 11]] = np.nan  # outside the band
    flux[0, [3, 4]] = np.nan
    dq = np.zeros(flux.shape)
    dq[0, [5, 6]] = instrument.DQ["DO_NOT_USE"]
    finding = diagnosis.check_usable(_spectra_model(monkeypatch, wavelength, flux, dq), "x1dints", "slitless")
    assert finding.measured["usable_fraction"][0] == pytest.approx(0.5)
    assert finding.measured["unit"][0] == "Jy" and finding.measured["usable_fraction"][1] == "of the values in 5-12 um"
    assert finding.severity == "ok"
    outside = _spectra_model(monkeypatch, [3.0, 4.0, 13.0], np.ones((1, 3)), np.zeros((1, 3)))
    finding = diagnosis.check_usable(outside, "x1d", "slit")
    assert finding.measured["usable_fraction"][0] == 0.0 and finding.severity == "problem"


def _ramp_model(ramps, groupdq=None):
    instance = {} if groupdq is None else {"groupdq": groupdq}
    return SimpleNamespace(data=ramps, groupdq=groupdq, instance=instance, meta=SimpleNamespace(bunit_data="DN"))


@pytest.mark.parametrize("saturated, expected", [(diagnosis.SATURATED_PROBLEM * (1 - EDGE), "ok"),
                                                 (diagnosis.SATURATED_PROBLEM * (1 + EDGE), "problem")])
@pytest.mark.parametrize("how", ["groupdq", "full_scale"])
def test_saturated_first_group_threshold(saturated, expected, how):
    """Pixels saturated in their first group, by GROUPDQ or at 65535 DN in an integer uncal:
    47.5 % is ok, 52.5 % a problem; 65534 DN or a later group's saturation does not count."""
    nints, ngroups, ny, nx = 2, 3, 10, 20
    ramps = np.full((nints, ngroups, ny, nx), 1000, np.uint16)
    groupdq = np.zeros(ramps.shape, np.uint8)
    count = int(round(saturated * ny * nx))
    rows, cols = np.unravel_index(np.arange(count), (ny, nx))
    if how == "groupdq":
        groupdq[:, 0, rows, cols] = instrument.DQ["SATURATED"]
    else:
        ramps[:, 0, rows, cols] = 65535
    # near misses everywhere else
    ramps[:, 0, -1, -1] = 65534
    groupdq[:, 1:, -1, -1] = instrument.DQ["SATURATED"]
    finding = diagnosis.check_usable(_ramp_model(ramps, groupdq), "uncal", "slitless")
    assert finding.measured["saturated_first_group"][0] == pytest.approx(count / (ny * nx))
    assert finding.measured["nonzero"][0] == 1.0
    assert finding.severity == expected


def test_blank_ramps_are_a_problem():
    ramps = np.zeros((1, 3, 4, 5), np.uint16)
    finding = diagnosis.check_usable(_ramp_model(ramps), "ramp", "slit")
    assert finding.severity == "problem" and finding.measured["nonzero"][0] == 0.0
    ramps[0, 1, 0, 0] = 7
    finding = diagnosis.check_usable(_ramp_model(ramps), "ramp", "slit")
    assert finding.severity == "ok" and finding.measured["nonzero"][0] == pytest.approx(1 / 60)


# ---------------------------------------------------------------- scattered light

def _nod_s2d(share, *, ncols=44, positive=13, negative=30, rows=40):
    """A nod-subtracted s2d: parabolic traces and a constant level between them that is
    ``share`` of the 5-12 um box flux (9 columns around the positive trace); rows redder than
    12 um carry a level 20 times larger, which the check must leave out."""
    x = np.arange(ncols)
    trace = np.clip(100.0 - 10.0 * (x - positive) ** 2, 0, None) - np.clip(100.0 - 10.0 * (x - negative) ** 2, 0, None)
    box = slice(positive - 4, positive + 5)
    level = share * trace[box].sum() / (9 * (1 - share))
    wave = np.linspace(5.0, 14.0, rows)
    image = np.repeat(trace[None, :], rows, axis=0) + level
    image[wave > 12.0] += 20 * level
    model = datamodels.SlitModel(data=image.astype(np.float32))
    model.wavelength = np.repeat(wave[:, None], ncols, axis=1).astype(np.float32)
    return model


@pytest.mark.parametrize("share, expected", [
    (diagnosis.SCATTERED_LIGHT_FRACTION * (1 - EDGE), "ok"),
    (diagnosis.SCATTERED_LIGHT_FRACTION * (1 + EDGE), "warning"),
    (-diagnosis.SCATTERED_LIGHT_FRACTION * (1 - EDGE), "ok"),
    (-diagnosis.SCATTERED_LIGHT_FRACTION * (1 + EDGE), "warning"),
])
def test_scattered_light_threshold(share, expected):
    """2 % of the 5-12 um box flux, either sign; the quadratic follows a constant level exactly,
    so the share is recovered to 1e-4 (float32 data), against steps of 5 % of 2 %."""
    finding = diagnosis.check_scattered_light(_nod_s2d(share))
    assert finding.measured["scattered_share"][0] == pytest.approx(share, abs=1e-4)
    assert finding.measured["traces"][0] == pytest.approx([13.0, 30.0], abs=1e-3)
    assert finding.severity == expected


def test_scattered_light_without_flux_fails():
    model = _nod_s2d(0.0)
    model.data[:] = 0.0
    model.data[:, 20] = 1.0  # a trace to find, nothing in the box around it
    model.data[:, 35] = -1.0
    model.data[:, 16:25] = 0.0
    finding = diagnosis.check_scattered_light(model)
    assert finding.severity == "failed"


# ---------------------------------------------------------------- jump flags on the peak

def _jump_case(monkeypatch, nints, ngroups, flagged_ints_per_row):
    """Ramps with a bright column 10 and a stubbed jump step that flags the peak pixel of row r
    in the first ``flagged_ints_per_row[r]`` integrations (a later group)."""
    ny, nx = len(flagged_ints_per_row), 21
    slope = np.full((ny, nx), 1.0)
    slope[:, 10] = 100.0
    slope[:, 9] = slope[:, 11] = 30.0
    groups = np.arange(ngroups, dtype=np.float32)[None, :, None, None]
    ramps = np.broadcast_to(groups * slope, (nints, ngroups, ny, nx)).astype(np.float32)
    seen = {}

    def detect_jumps(band, gain, readnoise, groupdq=None):
        seen["groupdq"], seen["band"] = groupdq.copy(), band.shape
        flags = np.zeros(band.shape, bool)
        for row, count in enumerate(flagged_ints_per_row):
            flags[:count, 2, row, 10 - seen_start(band)] = True
        return flags

    def seen_start(band):
        return 9 if band.shape[-1] == 3 else 0

    monkeypatch.setattr(jumps, "detect_jumps", detect_jumps)
    model = SimpleNamespace(data=ramps, instance={}, meta=SimpleNamespace(
        exposure=SimpleNamespace(group_time=1.0), subarray=SimpleNamespace(ystart=1)))
    return model, seen


@pytest.mark.parametrize("nints, needed", [(2, 2), (3, 3), (4, 3), (6, 3), (7, 4), (10, 5)])
def test_jump_peak_flags_need_most_integrations(monkeypatch, nints, needed):
    """A peak pixel counts when flagged in max(min(nints, 3), ceil(nints / 2)) integrations: rows
    flagged in exactly that many count, one fewer do not."""
    rows = [needed, needed - 1, 0, nints]
    model, _ = _jump_case(monkeypatch, nints, 6, rows)
    finding = diagnosis.check_jump_peak_flags(model, "slitless")
    assert finding.measured["integrations_needed"] == (needed, f"of {nints}")
    assert finding.measured["threshold"] == (jumps.DEFAULT_REJECTION_THRESHOLD, "sigma")
    hit = finding.details["pixels"]
    assert hit.tolist() == [[0, 10], [3, 10]]
    assert finding.measured["peak_pixels_flagged"][0] == 2 and finding.measured["rows"][0] == [0, 3]
    assert finding.severity == "warning"


def test_jump_check_sends_only_the_peak_columns_and_drops_first_and_last_groups(monkeypatch):
    """Columns 9-11 (the peak and one either side) go to the jump step; with 5 groups or more the
    first and last are DO_NOT_USE (MIRI's detector1), with 4 they are kept."""
    model, seen = _jump_case(monkeypatch, 3, 5, [0, 0, 0])
    finding = diagnosis.check_jump_peak_flags(model, "slitless")
    assert finding.severity == "ok" and finding.measured["peak_pixels_flagged"][0] == 0
    assert seen["band"] == (3, 5, 3, 3)
    dnu = (seen["groupdq"] & jumps.DO_NOT_USE) != 0
    assert dnu[:, [0, -1]].all() and not dnu[:, 1:-1].any()
    model, seen = _jump_case(monkeypatch, 3, 4, [0, 0, 0])
    diagnosis.check_jump_peak_flags(model, "slitless")
    assert not seen["groupdq"].any()


# ---------------------------------------------------------------- EMI noise floor and units

def test_emi_floor_is_the_rms_of_the_null_frequencies(monkeypatch):
    """The floor is the rms of the amplitudes at the EMI-free frequencies (NaN ones skipped); the
    390 Hz and 10 Hz fits use 5 harmonics, the null frequencies one."""
    from lrs_helpers import emi

    nulls = [0.03, 0.04, np.nan, 0.12]
    calls = {}

    def measure_blocks(chunks, shape, subarray, readpatt, frequencies, **kw):
        calls.update(frequencies=list(frequencies), **kw)
        values = [1.2, 0.3, *nulls]
        return [{"frequency": f, "phase": 0.25, "condition": 1.0, "npix_used": 1, "amplitude": v,
                 "coefficients": np.array([[v, 0.0]])} for f, v in zip(frequencies, values)]

    monkeypatch.setattr(emi, "measure_blocks", measure_blocks)
    for dtype in (np.float32, np.float64):
        model = SimpleNamespace(data=np.zeros((1, 5, 8, 8), dtype=dtype), instance={},
                                meta=SimpleNamespace(subarray=SimpleNamespace(name="SLITLESSPRISM"),
                                                     exposure=SimpleNamespace(readpatt="FASTR1")))
        finding = diagnosis.check_emi(model)
        assert calls["dtype"] == dtype
    assert calls["frequencies"] == [emi.EMI_FREQUENCIES_HZ["Hz390"], emi.EMI_FREQUENCIES_HZ["Hz10"],
                                    *diagnosis.EMI_NULL_FREQUENCIES_HZ]
    assert list(calls["nharmonics"]) == [5, 5, 1, 1, 1, 1]
    floor = np.sqrt(np.mean(np.array([0.03, 0.04, 0.12]) ** 2))
    assert finding.measured["noise_floor"] == (pytest.approx(floor, rel=1e-12), "DN")
    assert finding.measured["amplitude_390Hz"] == (1.2, "DN")
    assert finding.measured["amplitude_10Hz"] == (0.3, "DN")
    assert finding.measured["phase_390Hz"] == (0.25, "cycle")
    assert finding.measured["threshold"] == (diagnosis.EMI_THRESHOLD_DN, "DN")
    # the fitted waveform (one harmonic, amplitude 1.2) spans 2.4 DN peak to peak
    assert finding.measured["peak_to_peak_390Hz"][0] == pytest.approx(2.4, rel=1e-3)
    assert finding.severity == "warning"


# ---------------------------------------------------------------- colour

def test_colour_temperature_range_and_point_count():
    """The fit uses 5.5-10 um (edges included) and needs 5 usable points: a Rayleigh-Jeans
    source's index is -2 whatever lies outside the range."""
    wave = np.array([4.0, 5.0, 5.5, 6.5, 7.5, 8.5, 10.0, 11.0, 13.0])
    flux = wave ** -2.0
    flux[[0, 1, 7, 8]] *= np.array([50.0, 0.1, 7.0, 0.01])
    index, temperature = diagnosis.colour_temperature(wave, flux)
    assert index == pytest.approx(-2.0, abs=1e-9) and temperature == np.inf
    flux[3] = -1.0  # 4 usable points left
    assert np.isnan(diagnosis.colour_temperature(wave, flux)).all()
    # steeper than the coldest grid blackbody (100 K): the grid's end
    cold = diagnosis.colour_temperature(wave, wave ** 40.0)
    assert cold == (pytest.approx(40.0), 100.0)


# ---------------------------------------------------------------- what a finding tells the user
# A finding's message names the workaround and its numbers carry their units; its plot labels its
# axes. These are read by users (report table, HTML page), so they are checked as written.

def _axes(finding):
    from matplotlib.figure import Figure

    figure = Figure()
    finding.draw(figure)
    ax = figure.axes[0]
    legend = ax.get_legend()
    return ax, [text.get_text() for text in legend.get_texts()] if legend else []


def test_slitless_background_finding_text_units_and_plot(monkeypatch):
    signal = 1200.0
    model = _slitless_cube(signal)
    model.meta.bunit_data = "MJy/sr"
    sky = _sky(0.05, 50.0, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    assert finding.severity == "warning"
    assert "5.0% of the signal in the extraction aperture" in finding.message
    assert "background.subtract_rateints" in finding.message and "background regions" in finding.message
    assert finding.measured["background_fraction"][1] == "of the aperture signal, 5-12 um"
    assert finding.measured["background_level"][1] == "MJy/sr per pixel"
    assert finding.measured["significance"][1] == "sigma"
    assert finding.measured["wavelengths_from"] == (diagnosis.WAVELENGTHS_FROM_INSTRUMENT, "")
    # the edge level is the median over the 5-12 um rows of column 30
    band = diagnosis._band(instrument.wavelength_at_row("slitless", np.arange(model.data.shape[1])))
    assert finding.measured["background_level"][0] == pytest.approx(np.median(sky[:, band, 30]))
    ax, legend = _axes(finding)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_yscale()) == ("column", "MJy/sr",
                                                                                  "across a row", "log")
    assert legend == ["integration 1, 5-12 um", "edge background", "aperture"]
    assert ax.get_ylim()[0] == pytest.approx(np.median(sky[:, band, 30]) / 3)
    quiet = _sky(0.05, 1.0, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: quiet)
    assert diagnosis.check_slitless_background(model).message == "no background left at the subarray edges."


def test_slitless_background_without_edge_pixels_fails(monkeypatch):
    model = _slitless_cube(1200.0)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: np.full(sci.shape, np.nan))
    finding = diagnosis.check_slitless_background(model)
    assert finding.severity == "failed" and finding.check == "slitless_background"
    assert finding.message == "no usable edge pixel in the 5-12 um rows: the edge background cannot be measured."


def test_slitless_background_uses_the_aperture_and_band_only(monkeypatch):
    """Signal outside the CRDS aperture (columns 30-41) or outside 5-12 um does not enter the
    fraction: adding it changes nothing."""
    signal = 1200.0
    model = _slitless_cube(signal)
    sky = _sky(0.05, 50.0, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    reference = diagnosis.check_slitless_background(model).measured["background_fraction"][0]
    band = diagnosis._band(instrument.wavelength_at_row("slitless", np.arange(model.data.shape[1])))
    model.data[:, :, 29] += 5e3
    model.data[:, :, 42] += 5e3
    model.data[:, ~band] += 5e3
    assert diagnosis.check_slitless_background(model).measured["background_fraction"][0] == pytest.approx(reference)


def test_err_finding_text_units_and_plot(monkeypatch):
    result = _factor(2.5, 0.01)
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: result)
    spectra = SimpleNamespace(flux=np.ones((50, 3)), wavelength=np.ones(3), flux_error=np.ones((50, 3)),
                              dq=np.zeros((50, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    finding = diagnosis.check_err_vs_scatter(None)
    assert finding.severity == "problem"
    assert "scatter 2.50 times" in finding.message and "errors.correct_x1d" in finding.message
    assert finding.measured["spectra"] == (50, "")
    assert finding.measured["inflation_factor_error"][0] == pytest.approx(0.01, rel=1e-6)
    ax, legend = _axes(finding)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("wavelength (um)", "measured / FLUX_ERROR",
                                                                 "ERR against scatter")
    assert ax.get_ylim() == (0, 3)
    assert legend == ["per wavelength", "16-wavelength blocks (bar: spread)"]
    low = _factor(0.5, 0.01)
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: low)
    finding = diagnosis.check_err_vs_scatter(None)
    assert finding.severity == "warning" and "allow_shrink=True" in finding.message


def test_err_check_detrends_from_three_spectra_and_needs_two(monkeypatch):
    """A running median in time needs 3 spectra: 2 are compared as they are; 1 cannot be."""
    seen = {}

    def measure(*args, detrend=None, **kw):
        seen["detrend"] = detrend
        return _factor(1.0, 0.01)

    monkeypatch.setattr(errors, "measure_factor", measure)
    for nints, detrend in ((3, "median"), (2, None)):
        spectra = SimpleNamespace(flux=np.ones((nints, 3)), wavelength=np.ones(3),
                                  flux_error=np.ones((nints, 3)), dq=np.zeros((nints, 3), int))
        monkeypatch.setattr(errors, "read_spectra", lambda product, s=spectra: s)
        assert diagnosis.check_err_vs_scatter(None).severity == "ok" and seen["detrend"] == detrend
    spectra = SimpleNamespace(flux=np.ones((1, 3)), wavelength=np.ones(3), flux_error=np.ones((1, 3)),
                              dq=np.zeros((1, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    finding = diagnosis.check_err_vs_scatter(None)
    assert finding.severity == "info" and finding.measured["spectra"] == (1, "")


def test_nod_finding_text_units_and_plot(monkeypatch):
    fit = pathloss.NodOffset(relative=0.123, relative_error=0.01, relative_systematic=0.005, offset_a=0.0,
                             offset_a_error=0.01, offset_b=0.1, shift_rows=0.3, reduced_chi2=1.0, n_samples=300)
    monkeypatch.setattr(pathloss, "nod_ratio", lambda *args, **kw: _nod_ratio(1.05, 0.9))
    monkeypatch.setattr(pathloss, "estimate_offset_from_nods", lambda *args, **kw: fit)
    finding = diagnosis.check_nod_disparity(None, None)
    assert finding.severity == "warning"
    assert "nod 2 / nod 1 = 1.050" in finding.message and "+0.123\" apart" in finding.message
    assert "pathloss.corrected_spectrum" in finding.message
    assert finding.measured["relative_offset"] == (0.123, "arcsec across the slit")
    assert finding.measured["bins_beyond_repeatability"] == (0.9, "fraction, 2%")
    ax, _ = _axes(finding)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("wavelength (um)", "nod 2 / nod 1 (aligned)",
                                                                 "nod disparity")


def _confirm(monkeypatch, across, exp_type="MIR_TACONFIRM"):
    centroid = pointing.TACentroid(x_pixel=10.0, y_pixel=12.0, dv2=0.05, dv3=-0.04, aperture="MIRIM_SLIT",
                                   exp_type=exp_type, slit_along=0.1, slit_across=across,
                                   slit_across_error=0.01)
    monkeypatch.setattr(pointing, "ta_centroid", lambda model: centroid)
    model = SimpleNamespace(data=np.arange(30 * 30, dtype=float).reshape(30, 30),
                            meta=SimpleNamespace(subarray=SimpleNamespace(xstart=1, ystart=1)))
    return diagnosis.check_pointing(model)


def test_pointing_finding_text_units_and_plot(monkeypatch):
    across = _across_for_loss(0.05)
    finding = _confirm(monkeypatch, across)
    assert finding.severity == "warning" and f"user_slit_loc={across:+.2f}" in finding.message
    assert finding.measured["across_slit"] == (across, "arcsec")
    assert finding.measured["loss_10um"][1] == "fraction"
    assert finding.measured["dV2"] == (0.05, "arcsec") and finding.measured["x_pixel"] == (10.0, "px")
    ax, legend = _axes(finding)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("column", "row", "MIR_TACONFIRM image")
    assert legend == ["centroid", "MIRIM_SLIT reference"]
    # no slit position measured on a verification image: the V2/V3 offset, as information
    finding = _confirm(monkeypatch, float("nan"))
    assert finding.severity == "info" and "+0.050\" (V2), -0.040\" (V3)" in finding.message
    assert "loss_10um" not in finding.measured


def test_acquisition_image_reports_what_the_offset_would_cost(monkeypatch):
    """MIR_TACQ: the offset is removed by the acquisition, so info, with its slit loss named."""
    finding = _confirm(monkeypatch, float("nan"), exp_type="MIR_TACQ")
    along, across = (float(v) for v in pointing.v2v3_offset_to_slit(0.05, -0.04))
    assert finding.severity == "info"
    assert finding.measured["across_slit"] == (pytest.approx(across), "arcsec")
    assert finding.measured["along_slit"] == (pytest.approx(along), "arcsec")
    loss = 1 - 1 / pathloss.relative_correction(diagnosis.POINTING_WAVELENGTH_UM, across)
    assert finding.measured["loss_10um"] == (pytest.approx(loss), "fraction if not removed")
    assert "MIR_TACONFIRM" in finding.message


def test_scattered_light_finding_text():
    finding = diagnosis.check_scattered_light(_nod_s2d(0.05))
    assert "+5.0% of the 5-12 um flux" in finding.message and "scattered_light.correct_s2d" in finding.message
    assert finding.measured["scattered_share"][1] == "of the 5-12 um box flux"
    assert finding.measured["traces"][1] == "columns"
    quiet = diagnosis.check_scattered_light(_nod_s2d(0.01))
    assert "+1.0% of the flux" in quiet.message


def test_jump_finding_text_and_plot(monkeypatch):
    model, _ = _jump_case(monkeypatch, 4, 6, [4, 0, 4, 0])
    # the product's wavelengths (0 marks a pixel without one), per row
    model.wavelength = np.repeat(np.array([9.0, 8.0, 7.0, 6.0])[:, None], model.data.shape[-1], axis=1)
    model.wavelength[:, :3] = 0.0
    model.instance["wavelength"] = model.wavelength
    finding = diagnosis.check_jump_peak_flags(model, "slitless")
    assert "2 trace-peak pixels are flagged as jumps in >= 3 of 4" in finding.message
    assert "jumps.rerun_jump" in finding.message
    assert finding.measured["wavelengths_from"] == (diagnosis.WAVELENGTHS_FROM_PRODUCT, "")
    assert finding.measured["wavelength_range"] == ([7.0, 9.0], "um")
    ax, legend = _axes(finding)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_yscale()) == (
        "row", "DN/s", "jump flags on the trace peak", "log")
    assert legend == ["peak rate (median)", "flagged in most integrations"]


# ---------------------------------------------------------------- edge cases of the checks

def _emi_model(monkeypatch, amplitude, nulls):
    from lrs_helpers import emi

    def measure_blocks(chunks, shape, subarray, readpatt, frequencies, **kw):
        values = [amplitude, 0.0, *nulls]
        return [{"frequency": f, "phase": 0.0, "condition": 1.0, "npix_used": 1, "amplitude": v,
                 "coefficients": np.array([[v, 0.0]])} for f, v in zip(frequencies, values)]

    monkeypatch.setattr(emi, "measure_blocks", measure_blocks)
    return SimpleNamespace(data=np.zeros((1, 5, 416, 72), dtype=np.float32), instance={},
                           meta=SimpleNamespace(subarray=SimpleNamespace(name="SLITLESSPRISM"),
                                                exposure=SimpleNamespace(readpatt="FASTR1")))


@pytest.mark.parametrize("nulls", [[0.0, 0.0, 0.0, 0.0], [np.nan] * 4], ids=["zero floor", "no floor"])
def test_emi_without_a_noise_floor_the_amplitude_decides(monkeypatch, nulls):
    """A zero or unmeasured floor: the threshold alone decides (0.6 DN warns, 0.4 DN does not)."""
    finding = diagnosis.check_emi(_emi_model(monkeypatch, 0.6, nulls))
    assert finding.severity == "warning"
    assert finding.message.startswith("390 Hz EMI of 0.60 DN (semi-amplitude)")
    assert "emi.correct_file or jwst emicorr" in finding.message
    finding = diagnosis.check_emi(_emi_model(monkeypatch, 0.4, nulls))
    assert finding.severity == "ok" and finding.message == "no 390 Hz EMI above 0.5 DN (0.400 DN measured)."


def test_emi_plot_folds_the_first_integrations(monkeypatch):
    finding = diagnosis.check_emi(_emi_model(monkeypatch, 0.6, [0.01] * 4))
    ax, legend = _axes(finding)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("390.625 Hz phase (cycle)", "DN", "EMI")
    assert legend == ["ramps of the first 1 integrations, phase-folded", "fitted 390 Hz waveform (all integrations)"]


def test_jump_check_passes_the_products_groupdq_on(monkeypatch):
    """Groups the product flags (e.g. SATURATED) reach the jump step with the flags added."""
    model, seen = _jump_case(monkeypatch, 3, 6, [0, 0, 0])
    groupdq = np.zeros(model.data.shape, np.uint8)
    groupdq[:, 3, 1, 10] = instrument.DQ["SATURATED"]
    model.groupdq = groupdq
    model.instance["groupdq"] = groupdq
    diagnosis.check_jump_peak_flags(model, "slitless")
    assert (seen["groupdq"][:, 3, 1, 1] & instrument.DQ["SATURATED"]).all()
    assert seen["groupdq"][:, 1:-1].sum() == 3 * instrument.DQ["SATURATED"]


@pytest.mark.parametrize("level, expected", [(0.05, "warning"), (0.0, "ok")])
def test_a_flat_edge_background_has_no_scatter(monkeypatch, level, expected):
    """A perfectly flat sky has no scatter: any non-zero level is significant, zero is nothing."""
    signal = 1200.0
    model = _slitless_cube(signal)
    width = diagnosis.SLITLESS_APERTURE[1] - diagnosis.SLITLESS_APERTURE[0]
    sky = np.full(model.data.shape, level * signal / width)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    assert finding.measured["significance"][0] == (np.inf if level else 0.0)
    assert finding.severity == expected


def test_rows_without_aperture_signal_do_not_enter_the_fraction(monkeypatch):
    """Rows whose aperture holds nothing (or less) are left out of the median share."""
    signal = 1200.0
    model = _slitless_cube(signal)
    sky = _sky(0.05, 50.0, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    band = np.flatnonzero(diagnosis._band(instrument.wavelength_at_row("slitless", np.arange(model.data.shape[1]))))
    # an even block: as many rows of the sky's + and - halves left out (their median stays put)
    model.data[:, band[: 2 * (band.size // 5)], 30:42] = 0.0
    assert diagnosis.check_slitless_background(model).measured["background_fraction"][0] == pytest.approx(0.05, rel=0.02)


def test_err_check_names_settling_integrations_and_fails_without_factor(monkeypatch):
    import dataclasses

    result = dataclasses.replace(_factor(1.5, 0.01), excluded=(0, 1))
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: result)
    spectra = SimpleNamespace(flux=np.ones((50, 3)), wavelength=np.ones(3), flux_error=np.ones((50, 3)),
                              dq=np.zeros((50, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    finding = diagnosis.check_err_vs_scatter(None)
    assert finding.measured["settling_integrations_left_out"] == ([0, 1], "0-based")
    assert finding.measured["spectra"] == (48, "")
    assert "Integration(s) 1, 2 sit apart in white light (settling) and were left out." in finding.message
    empty = dataclasses.replace(_factor(1.5, 0.01), factor=np.full(1600, np.nan))
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: empty)
    finding = diagnosis.check_err_vs_scatter(None)
    assert finding.severity == "failed" and "no wavelength in 5-12 um has a usable factor" in finding.message


def test_pointing_messages_give_the_loss(monkeypatch):
    finding = _confirm(monkeypatch, _across_for_loss(0.01))
    assert finding.severity == "ok" and "(1% loss at 10 um)" in finding.message
    finding = _confirm(monkeypatch, _across_for_loss(0.2))
    assert finding.severity == "problem" and "20% of the light lost at 10 um" in finding.message


def test_usable_messages(monkeypatch):
    finding = diagnosis.check_usable(_with_unusable(0.95, "nan"), "calints", "slitless")
    assert finding.message.startswith("only 5.0% of the values in the science region are usable")
    finding = diagnosis.check_usable(_with_unusable(0.3, "nan"), "calints", "slitless")
    assert finding.message == "70% of the values in the science region are usable."
    ramps = np.full((1, 3, 4, 5), 65535, np.uint16)
    finding = diagnosis.check_usable(_ramp_model(ramps), "uncal", "slit")
    assert finding.message.startswith("100% of the pixels are saturated in their first group")
    assert diagnosis.check_usable(_ramp_model(ramps * 0), "uncal", "slit").message.startswith("every read is zero")
    assert diagnosis.check_usable(_ramp_model(ramps // 2), "uncal", "slit").message == "the ramps hold data."


# ---------------------------------------------------------------- survivors of the first run

@pytest.mark.parametrize("temperature", [150.0, 800.0, 5000.0, 60000.0])
def test_colour_temperature_interpolation_is_fine(temperature):
    """An exact blackbody on the fit's own 5.5-10 um grid: the 200-point temperature grid holds
    it to 2e-4 (a 50-point grid misses by 1-2.5e-3). Tolerance 5e-4."""
    grid = np.linspace(*diagnosis.COLOUR_RANGE_UM, 50)
    f_nu = foldover.photon_spectrum(grid, source_temperature_k=temperature) * grid
    assert diagnosis.colour_temperature(grid, f_nu)[1] == pytest.approx(temperature, rel=5e-4)


def test_err_check_passes_the_dq_and_keeps_its_numbers(monkeypatch):
    """The x1dints DQ reaches the factor (flagged points are left out there); an error of 0 makes
    any departure significant; a factor of exactly 2 is a problem; every outcome keeps its
    numbers with their units."""
    seen = {}
    result = _factor(1.0, 0.01)

    def measure(wavelength, flux, flux_error, dq, **kw):
        seen["dq"] = dq
        return result

    monkeypatch.setattr(errors, "measure_factor", measure)
    dq = np.zeros((50, 3), int)
    dq[4, 1] = instrument.DQ["DO_NOT_USE"]
    spectra = SimpleNamespace(flux=np.ones((50, 3)), wavelength=np.ones(3), flux_error=np.ones((50, 3)), dq=dq)
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    finding = diagnosis.check_err_vs_scatter(None)
    np.testing.assert_array_equal(seen["dq"], dq)  # the first ERR_MAX_SPECTRA integrations: all 50
    assert finding.message == "FLUX_ERROR matches the scatter of the 50 spectra (factor 1.00)."
    assert finding.measured["inflation_factor"][1] == "measured / FLUX_ERROR, median of 16-wavelength blocks 5-12 um"
    assert finding.measured["block_spread"][1] == "" and finding.measured["inflation_factor_error"][1] == ""
    assert finding.measured["spectra"] == (50, "")
    for median, error, expected in ((1.5, 0.0, "warning"), (2.0, 0.01, "problem")):
        result = _factor(median, error)
        assert diagnosis.check_err_vs_scatter(None).severity == expected
    import dataclasses

    result = dataclasses.replace(_factor(1.5, 0.01), factor=np.full(1600, np.nan))
    finding = diagnosis.check_err_vs_scatter(None)
    assert finding.severity == "failed" and finding.measured["spectra"] == (50, "")
    result = _factor(0.5, 0.01)
    assert "(errors.correct_x1d refuses unless allow_shrink=True)" in diagnosis.check_err_vs_scatter(None).message


def test_err_plot_shows_the_blocks_and_their_spread(monkeypatch):
    result = _factor(1.5, 0.01)
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: result)
    spectra = SimpleNamespace(flux=np.ones((50, 3)), wavelength=np.ones(3), flux_error=np.ones((50, 3)),
                              dq=np.zeros((50, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    ax, _ = _axes(diagnosis.check_err_vs_scatter(None))
    blocks = result.binned(16)
    points = ax.containers[0]
    np.testing.assert_allclose(points.lines[0].get_ydata(), blocks.factor)
    segments = points.lines[2][0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], 2 * np.asarray(blocks.spread))
    assert any(list(line.get_ydata()) == [1, 1] for line in ax.lines)  # the factor-1 line


def test_jump_ok_message_and_flags_kept_on_the_dropped_groups(monkeypatch):
    """Flags the product already has on the first and last groups stay (DO_NOT_USE is added)."""
    model, seen = _jump_case(monkeypatch, 3, 6, [0, 0, 0])
    groupdq = np.zeros(model.data.shape, np.uint8)
    groupdq[:, 0, :, 10] = instrument.DQ["SATURATED"]
    model.groupdq = groupdq
    model.instance["groupdq"] = groupdq
    finding = diagnosis.check_jump_peak_flags(model, "slitless")
    assert finding.message == "no trace-peak pixel is flagged as a jump in most integrations."
    assert np.all(seen["groupdq"][:, 0, :, 1] == instrument.DQ["SATURATED"] | jumps.DO_NOT_USE)


def test_nod_numbers_and_plot(monkeypatch):
    fit = pathloss.NodOffset(relative=0.05, relative_error=0.01, relative_systematic=0.005, offset_a=0.02,
                             offset_a_error=0.01, offset_b=0.07, shift_rows=0.3, reduced_chi2=1.0, n_samples=300)
    monkeypatch.setattr(pathloss, "nod_ratio", lambda *args, **kw: _nod_ratio(1.0, 0.1))
    monkeypatch.setattr(pathloss, "estimate_offset_from_nods", lambda *args, **kw: fit)
    finding = diagnosis.check_nod_disparity(None, None)
    assert finding.severity == "ok" and "agree within the 2% repeatability (ratio 1.000)" in finding.message
    assert finding.measured["relative_offset_error"] == (0.01, "arcsec")
    assert finding.measured["offset_nod1"] == (0.02, "arcsec") and finding.measured["offset_nod2"] == (0.07, "arcsec")
    ax, _ = _axes(finding)
    corners = ax.patches[0].get_patch_transform().transform(ax.patches[0].get_path().vertices)
    assert (corners[:, 1].min(), corners[:, 1].max()) == pytest.approx((0.98, 1.02))


def test_pointing_numbers_and_the_image_under_the_centroid(monkeypatch):
    finding = _confirm(monkeypatch, _across_for_loss(0.05))
    assert finding.measured["along_slit"] == (0.1, "arcsec")
    ax, _ = _axes(finding)
    image = ax.images[0]
    # the 31 x 31 pixels around the centroid (10, 12), each drawn on its own pixel
    assert image.get_extent() == [-5.5, 25.5, -3.5, 27.5]
    data = np.arange(30 * 30, dtype=float).reshape(30, 30)
    np.testing.assert_array_equal(image.get_array(), data[0:28, 0:26])
    # the colour scale: 5th to 99.5th percentile of the box
    assert image.get_clim() == pytest.approx((np.percentile(data[0:28, 0:26], 5), np.percentile(data[0:28, 0:26], 99.5)))


def test_scattered_light_ok_text_and_name():
    finding = diagnosis.check_scattered_light(_nod_s2d(0.0144))
    assert finding.message == "no smooth level between the traces (+1.4% of the flux)."
    assert diagnosis.check_scattered_light(_nod_s2d(0.05)).check == "scattered_light"


def test_a_background_of_exactly_ten_percent_is_a_problem(monkeypatch):
    """10 % or more is a problem: a flat sky of exactly 10 % of the aperture signal."""
    signal = 1200.0
    model = _slitless_cube(signal)
    width = diagnosis.SLITLESS_APERTURE[1] - diagnosis.SLITLESS_APERTURE[0]
    sky = np.full(model.data.shape, diagnosis.PROBLEM_FRACTION * signal / width)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    assert finding.measured["background_fraction"][0] == diagnosis.PROBLEM_FRACTION
    assert finding.severity == "problem"


def test_slitless_background_plot_shows_the_profile_and_aperture(monkeypatch):
    """The plotted profile is the 5-12 um median across the columns; the aperture band covers
    columns 30-41; a sky level below 1 still sets the lower limit (a third of it)."""
    signal = 60.0
    model = _slitless_cube(signal)
    model.data[0, :, 5] = 7.0
    sky = _sky(0.05, 50.0, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    ax, _ = _axes(finding)
    profile = ax.lines[0].get_ydata()
    assert profile.size == model.data.shape[2] and profile[5] == 7.0 and profile[31] == pytest.approx(signal / 12)
    corners = ax.patches[0].get_patch_transform().transform(ax.patches[0].get_path().vertices)
    assert (corners[:, 0].min(), corners[:, 0].max()) == pytest.approx((29.5, 41.5))
    floor = finding.measured["background_level"][0]
    assert 0 < floor < 1 and ax.get_ylim()[0] == pytest.approx(floor / 3)


def test_usable_counts_every_chunk_and_names_itself():
    """A ramp read a chunk (integration) at a time: saturation is summed over all chunks."""
    from lrs_helpers import io

    ramps = np.full((3, 3, 10, 10), 100, np.uint16)
    ramps[:, 0, :6] = 65535  # 60 % of the pixels, in every integration
    chunks = io.IntegrationChunks.in_memory(ramps, chunk_bytes=ramps[0].nbytes)
    assert len(chunks.slices()) == 3
    finding = diagnosis.check_usable(_ramp_model(ramps), "uncal", "slit", chunks=chunks)
    assert finding.measured["saturated_first_group"][0] == pytest.approx(0.6)
    assert finding.check == "usable" and finding.message.startswith("60% of the pixels are saturated")
    assert finding.measured["nonzero"][1] == "of the reads"
    assert diagnosis.check_usable(_with_unusable(0.95, "nan"), "calints", "slitless").check == "usable"


def _emi_model_with_flagged_columns(monkeypatch):
    """An EMI ramp model whose PIXELDQ flags the first four columns DO_NOT_USE."""
    model = _emi_model(monkeypatch, 0.6, [0.01] * 4)
    pixeldq = np.zeros((416, 72), np.uint32)
    pixeldq[:, :4] = instrument.DQ["DO_NOT_USE"]
    model.pixeldq = pixeldq
    model.instance["pixeldq"] = pixeldq
    return model


def test_emi_plot_honours_the_pixel_dq(monkeypatch):
    """The phase-folded ramps of the plot leave out the pixels the product flags (PIXELDQ)."""
    from lrs_helpers import emi

    model = _emi_model_with_flagged_columns(monkeypatch)
    pixeldq = model.pixeldq.copy()
    seen = {}
    real = emi.measure

    def measure(*args, **kw):
        seen["pixeldq"] = kw.get("pixeldq")
        return real(*args, **kw)

    monkeypatch.setattr(emi, "measure", measure)
    _axes(diagnosis.check_emi(model))
    np.testing.assert_array_equal(seen["pixeldq"], pixeldq)


def test_err_check_with_a_zero_error_is_silent(monkeypatch):
    """A summary error of 0 makes any departure significant, without a numpy warning."""
    import warnings

    result = _factor(1.5, 0.0)
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: result)
    spectra = SimpleNamespace(flux=np.ones((50, 3)), wavelength=np.ones(3), flux_error=np.ones((50, 3)),
                              dq=np.zeros((50, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert diagnosis.check_err_vs_scatter(None).severity == "warning"


def test_ta_plot_box_is_centred_on_the_centroid_away_from_the_edges(monkeypatch):
    """Away from the image edges the box is the 31 x 31 pixels centred on the centroid."""
    centroid = pointing.TACentroid(x_pixel=30.0, y_pixel=25.0, dv2=0.0, dv3=0.0, aperture="MIRIM_SLIT",
                                   exp_type="MIR_TACONFIRM", slit_along=0.0, slit_across=0.01,
                                   slit_across_error=0.01)
    monkeypatch.setattr(pointing, "ta_centroid", lambda model: centroid)
    data = np.arange(60 * 60, dtype=float).reshape(60, 60)
    model = SimpleNamespace(data=data, meta=SimpleNamespace(subarray=SimpleNamespace(xstart=1, ystart=1)))
    ax, _ = _axes(diagnosis.check_pointing(model))
    np.testing.assert_array_equal(ax.images[0].get_array(), data[10:41, 15:46])
    assert ax.images[0].get_extent() == [14.5, 45.5, 9.5, 40.5]


# ================================================================ the checks added to the scope
# (fold-over, dropouts, background left in an x1d, ERR against the pixels' scatter, TA exposure
# time, and the helpers that compute their numbers): small in-memory datamodels, each threshold
# with a case just inside and just outside it, each number against an independent computation.

def _miri(model, exp_type="MIR_LRS-SLITLESS", name="jw01_mirimage_x1dints.fits"):
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector = "MIRIMAGE"
    model.meta.exposure.type = exp_type
    model.meta.filename = name
    return model


def _x1dints(wavelength, flux, *, npixels=7.0, dq=0, background=0.0, photom="COMPLETE"):
    """An x1dints in memory, one EXTRACT1D table per integration (rows of ``flux``)."""
    flux = np.atleast_2d(np.asarray(flux, float))
    shape = flux.shape
    model = _miri(datamodels.MultiSpecModel())
    model.meta.cal_step.photom = photom
    columns = {"WAVELENGTH": np.broadcast_to(wavelength, shape), "FLUX": flux,
               "NPIXELS": np.broadcast_to(npixels, shape), "DQ": np.broadcast_to(dq, shape),
               "BACKGROUND": np.broadcast_to(background, shape), "FLUX_ERROR": np.full(shape, 0.01)}
    for integration in range(shape[0]):
        spec = datamodels.SpecModel()
        table = np.zeros(shape[1], dtype=spec.get_dtype("spec_table"))
        for name, values in columns.items():
            table[name] = values[integration]
        spec.spec_table = table
        model.spec.append(spec)
    return model


# ---------------------------------------------------------------- TA exposure time (LRS06)
def _frame_time_s(shared_data, subarray):
    """TFRAME from the real readout clocks (jwst 3.0 emicorr: frame clocks x 10 us per read)."""
    import json

    constants = json.loads((shared_data / "reference" / "emicorr_constants.json").read_text())
    clocks = constants["subarray_clocks"]["FULL_FAST" if subarray == "FULL" else subarray]["frameclocks"]
    return clocks * constants["pixel_read_time_s"]


def _ta_image(readpatt, tframe, tgroup, exp_type="MIR_TACQ"):
    model = _miri(datamodels.ImageModel(data=np.zeros((8, 8), np.float32)), exp_type, "jw01_mirimage_rate.fits")
    model.meta.exposure.readpatt = readpatt
    model.meta.exposure.frame_time = tframe
    model.meta.exposure.group_time = tgroup
    return model


@pytest.mark.parametrize("subarray", ["FULL", "SLITLESSPRISM"])
@pytest.mark.parametrize("readpatt, frames", [("FASTGRPAVG", 4), ("FASTGRPAVG8", 8), ("FASTGRPAVG64", 64)])
def test_ta_exposure_time_against_the_readout_clocks(shared_data, subarray, readpatt, frames):
    """LRS06: a FASTGRPAVG group averages N frames, so it lasts N x TFRAME (FULL: 4 x 2.775 s =
    11.10 s; SLITLESSPRISM 4 x 0.159 s = 0.636 s, from the real clock constants). TGROUP written
    as one frame (jwst#8069) makes rates N times too high: a warning with the factor N; TGROUP
    written as N frames is ok."""
    tframe = _frame_time_s(shared_data, subarray)
    wrong = diagnosis.check_ta_exposure_time(_ta_image(readpatt, tframe, tframe))
    assert wrong.severity == "warning" and wrong.check == "ta_exposure_time"
    assert wrong.measured["rate_factor"] == (pytest.approx(frames, rel=1e-12), "pipeline / true rate")
    assert wrong.measured["frames_per_group"] == (frames, "")
    assert wrong.measured["TGROUP"] == (pytest.approx(tframe), "s")
    assert wrong.measured["true_group_time"] == (pytest.approx(frames * tframe, rel=1e-12), "s")
    assert f"rates are {frames:.2f} times too high. Divide them by {frames:.2f}" in wrong.message
    assert f"{readpatt} averages {frames} frames per group but TGROUP is {tframe:.3f} s" in wrong.message
    right = diagnosis.check_ta_exposure_time(_ta_image(readpatt, tframe, frames * tframe))
    assert right.severity == "ok" and right.measured["rate_factor"][0] == pytest.approx(1.0, rel=1e-12)
    assert right.check == "ta_exposure_time"
    assert right.message == (f"{readpatt}: TGROUP {frames * tframe:.3f} s matches {frames} frame(s) per group; "
                             "rates are on the right scale.")


@pytest.mark.parametrize("factor, expected", [(1.0095, "ok"), (1.0105, "warning"), (0.9905, "ok"),
                                              (0.9895, "warning")])
def test_ta_exposure_time_tolerance_is_one_percent(factor, expected):
    """A TGROUP within 1 % of the frames' time is ok (cases 0.05 % of it either side of the edge);
    the LRS06 error it guards is a factor 4 or more."""
    tframe = 2.77504
    finding = diagnosis.check_ta_exposure_time(_ta_image("FAST", tframe, tframe / factor))
    assert finding.measured["rate_factor"][0] == pytest.approx(factor, rel=1e-12)
    assert finding.severity == expected


def test_ta_exposure_time_names_bad_headers():
    with pytest.raises(io.LRSInputError, match=r"jw01_mirimage_rate\.fits: READPATT, TFRAME and TGROUP"):
        diagnosis.check_ta_exposure_time(_ta_image(None, 2.77504, 2.77504))
    with pytest.raises(io.LRSInputError, match="READPATT SLOW is not a MIRI TA read pattern"):
        diagnosis.check_ta_exposure_time(_ta_image("SLOW", 2.77504, 2.77504))


# ---------------------------------------------------------------- background left in an x1d
def _banded(blue, red, nints=1):
    """Spectra whose mean flux is ``blue`` at 5.5-6.5 um and ``red`` at 11-12 um (edges
    included) and 100 just outside the bands; ``red`` may be a value per integration."""
    wavelength = np.array([5.0, 5.49, 5.5, 6.0, 6.5, 6.51, 8.0, 10.99, 11.0, 11.5, 12.0, 12.01])
    red = np.broadcast_to(red, (nints,))
    flux = np.full((nints, wavelength.size), 100.0)
    flux[:, 2:5] = blue
    flux[:, 8:11] = red[:, None]
    return wavelength, flux


@pytest.mark.parametrize("ratio, expected", [(diagnosis.SKY_SHAPE_RATIO * (1 - EDGE), "info"),
                                             (diagnosis.SKY_SHAPE_RATIO, "info"),
                                             (diagnosis.SKY_SHAPE_RATIO * (1 + EDGE), "warning")])
def test_x1d_background_sky_shape_threshold(ratio, expected):
    """Red/blue flux ratio 0.95 or exactly 1 (a point source, info), 1.05 (sky-like: "above 1",
    a warning), in Jy with nothing subtracted; the flux 100 just outside the bands does not count."""
    wavelength, flux = _banded(2.0, 2.0 * ratio)
    finding = diagnosis.check_x1d_background(_x1dints(wavelength, flux))
    assert finding.check == "x1d_background"
    assert finding.measured["red_to_blue_ratio"] == (pytest.approx(ratio, rel=1e-12),
                                                     "mean flux 11-12 um / 5.5-6.5 um")
    assert finding.measured["background_subtracted"] == (False, "BACKGROUND column non-zero")
    assert finding.measured["unit"] == ("Jy", "")
    assert finding.severity == expected
    if expected == "warning":
        assert f"({ratio:.1f} times brighter at 11-12 um than at 5.5-6.5 um)" in finding.message
        assert finding.message.startswith("no background was subtracted (BACKGROUND is zero) and the spectrum "
                                          "rises to the red")
        assert finding.message.endswith("as sky does and a point source does not: subtract the slitless "
                                        "background (background.subtract_rateints, or an extract_1d reference "
                                        "with background regions) and extract again.")
    else:
        assert finding.message == ("no background was subtracted by extract_1d (BACKGROUND column zero): "
                                   "any slitless sky is still in the spectrum.")


def test_x1d_background_mean_over_usable_integrations():
    """The mean over integrations (1, 1, 1.3 at 11-12 um: mean 1.1, median 1.0) of the points not
    DO_NOT_USE (a flagged 1000 in the red band is left out, other DQ bits are not)."""
    wavelength, flux = _banded(1.0, [1.0, 1.0, 1.3], nints=3)
    flux[0, 9] = 1000.0
    dq = np.zeros(flux.shape, np.uint32)
    dq[0, 9] = instrument.DQ["DO_NOT_USE"]
    dq[:, 3] = instrument.DQ["JUMP_DET"]
    finding = diagnosis.check_x1d_background(_x1dints(wavelength, flux, dq=dq))
    assert finding.measured["red_to_blue_ratio"][0] == pytest.approx(1.1, rel=1e-12)
    assert finding.severity == "warning"


@pytest.mark.parametrize("background", [-1e-6, 1e-6])
def test_x1d_background_any_subtraction_is_ok(background):
    """One non-zero BACKGROUND value, of either sign, means extract_1d subtracted a background."""
    wavelength, flux = _banded(1.0, 5.0)
    values = np.zeros(flux.shape)
    values[0, 3] = background
    finding = diagnosis.check_x1d_background(_x1dints(wavelength, flux, background=values))
    assert finding.severity == "ok" and finding.measured["background_subtracted"][0] is True
    assert finding.check == "x1d_background"
    assert finding.message == "extract_1d subtracted a background (BACKGROUND column non-zero)."


def test_x1d_background_read_from_the_file_too(tmp_path):
    """``source``: the BACKGROUND column is read from the file, as from the model."""
    wavelength, flux = _banded(1.0, 5.0)
    values = np.zeros(flux.shape)
    values[0, 3] = 2e-3
    model = _x1dints(wavelength, flux, background=values)
    path = tmp_path / "jw01_mirimage_x1dints.fits"
    model.save(path)
    assert diagnosis.check_x1d_background(model, source=path).severity == "ok"
    model.spec[0].spec_table["BACKGROUND"] = 0.0
    model.save(path)
    finding = diagnosis.check_x1d_background(model, source=path)
    assert finding.severity == "warning" and finding.measured["red_to_blue_ratio"][0] == pytest.approx(5.0)


@pytest.mark.parametrize("blue", [0.0, -1.0])
def test_x1d_background_needs_a_positive_blue_level(blue):
    wavelength, flux = _banded(blue, 5.0)
    finding = diagnosis.check_x1d_background(_x1dints(wavelength, flux))
    assert np.isnan(finding.measured["red_to_blue_ratio"][0]) and finding.severity == "info"


def test_x1d_background_without_a_background_column(monkeypatch):
    """Spectra with no BACKGROUND column (another extraction): nothing subtracted, no error."""
    wavelength, flux = _banded(1.0, 5.0)
    spectra = SimpleNamespace(wavelength=wavelength, flux=flux, dq=np.zeros(flux.shape, np.uint32),
                              flux_error=np.ones(flux.shape))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    table = np.zeros(wavelength.size, dtype=[("WAVELENGTH", float), ("FLUX", float)])
    model = SimpleNamespace(instance={"spec": []}, spec=[SimpleNamespace(spec_table=table)],
                            meta=SimpleNamespace(cal_step=SimpleNamespace(photom="COMPLETE")))
    finding = diagnosis.check_x1d_background(model)
    assert finding.measured["background_subtracted"][0] is False and finding.severity == "warning"


def test_x1d_background_uncalibrated_flux_says_nothing_about_sky():
    """In DN/s the shape is the detector's response, not the source's: info, whatever the ratio."""
    wavelength, flux = _banded(1.0, 3.0)
    finding = diagnosis.check_x1d_background(_x1dints(wavelength, flux, photom="SKIPPED"))
    assert finding.severity == "info" and finding.measured["unit"] == ("DN/s", "")
    assert finding.message.endswith(" The flux is in DN/s, so its shape says nothing about sky.")


# ---------------------------------------------------------------- units of a product's flux
def test_flux_unit_and_calibration(tmp_path):
    """The FLUX column's unit where the file has one, else PHOTOM's status; BUNIT for images."""
    wavelength, flux = _banded(1.0, 1.0)
    model = _x1dints(wavelength, flux, photom="SKIPPED")
    assert diagnosis._flux_unit(model) == "DN/s" and not diagnosis._flux_calibrated(model)
    model.meta.cal_step.photom = "COMPLETE"
    assert diagnosis._flux_unit(model) == "Jy" and diagnosis._flux_calibrated(model)
    path = tmp_path / "jw01_mirimage_x1dints.fits"
    model.save(path)
    with datamodels.open(path) as saved:
        saved.spec[0].spec_table.columns["FLUX"].unit = "mJy"
        saved.meta.cal_step.photom = "SKIPPED"
        assert diagnosis._flux_unit(saved) == "mJy" and diagnosis._flux_calibrated(saved)
        saved.spec[0].spec_table.columns["FLUX"].unit = "DN/s"
        assert not diagnosis._flux_calibrated(saved)
    image = _image_model(np.ones((4, 5)), unit="MJy/sr")
    assert diagnosis._flux_unit(image) == "MJy/sr" and diagnosis._flux_calibrated(image)
    image.meta.bunit_data = None
    assert diagnosis._flux_unit(image) == "DN/s" and not diagnosis._flux_calibrated(image)


# ---------------------------------------------------------------- dropouts
def _short_point(lost, *, nints=4, index=20, integration=2):
    """x1dints (Jy, 60 points at 4-13 um, 7 box pixels each) whose point ``index`` has one box
    pixel fewer in one integration and ``lost`` of its flux missing there."""
    wavelength = np.linspace(4.0, 13.0, 60)
    flux = np.ones((nints, wavelength.size))
    npixels = np.full(flux.shape, 7.0)
    flux[integration, index] = 1.0 - lost
    npixels[integration, index] = 6.0
    return wavelength, flux, npixels


@pytest.mark.parametrize("lost, expected", [(diagnosis.PROBLEM_FRACTION * (1 - EDGE), "warning"),
                                            (diagnosis.PROBLEM_FRACTION * (1 + EDGE), "problem")])
def test_dropout_lost_fraction_threshold(lost, expected):
    """A spectrum point short of one box pixel in one integration of four is a dropout; its loss
    is 1 - flux / the other integrations' median: 9.5 % a warning, 10.5 % a problem."""
    wavelength, flux, npixels = _short_point(lost)
    finding = diagnosis.check_dropouts(_x1dints(wavelength, flux, npixels=npixels))
    assert finding.severity == expected and finding.check == "dropouts"
    assert finding.measured["dropouts"] == (1, "")
    assert finding.measured["integrations"] == (1, "")
    assert finding.measured["largest_lost_fraction"] == (pytest.approx(lost, rel=1e-9), "")
    assert finding.measured["wavelength_range"] == ([wavelength[20], wavelength[20]], "um")
    assert finding.message.startswith(f"1 jump-step dropouts at the trace peak ({wavelength[20]:.2f}-"
                                      f"{wavelength[20]:.2f} um), up to {100 * (1 - flux[2, 20]):.0f}% of the flux lost")
    assert "jumps.sweep_jump_settings" in finding.message and "jumps.repair_spectrum" in finding.message
    ax, _ = _axes(finding)
    np.testing.assert_allclose(ax.lines[0].get_xydata(), [[wavelength[20], 100 * lost]])
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("wavelength (um)", "flux lost (%)", "dropouts")


def test_dropouts_counted_apart_from_other_losses():
    """Two dropouts (integrations 0 and 2, 5 % and 20 % lost) and, not dropouts: a point NaN in
    every integration (4 rows), a point short in every integration (4), a flagged point that
    keeps its box (1). The numbers and the note name each."""
    wavelength, flux, npixels = _short_point(0.20, index=30, integration=2)
    flux[0, 10], npixels[0, 10] = 0.95, 6.0
    flux[:, 0] = np.nan
    npixels[:, 50] = 5.0
    dq = np.zeros(flux.shape, np.uint32)
    dq[1, 40] = instrument.DQ["DO_NOT_USE"]
    finding = diagnosis.check_dropouts(_x1dints(wavelength, flux, npixels=npixels, dq=dq))
    assert finding.severity == "problem"
    measured = finding.measured
    assert measured["dropouts"] == (2, "") and measured["integrations"] == (2, "")
    assert measured["wavelength_range"][0] == [wavelength[10], wavelength[30]]
    assert measured["largest_lost_fraction"][0] == pytest.approx(0.20)
    assert (measured["not_dropouts_nan_every_integration"], measured["not_dropouts_every_integration"],
            measured["not_dropouts_flagged_point"]) == ((4, ""), (4, ""), (1, ""))
    assert ("; not dropouts: 4 every integration, 1 flagged point, 4 nan every integration: rerun jump"
            in finding.message)
    assert len(finding.details["table"]) == 2 and len(finding.details["other_losses"]) == 9


def test_no_dropout_is_ok_and_names_the_other_losses():
    wavelength, flux, npixels = _short_point(0.0)
    npixels[:, 20] = 6.0  # short everywhere: static, not a dropout
    finding = diagnosis.check_dropouts(_x1dints(wavelength, flux, npixels=npixels))
    assert finding.severity == "ok" and finding.measured == {"dropouts": (0, ""),
                                                             "not_dropouts_every_integration": (4, "")}
    assert finding.message == "no dropout at the trace peak; not dropouts: 4 every integration."
    assert finding.check == "dropouts" and len(finding.details["other_losses"]) == 4
    assert len(finding.details["table"]) == 0
    clean = diagnosis.check_dropouts(_x1dints(*_short_point(0.0)[:2]))
    assert clean.message == "no dropout at the trace peak." and clean.draw is None


def test_dropouts_read_from_the_file_as_from_the_model(tmp_path):
    """``source`` an x1dints path (read a chunk of rows at a time) gives the same finding."""
    wavelength, flux, npixels = _short_point(0.3)
    model = _x1dints(wavelength, flux, npixels=npixels)
    path = tmp_path / "jw01_mirimage_x1dints.fits"
    model.save(path)
    streamed = diagnosis.check_dropouts(model, source=path)
    assert streamed.measured == diagnosis.check_dropouts(model).measured
    assert streamed.measured["largest_lost_fraction"][0] == pytest.approx(0.3)


def test_dropouts_from_a_file_without_npixels_are_named(monkeypatch, tmp_path):
    path = tmp_path / "jw01_mirimage_x1dints.fits"
    monkeypatch.setattr(io, "read_table_columns", lambda source, names: [
        {"WAVELENGTH": np.ones(3), "FLUX": np.ones(3)}])
    with pytest.raises(io.LRSInputError, match=r"jw01_mirimage_x1dints\.fits: the spectrum table has no DQ, "
                                               r"NPIXELS column\(s\)"):
        diagnosis.check_dropouts(_x1dints(np.ones(3), np.ones(3)), source=path)


def test_dropouts_from_a_file_without_tables_are_named(monkeypatch, tmp_path):
    path = tmp_path / "jw01_mirimage_x1dints.fits"
    monkeypatch.setattr(io, "read_table_columns", lambda source, names: [])
    with pytest.raises(io.LRSInputError, match=r"x1dints\.fits: the spectrum table has no DQ, FLUX, NPIXELS, "
                                               r"WAVELENGTH column\(s\); expected an x1dints EXTRACT1D table"):
        diagnosis.check_dropouts(_x1dints(np.ones(3), np.ones(3)), source=path)


def test_dropouts_of_one_spectrum_read_from_its_file(tmp_path):
    """An x1d (one EXTRACT1D table) read from its file: a point short of a box pixel is
    'unconfirmed' (no other integration to compare with), not a dropout, as in memory."""
    wavelength, flux, npixels = _short_point(0.3, nints=1, integration=0)
    model = _x1dints(wavelength, flux, npixels=npixels)
    path = tmp_path / "jw01_mirimage_x1d.fits"
    model.save(path)
    finding = diagnosis.check_dropouts(model, source=path)
    assert finding.measured == diagnosis.check_dropouts(model).measured == {
        "dropouts": (0, ""), "not_dropouts_unconfirmed": (1, "")}


def _trace_cube(nints=3, ny=30, nx=20, peak=10, sigma=1.2):
    """A calints with a Gaussian trace along the rows (5-12 um over rows 3-26), MJy/sr."""
    columns = np.arange(nx)
    profile = np.exp(-0.5 * ((columns - peak) / sigma) ** 2)
    sci = np.broadcast_to(100.0 * profile, (nints, ny, nx)).astype(np.float32).copy()
    model = _miri(datamodels.CubeModel(data=sci), name="jw01_mirimage_calints.fits")
    model.dq = np.zeros(sci.shape, np.uint32)
    rows = np.linspace(4.0, 13.0, ny)
    model.wavelength = np.broadcast_to(rows[:, None], (ny, nx)).astype(np.float32).copy()
    model.meta.bunit_data = "MJy/sr"
    return model, profile


def _drop(model, integration, row, column, flags):
    model.data[integration, row, column] = np.nan
    model.dq[integration, row, column] = flags


def test_image_dropouts_lose_the_peaks_share_of_the_core():
    """A peak pixel dropped by the jump step (DO_NOT_USE + JUMP_DET, NaN) loses its share of the
    7-column core in the other integrations: for a Gaussian of sigma 1.2 px, g(0) / sum g(-3..3)
    = 0.33 by hand. A saturated and a bad peak pixel are counted apart."""
    model, profile = _trace_cube()
    dropped = instrument.DQ["DO_NOT_USE"] | instrument.DQ["JUMP_DET"]
    _drop(model, 1, 8, 10, dropped)
    _drop(model, 2, 20, 10, dropped)
    _drop(model, 0, 15, 10, instrument.DQ["DO_NOT_USE"] | instrument.DQ["SATURATED"])
    _drop(model, 0, 5, 10, instrument.DQ["DO_NOT_USE"])
    share = profile[10] / profile[7:14].sum()
    finding = diagnosis.check_dropouts(model)
    assert finding.measured["largest_lost_fraction"][0] == pytest.approx(share, rel=1e-6)
    assert finding.measured["dropouts"] == (2, "") and finding.measured["integrations"] == (2, "")
    assert finding.measured["wavelength_range"][0] == pytest.approx([model.wavelength[8, 10],
                                                                     model.wavelength[20, 10]])
    assert (finding.measured["not_dropouts_saturated"], finding.measured["not_dropouts_bad_pixel"]) == ((1, ""), (1, ""))
    assert finding.severity == "problem"
    table = finding.details["table"]
    assert list(table["row"]) == [8, 20] and list(table["peak_column"]) == [10, 10]


@pytest.mark.parametrize("nints", [1, 3])
def test_image_dropouts_streamed_in_chunks_match_the_whole_product(nints):
    """A cube streamed an integration at a time (CubeChunks) gives the table of the whole
    product (jumps.classify_peak_losses), peak columns back on the detector: the trace sits at
    column 13 of 20, so the kept band starts at column 10."""
    model, _ = _trace_cube(nints=nints, peak=13)
    dropped = instrument.DQ["DO_NOT_USE"] | instrument.DQ["JUMP_DET"]
    _drop(model, nints - 1, 8, 13, dropped)
    _drop(model, 0, 12, 13, dropped)
    _drop(model, 0, 22, 13, instrument.DQ["DO_NOT_USE"] | instrument.DQ["SATURATED"])
    chunks = io.CubeChunks.in_memory({"SCI": model.data, "DQ": model.dq}, chunk_bytes=1)
    assert chunks.chunk_ints == 1
    whole = jumps.classify_peak_losses(model)
    streamed = diagnosis._peak_losses(model, chunks)
    assert len(whole) == len(streamed) >= 3
    for name in whole.colnames:
        if whole[name].dtype.kind == "f":
            np.testing.assert_allclose(streamed[name], whole[name], rtol=1e-9)
        else:
            assert list(streamed[name]) == list(whole[name]), name
    assert diagnosis.check_dropouts(model, chunks).measured == diagnosis.check_dropouts(model).measured


def test_image_dropouts_with_dispersion_along_columns_are_read_whole(monkeypatch):
    """Not dispersed along the rows (not LRS): the file is classified whole, as jumps does."""
    model, _ = _trace_cube()
    model.meta.wcsinfo.dispersion_direction = 1
    chunks = SimpleNamespace(path="jw01_other_calints.fits", shape=model.data.shape)
    seen = []
    monkeypatch.setattr(jumps, "classify_peak_losses", lambda product: seen.append(product) or "table")
    assert diagnosis._peak_losses(model, chunks) == "table" and seen == ["jw01_other_calints.fits"]


# ---------------------------------------------------------------- fold-over
def _power_law_x1d(index, wavelength=None, photom="COMPLETE"):
    """A Jy x1dints of two integrations with F_nu ~ lambda**index over 4-14 um."""
    wavelength = np.linspace(4.0, 14.0, 201) if wavelength is None else wavelength
    return wavelength, _x1dints(wavelength, np.stack([wavelength ** index] * 2), photom=photom)


def test_foldover_colour_of_a_blackbody():
    """A 300 K blackbody's F_nu (astropy's Planck function, not the helper's photon spectrum)
    gives a 300 K colour temperature (to 0.5 %: the grid's interpolation is ~0.1 %, the 200-step
    temperature grid 3.5 %) and the blue limit foldover.usable_range gives for it, above 5.0 um:
    a warning. The fold rows are the points at or below the fold edge, counted by hand."""
    from astropy import units as u
    from astropy.modeling.physical_models import BlackBody

    wavelength = np.linspace(4.0, 14.0, 201)
    f_nu = BlackBody(300 * u.K)(wavelength * u.um).to_value(u.Jy / u.sr)
    model = _x1dints(wavelength, np.stack([f_nu, f_nu]))
    finding = diagnosis.check_foldover(model)
    measured = finding.measured
    assert measured["colour_temperature"] == (pytest.approx(300.0, rel=0.005), "K")
    blue, _ = foldover.usable_range("slitless", source_temperature_k=measured["colour_temperature"][0])
    assert blue > foldover.NOMINAL_RANGE_UM[0]
    assert measured["blue_limit"] == (blue, "um") and finding.severity == "warning"
    assert finding.check == "foldover"
    edge = foldover.fold_edge_um("slitless")
    assert 5.3 < edge < 5.6  # "about 5.4 um"
    fold = wavelength[wavelength <= edge]
    assert measured["fold_points"] == (fold.size, "")
    assert measured["fold_wavelength_range"] == ([4.0, fold.max()], "um")
    error = foldover.calibration_error(np.array(5.0), "slitless", source_temperature_k=measured["colour_temperature"][0])
    assert measured["calibration_error_5um"] == (pytest.approx(float(error)), "")
    assert measured["calibration_error_5um"][0] < -0.02  # a red source's flux comes out low
    assert f"use it from {blue:.1f} um" in finding.message and "~300 K" in finding.message
    assert f"flux there is off by {100 * error:+.1f}% at 5 um" in finding.message
    assert finding.message.endswith("(colour from the extracted flux: any unsubtracted background reddens it)")
    ax, legend = _axes(finding)
    assert legend == ["fold-over rows", f"blue limit {blue:.2f} um"]
    assert ax.get_xlim() == (3.5, 14.2)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("wavelength (um)", "flux", "fold-over")
    assert list(ax.lines[1].get_xdata()) == [blue, blue]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), wavelength)


@pytest.mark.parametrize("blue, expected", [(foldover.NOMINAL_RANGE_UM[0], "info"),
                                            (foldover.NOMINAL_RANGE_UM[0] + 0.01, "warning")])
def test_foldover_blue_limit_threshold(monkeypatch, blue, expected):
    """A blue limit of 5.00 um (the nominal start, the grid's 0.01 um step) is info; 5.01 um a
    warning. An index steeper than Rayleigh-Jeans (no blackbody) is passed on as a power law."""
    seen = {}

    def usable_range(mode, **source):
        seen.update(source)
        return blue, 14.0

    monkeypatch.setattr(foldover, "usable_range", usable_range)
    wavelength, model = _power_law_x1d(-2.5)
    finding = diagnosis.check_foldover(model)
    assert seen == {"spectral_index": pytest.approx(-2.5)}
    assert finding.measured["spectral_index"] == (pytest.approx(-2.5, abs=1e-9), "F_nu ~ lambda^index")
    assert finding.measured["colour_temperature"][0] == np.inf
    assert finding.severity == expected and finding.check == "foldover"
    if expected == "warning":
        assert "(F_nu ~ lambda^-2.50, steeper than Rayleigh-Jeans)" in finding.message
    else:
        assert (f"the source's colour is close to the flux standards', so the calibration holds from "
                f"{blue:.2f} um; do not use the points below it.") in finding.message


def test_foldover_standard_colour_is_info():
    """A source coloured like the flux standards (F_nu ~ lambda^-1.92): blue limit 5.0 um, info."""
    wavelength, model = _power_law_x1d(-1.92)
    finding = diagnosis.check_foldover(model)
    assert finding.severity == "info" and finding.measured["blue_limit"][0] == foldover.NOMINAL_RANGE_UM[0]
    assert np.isfinite(finding.measured["colour_temperature"][0])


def test_foldover_counts_only_positive_finite_fold_points():
    """NaN and negative fold-row points are not counted; without any, the check is ok."""
    wavelength, model = _power_law_x1d(-1.92)
    edge = foldover.fold_edge_um("slitless")
    fold = np.flatnonzero(wavelength <= edge)
    for spec in model.spec:
        spec.spec_table["FLUX"][fold[:3]] = np.nan
        spec.spec_table["FLUX"][fold[3:5]] = -1.0
    assert diagnosis.check_foldover(model).measured["fold_points"][0] == fold.size - 5
    for spec in model.spec:
        spec.spec_table["FLUX"][fold] = np.nan
    finding = diagnosis.check_foldover(model)
    assert finding.severity == "ok" and finding.measured == {"fold_points": (0, "")}
    assert finding.check == "foldover"
    assert finding.message == f"no signal at or below the fold edge ({edge:.2f} um)."


def test_foldover_uncalibrated_product_reports_the_rows_only():
    wavelength, model = _power_law_x1d(-1.92, photom="SKIPPED")
    finding = diagnosis.check_foldover(model)
    fold = wavelength[wavelength <= foldover.fold_edge_um("slitless")]
    assert finding.severity == "info" and set(finding.measured) == {"fold_points", "fold_wavelength_range"}
    assert finding.check == "foldover"
    assert finding.measured["fold_points"] == (fold.size, "")
    assert finding.measured["fold_wavelength_range"] == ([4.0, fold.max()], "um")
    assert (f"fold-over rows present ({fold.size} points at 4.00-{fold.max():.2f} um); the product is not "
            "flux-calibrated (DN/s)") in finding.message


def _slitless_images(index, sky, nints=2, ny=80):
    """A SLITLESSPRISM-wide calints (72 columns, rows 4-14 um): a source with F_nu ~ lambda**index
    spread over the aperture columns 30-41, on a flat sky of ``sky`` per pixel."""
    nx = 72
    rows = np.linspace(4.0, 14.0, ny)
    sci = np.full((nints, ny, nx), sky, np.float32)
    width = diagnosis.SLITLESS_APERTURE[1] - diagnosis.SLITLESS_APERTURE[0]
    sci[:, :, slice(*diagnosis.SLITLESS_APERTURE)] += (rows ** index / width)[None, :, None]
    model = _miri(datamodels.CubeModel(data=sci), name="jw01_mirimage_calints.fits")
    model.dq = np.zeros(sci.shape, np.uint32)
    model.wavelength = np.broadcast_to(rows[:, None], (ny, nx)).astype(np.float32).copy()
    model.meta.bunit_data = "MJy/sr"
    return rows, model


def test_foldover_on_images_removes_the_edge_sky_first():
    """Images: the aperture sum after the edge background is removed. A flat sky 5x the source
    per aperture pixel would flatten the index from -1.0 to ~-0.1; removed, -1.0 comes back (to
    0.01, the float32 images' rounding); streamed an integration at a time it is the same."""
    rows, model = _slitless_images(-1.0, sky=0.5)
    wave, flux = diagnosis._spectrum_for_colour(model)
    np.testing.assert_allclose(wave, rows, rtol=1e-6)
    np.testing.assert_allclose(flux, rows ** -1.0, rtol=1e-4)
    finding = diagnosis.check_foldover(model)
    assert finding.measured["spectral_index"][0] == pytest.approx(-1.0, abs=0.01)
    assert "colour from the extracted flux" not in finding.message
    # flagged pixels (DO_NOT_USE, +50) in 10 of the 14 columns of each background region
    # (background.DEFAULT_REGIONS) do not enter the edge background
    for start, stop in background.DEFAULT_REGIONS:
        model.data[:, :, start:stop - 4] += 50.0
        model.dq[:, :, start:stop - 4] = instrument.DQ["DO_NOT_USE"]
    np.testing.assert_allclose(diagnosis._spectrum_for_colour(model)[1], rows ** -1.0, rtol=1e-4)
    chunks = io.CubeChunks.in_memory({"SCI": model.data, "DQ": model.dq}, chunk_bytes=1)
    assert diagnosis.check_foldover(model, chunks).measured == finding.measured


# ---------------------------------------------------------------- ERR against the pixels' scatter
#: rows 0-29 at 4-13 um: the 5-12 um band is 22 rows; columns 4-19 are science (352 pixels)
_ERR_ROWS, _ERR_COLUMNS = 30, 20


def _alternating(factor, *, nints=4, pixels=None, err=1.0):
    """A rateints whose pixels alternate +-a about 100 between integrations, with ERR ``err``:
    consecutive differences are 2a, so the variance (mean square / 2) is 2a^2 and the scatter
    over ERR is sqrt(2) a / err. a is set for ``factor``; ``pixels`` keeps only that many
    band pixels finite (the rest NaN)."""
    a = factor * err / np.sqrt(2)
    sign = np.where(np.arange(nints) % 2 == 0, 1.0, -1.0)
    sci = np.broadcast_to((100.0 + a * sign)[:, None, None], (nints, _ERR_ROWS, _ERR_COLUMNS)).copy()
    rows = np.linspace(4.0, 13.0, _ERR_ROWS)
    band = np.flatnonzero(diagnosis._band(rows))
    if pixels is not None:
        keep = np.zeros((_ERR_ROWS, _ERR_COLUMNS), bool)
        cells = [(row, column) for row in band for column in range(instrument.REFERENCE_COLUMNS, _ERR_COLUMNS)]
        for row, column in cells[:pixels]:
            keep[row, column] = True
        sci[:, ~keep] = np.nan
    model = _miri(datamodels.CubeModel(data=sci.astype(np.float32)), name="jw01_mirimage_rateints.fits")
    model.err = np.full(sci.shape, err, np.float32)
    model.dq = np.zeros(sci.shape, np.uint32)
    model.wavelength = np.broadcast_to(rows[:, None], (_ERR_ROWS, _ERR_COLUMNS)).astype(np.float32).copy()
    return model, band


@pytest.mark.parametrize("factor, expected", [
    (1 + diagnosis.ERR_TOLERANCE * (1 - EDGE), "ok"), (1 + diagnosis.ERR_TOLERANCE * (1 + EDGE), "warning"),
    (1 - diagnosis.ERR_TOLERANCE * (1 - EDGE), "ok"), (1 - diagnosis.ERR_TOLERANCE * (1 + EDGE), "warning"),
    (2 * (1 - EDGE), "warning"), (2 * (1 + EDGE), "problem"),
    (0.5 * (1 + EDGE), "warning"), (0.5 * (1 - EDGE), "problem"),
])
def test_err_pixels_thresholds(factor, expected):
    """Scatter / ERR either side of 1 +- 0.2 (ok / warning) and of 2 and 0.5 (problem), on 352
    pixels, no noise: 5 standard errors (11 % of the factor) stay inside the departures of
    19-21 % from 1, so significance does not decide these cases."""
    model, band = _alternating(factor)
    finding = diagnosis.check_err_pixels(model)
    pixels = band.size * (_ERR_COLUMNS - instrument.REFERENCE_COLUMNS)
    assert finding.measured["scatter_over_err"] == (pytest.approx(factor, rel=1e-5),
                                                    "rms over pixels, 5-12 um rows")
    assert finding.measured["pixels"] == (pixels, "") and finding.measured["integrations"] == (4, "")
    assert finding.measured["pixels_left_out"] == (0, "above 10 x the median")
    assert finding.measured["wavelengths_from"] == (diagnosis.WAVELENGTHS_FROM_PRODUCT, "")
    assert finding.check == "err_vs_scatter_pixels"
    # 4 integrations: 0.5 sqrt(3 x 4 - 4) / 3 x factor / sqrt(pixels), as documented
    assert finding.measured["scatter_over_err_error"][0] == pytest.approx(
        0.5 * np.sqrt(8) / 3 * factor / np.sqrt(pixels), rel=1e-5)
    assert finding.severity == expected
    if expected != "ok":
        side = "too small" if factor > 1 else "too large"
        measured = finding.measured["scatter_over_err"][0]
        assert finding.message.startswith(f"ERR is {side}: the pixels scatter {measured:.2f} times what it says "
                                          "over the 4 integrations (5-12 um rows)")
        assert finding.message.endswith(", and the x1d errors inherit it: measure the factor on the extracted "
                                        "spectra (errors.inflation_factor).")
    else:
        assert finding.message == f"ERR matches the pixels' scatter over the 4 integrations (ratio {factor:.2f})."


@pytest.mark.parametrize("pixels, expected", [(66, "ok"), (75, "warning")])
def test_err_pixels_significance(pixels, expected):
    """A factor 1.5 over 3 integrations: 5 standard errors (5 x 0.5 sqrt(5) / 2 x 1.5 / sqrt(pixels)
    = 4.19 / sqrt(pixels)) are 0.52 on 66 pixels (not significant: ok) and 0.48 on 75 (a
    warning); the crossing is at 70 pixels."""
    model, _ = _alternating(1.5, nints=3, pixels=pixels)
    finding = diagnosis.check_err_pixels(model)
    assert finding.measured["pixels"][0] == pixels
    assert 5 * finding.measured["scatter_over_err_error"][0] == pytest.approx(
        5 * 0.5 * np.sqrt(5) / 2 * 1.5 / np.sqrt(pixels), rel=1e-5)
    assert finding.severity == expected


@pytest.mark.parametrize("nints, pixels, expected", [(2, None, "info"), (3, 9, "info"), (3, 10, "ok")])
def test_err_pixels_needs_three_integrations_and_ten_pixels(nints, pixels, expected):
    model, _ = _alternating(1.0, nints=nints, pixels=pixels)
    finding = diagnosis.check_err_pixels(model)
    assert finding.severity == expected and finding.check == "err_vs_scatter_pixels"
    assert finding.measured["integrations"] == (nints, "")
    if nints == 2:
        assert finding.message == ("2 integration(s): ERR can be compared with the scatter only where the same "
                                   "pixels are measured again (a rateints of 3 or more integrations, or the "
                                   "x1d of several exposures, errors.inflation_factor).")
    elif pixels == 9:
        assert finding.measured["pixels"] == (9, "") and finding.message.startswith("too few pixels")


def test_err_pixels_leave_out_hot_pixels_and_masked_values():
    """A pixel at 10.5 x the median variance ratio is left out, one at 9.5 x kept (the mean by
    hand); DO_NOT_USE, NaN ERR, ERR <= 0, reference columns, rows outside 5-12 um and steady
    pixels (no scatter) do not count, whatever their values."""
    model, band = _alternating(1.0)
    sign = np.where(np.arange(4) % 2 == 0, 1.0, -1.0)
    a = 1.0 / np.sqrt(2)
    model.data[:, band[0], 5] = 100 + np.sqrt(9.5) * a * sign
    model.data[:, band[0], 6] = 100 + np.sqrt(10.5) * a * sign
    model.data[:, band[1], 5] = 100.0  # steady: ratio 0, not a pixel
    model.data[1, band[2], 5] = 1e4
    model.dq[1, band[2], 5] = instrument.DQ["DO_NOT_USE"] | instrument.DQ["JUMP_DET"]
    model.data[2, band[2], 6] = 1e4
    model.err[2, band[2], 6] = np.nan
    model.data[2, band[2], 7] = 1e4
    model.err[2, band[2], 7] = 0.0
    model.data[:, :, :instrument.REFERENCE_COLUMNS] = 1e4 * sign[:, None, None]
    model.data[:, band[-1] + 1:] = 1e4 * sign[:, None, None]
    finding = diagnosis.check_err_pixels(model)
    pixels = band.size * (_ERR_COLUMNS - instrument.REFERENCE_COLUMNS) - 1
    assert finding.measured["pixels"] == (pixels, "")
    assert finding.measured["pixels_left_out"][0] == 1
    # the pixels with a value masked keep their other differences: the same 2a^2 per difference
    assert finding.measured["scatter_over_err"][0] == pytest.approx(np.sqrt((pixels - 2 + 9.5) / (pixels - 1)), rel=1e-5)


def test_err_pixels_streamed_in_chunks_carry_the_last_integration():
    """Read an integration (or two) at a time, the difference across each chunk boundary is
    kept: the same figures as the whole cube, for a cube with a slow drift in time."""
    model, _ = _alternating(1.3, nints=7)
    model.data += np.arange(7, dtype=np.float32)[:, None, None] * 0.01
    whole = diagnosis.check_err_pixels(model).measured
    for chunk_ints in (1, 2):
        arrays = {"SCI": model.data, "DQ": model.dq, "ERR": model.err}
        chunks = io.CubeChunks.in_memory(arrays, chunk_bytes=chunk_ints * model.data[0].nbytes)
        assert chunks.chunk_ints == chunk_ints
        streamed = diagnosis.check_err_pixels(model, chunks).measured
        assert streamed["scatter_over_err"][0] == pytest.approx(whole["scatter_over_err"][0], rel=1e-9)
        assert streamed["pixels"] == whole["pixels"]


def test_err_pixels_pull_on_gaussian_noise():
    """Pull test of the reported error on white noise (sigma = ERR x 1.3, 6 integrations, 40
    pixels, 200 seeds): the pulls spread by 1.03. 200 seeds know a spread to 5 %: allowed
    0.85-1.15 (3 standard errors). The error without the correlation of neighbouring differences
    (sqrt(2 / (n - 1)) instead of sqrt(3n - 4) / (n - 1)) gives 1.22. The factor is checked to 2 %:
    the 10 x median cut trims the broad ratios' tail, 0.7 % low at 6 integrations (3 % at 3; the
    tolerance of the finding is 20 %), and 200 seeds know the mean to 0.2 %."""
    pulls, factors = [], []
    model, _ = _alternating(1.0, nints=6, pixels=40)
    finite = np.isfinite(model.data)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        model.data[finite] = 100 + 1.3 * rng.standard_normal(finite.sum())
        finding = diagnosis.check_err_pixels(model)
        factor, error = finding.measured["scatter_over_err"][0], finding.measured["scatter_over_err_error"][0]
        factors.append(factor)
        pulls.append((factor - 1.3) / error)
    assert np.mean(factors) == pytest.approx(1.3, rel=0.02)
    assert 0.85 < np.std(pulls) < 1.15


# ---------------------------------------------------------------- row wavelengths
def test_row_wavelengths_from_the_product_or_the_instrument():
    """The WAVELENGTH extension's median per row (zeros, which mark pixels without a wavelength,
    and NaN left out; a 3-D stack's first plane); without one, the in-flight solution, offset by
    the subarray's first row in the slit (SUBSTRT2 is 1-based) and from row 0 for slitless."""
    model = _image_model(np.ones((6, 5)))
    wave = np.tile(np.linspace(5.0, 10.0, 6)[:, None], (1, 5))
    wave[:, 0] = 0.0
    wave[:, 1] = np.nan
    wave[2, 4] = 50.0  # one odd pixel: the median keeps the row's value
    model.wavelength = wave.astype(np.float32)
    values, source = diagnosis._row_wavelengths(model, "slit")
    np.testing.assert_allclose(values, np.linspace(5.0, 10.0, 6), rtol=1e-6)
    assert source == diagnosis.WAVELENGTHS_FROM_PRODUCT
    model.wavelength = np.zeros((6, 5), np.float32)
    model.meta.subarray.ystart = 101
    values, source = diagnosis._row_wavelengths(model, "slit")
    np.testing.assert_allclose(values, instrument.wavelength_at_row("slit", 100 + np.arange(6)))
    assert source == diagnosis.WAVELENGTHS_FROM_INSTRUMENT
    values, _ = diagnosis._row_wavelengths(model, "slitless")
    np.testing.assert_allclose(values, instrument.wavelength_at_row("slitless", np.arange(6)))
    model.meta.subarray.ystart = None
    np.testing.assert_allclose(diagnosis._row_wavelengths(model, "slit")[0],
                               instrument.wavelength_at_row("slit", np.arange(6)))
    stack = SimpleNamespace(data=np.ones((2, 3, 4)), instance={"wavelength": 1},
                            wavelength=np.stack([np.full((3, 4), 6.0), np.full((3, 4), 9.0)]))
    np.testing.assert_allclose(diagnosis._row_wavelengths(stack, "slit")[0], [6.0, 6.0, 6.0])


# ---------------------------------------------------------------- ramp checks: rates, names, units
def test_jump_plot_shows_rates_in_dn_per_second_of_the_flagged_rows(monkeypatch):
    """The plot's rates are the ramps' slope over the group time (100 DN per 2.5 s group: 40
    DN/s at the peak), and the flagged points sit on their rows."""
    model, _ = _jump_case(monkeypatch, 4, 6, [0, 4, 0, 4])
    model.meta.exposure.group_time = 2.5
    finding = diagnosis.check_jump_peak_flags(model, "slitless")
    ax, _ = _axes(finding)
    np.testing.assert_allclose(ax.lines[0].get_xydata(), [[row, 40.0] for row in range(4)], rtol=1e-6)
    np.testing.assert_allclose(ax.lines[1].get_xydata(), [[1, 40.0], [3, 40.0]], rtol=1e-6)


def test_jump_check_on_integer_ramps_sends_float32(monkeypatch):
    """An uncal's uint16 ramps reach the jump step as float32 (differences of unsigned
    integers wrap around below zero), as the pipeline's detector1 hands them on."""
    model, seen = _jump_case(monkeypatch, 3, 6, [3, 0, 0])
    model.data = np.asarray(model.data, np.uint16)
    original = jumps.detect_jumps

    def dtype_seen(band, gain, readnoise, groupdq=None):
        seen["dtype"] = band.dtype
        return original(band, gain, readnoise, groupdq=groupdq)

    monkeypatch.setattr(jumps, "detect_jumps", dtype_seen)
    assert diagnosis.check_jump_peak_flags(model, "slitless").measured["peak_pixels_flagged"][0] == 1
    assert seen["dtype"] == np.float32


def test_ramp_usage_names_and_units():
    ramps = np.zeros((1, 3, 4, 5), np.uint16)
    finding = diagnosis.check_usable(_ramp_model(ramps), "uncal", "slit")
    assert finding.check == "usable" and finding.message == ("every read is zero: the file holds no data "
                                                             "(a failed download or a blank exposure).")
    assert finding.measured == {"nonzero": (0.0, "of the reads"), "saturated_first_group": (0.0, "of the pixels")}
    ramps[:, 0] = 65535
    finding = diagnosis.check_usable(_ramp_model(ramps), "uncal", "slit")
    assert finding.check == "usable" and finding.message == ("100% of the pixels are saturated in their first "
                                                             "group: they carry no slope.")
    ramps[:, 0] = 7
    finding = diagnosis.check_usable(_ramp_model(ramps), "uncal", "slit")
    assert finding.check == "usable" and finding.severity == "ok"


def test_err_pixels_quiet_on_pixels_without_data():
    """Pixels NaN in every integration (no difference, no ERR) are left out without warnings."""
    import warnings

    model, _ = _alternating(1.0, nints=3, pixels=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        finding = diagnosis.check_err_pixels(model)
    assert finding.measured["pixels"] == (20, "") and finding.severity == "ok"


@pytest.mark.parametrize("factor, steps, expected", [(0.5, (1.0, 0.5), "problem"), (2.0, (4.0, 2.0), "problem")])
def test_err_pixels_a_factor_of_exactly_two_or_a_half_is_a_problem(factor, steps, expected):
    """Factors of exactly 0.5 and 2 (the problem edges, inclusive) from pixels stepping by d
    between integrations (variance d^2 / 2, ERR 1): a third at d = steps[0] and two thirds at
    steps[1] give mean ratios of 0.25 and 4 exactly, in binary."""
    model, band = _alternating(1.0, pixels=351)
    finite = np.argwhere(np.isfinite(model.data[0]))
    pattern = np.array([0.0, 1.0, 0.0, 1.0])[:, None]
    for number, (row, column) in enumerate(finite):
        step = steps[0] if number % 3 == 0 else steps[1]
        model.data[:, row, column] = 100.0 + step * pattern[:, 0]
    finding = diagnosis.check_err_pixels(model)
    assert finding.measured["scatter_over_err"][0] == factor
    assert finding.severity == expected


def test_err_pixels_too_few_pixels_message():
    model, _ = _alternating(1.0, nints=3, pixels=9)
    assert diagnosis.check_err_pixels(model).message == ("too few pixels with usable ERR and repeats in 5-12 um "
                                                         "to compare ERR with the scatter.")


def test_image_dropouts_streamed_take_the_peaks_from_every_chunk():
    """Two integrations streamed one at a time: the trace peaks come from the median of both
    chunks' medians of usable pixels, as in the whole product. Rows 5-9 of the first integration
    have a NaN peak pixel (unflagged: lost there, the peak found from the second), and a flagged (DO_NOT_USE) bright
    pixel in column 3 of rows 14-18 does not pull the peak away from the trace."""
    model, _ = _trace_cube(nints=2, peak=13)
    model.data[0, 5:10, 13] = np.nan
    model.data[0, 14:19, 3] = 1e4
    model.dq[0, 14:19, 3] = instrument.DQ["DO_NOT_USE"]
    _drop(model, 1, 16, 13, instrument.DQ["DO_NOT_USE"] | instrument.DQ["JUMP_DET"])
    chunks = io.CubeChunks.in_memory({"SCI": model.data, "DQ": model.dq}, chunk_bytes=1)
    whole = jumps.classify_peak_losses(model)
    streamed = diagnosis._peak_losses(model, chunks)
    assert sorted(whole["cause"]) == ["jump"] + ["unflagged_nan"] * 5
    assert list(streamed["row"]) == list(whole["row"]) and list(streamed["cause"]) == list(whole["cause"])
    assert list(streamed["peak_column"]) == [13] * 6


def test_jump_check_counts_a_trace_in_the_first_column(monkeypatch):
    """A trace peak in column 0 (a valid peak column) is checked like any other."""
    nints, ngroups, ny, nx = 3, 6, 4, 12
    slope = np.ones((ny, nx))
    slope[:, 0], slope[:, 1] = 100.0, 30.0
    ramps = (np.arange(ngroups, dtype=np.float32)[None, :, None, None] * slope).astype(np.float32)
    ramps = np.broadcast_to(ramps, (nints, ngroups, ny, nx))

    def detect_jumps(band, gain, readnoise, groupdq=None):
        flags = np.zeros(band.shape, bool)
        flags[:, 2, :, 0] = True
        return flags

    monkeypatch.setattr(jumps, "detect_jumps", detect_jumps)
    model = SimpleNamespace(data=ramps, instance={}, meta=SimpleNamespace(
        exposure=SimpleNamespace(group_time=1.0), subarray=SimpleNamespace(ystart=1)))
    finding = diagnosis.check_jump_peak_flags(model, "slitless")
    assert finding.measured["peak_pixels_flagged"][0] == ny
    assert finding.details["pixels"].tolist() == [[row, 0] for row in range(ny)]


def test_a_dropout_losing_exactly_ten_percent_is_a_problem(monkeypatch):
    """PROBLEM_FRACTION is inclusive ("10 % or more"); a measured loss of exactly 0.1 cannot come
    out of 1 - flux / reference in binary, so the classification is replaced by its table."""
    table = jumps._loss_table([(1, 5, 7.0, -1, 1, diagnosis.PROBLEM_FRACTION, "varies")])
    monkeypatch.setattr(jumps, "classify_peak_losses", lambda model: table)
    assert diagnosis.check_dropouts(None).severity == "problem"


# ---------------------------------------------------------------- survivors of the whole-module run
def test_emi_peak_to_peak_of_a_sinusoid_is_twice_its_amplitude(monkeypatch):
    """A pure 390 Hz sinusoid of semi-amplitude 0.6 DN: peak-to-peak 1.2 DN (its extremes at
    phases 0 and 0.5, on the 1024-phase grid)."""
    finding = diagnosis.check_emi(_emi_model(monkeypatch, 0.6, [0.01] * 4))
    assert finding.measured["peak_to_peak_390Hz"] == (pytest.approx(1.2, rel=1e-12), "DN")


def test_emi_plot_folds_the_ramps_with_their_group_dq(monkeypatch):
    """The plot's points are emi.measure's phase-folded ramps of the first integrations, with the
    product's GROUPDQ passed on (flagged groups left out)."""
    from lrs_helpers import emi

    model = _emi_model(monkeypatch, 0.6, [0.01] * 4)
    model.data = np.random.default_rng(1).normal(0.0, 1.0, model.data.shape).astype(np.float32)
    groupdq = np.zeros(model.data.shape, np.uint8)
    groupdq[:, 2, :100] = instrument.DQ["DO_NOT_USE"]
    model.groupdq = groupdq
    model.instance["groupdq"] = groupdq
    seen = {}
    real = emi.measure

    def measure(*args, **kw):
        seen["groupdq"] = kw.get("groupdq")
        seen["folded"] = real(*args, **kw)["folded"]
        return {"folded": seen["folded"]}

    monkeypatch.setattr(emi, "measure", measure)
    ax, _ = _axes(diagnosis.check_emi(model))
    np.testing.assert_array_equal(seen["groupdq"], groupdq)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), seen["folded"])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), (np.arange(64) + 0.5) / 64)


def test_jump_check_uses_the_typical_gain_and_read_noise(monkeypatch):
    """The documented typical MIRI gain and FAST CDS read noise (lrs_helpers.instrument) reach
    the jump step."""
    model, seen = _jump_case(monkeypatch, 3, 6, [3, 0, 0])
    stub = jumps.detect_jumps

    def detect(band, gain, readnoise, groupdq=None):
        seen["gain"], seen["readnoise"] = gain, readnoise
        return stub(band, gain, readnoise, groupdq=groupdq)

    monkeypatch.setattr(jumps, "detect_jumps", detect)
    diagnosis.check_jump_peak_flags(model, "slitless")
    assert (seen["gain"], seen["readnoise"]) == (instrument.GAIN_E_PER_DN, instrument.FAST_CDS_READNOISE_DN)


def test_jump_flags_are_summed_over_chunks(monkeypatch):
    """Ramps read an integration at a time: a peak flagged in each of 4 chunks counts 4 times
    (>= 3 needed), one flagged in one chunk only once."""
    model, _ = _jump_case(monkeypatch, 4, 6, [1, 0, 1])
    chunks = io.IntegrationChunks.in_memory(np.asarray(model.data), None, None,
                                            chunk_bytes=model.data[0].nbytes)
    assert len(chunks.slices()) == 4
    finding = diagnosis.check_jump_peak_flags(model, "slitless", chunks)
    # the stub flags the first `count` integrations of each call: rows 0 and 2 in every chunk
    assert finding.details["pixels"].tolist() == [[0, 10], [2, 10]]


def test_pointing_numbers_carry_their_units_and_the_plot_its_markers(monkeypatch):
    across = _across_for_loss(0.05)
    finding = _confirm(monkeypatch, across)
    assert finding.measured["across_slit_error"] == (0.01, "arcsec")
    assert finding.measured["along_slit"] == (0.1, "arcsec")
    ax, _ = _axes(finding)
    assert ax.lines[0].get_xydata().tolist() == [[10.0, 12.0]]


def test_pointing_reference_marker_without_a_subarray_origin(monkeypatch):
    """No SUBSTRT1/2 in the header: the subarray starts at pixel (1, 1), the full frame's."""
    centroid = pointing.TACentroid(x_pixel=10.0, y_pixel=12.0, dv2=0.0, dv3=0.0, aperture="MIRIM_SLIT",
                                   exp_type="MIR_TACONFIRM", slit_along=0.0, slit_across=0.01,
                                   slit_across_error=0.01)
    monkeypatch.setattr(pointing, "ta_centroid", lambda model: centroid)
    model = SimpleNamespace(data=np.ones((30, 30)), meta=SimpleNamespace(subarray=SimpleNamespace(xstart=None,
                                                                                                ystart=None)))
    ax, _ = _axes(diagnosis.check_pointing(model))
    expected = pointing.v2v3_offset_to_pixel(0.0, 0.0, subarray_origin=(1, 1), aperture="MIRIM_SLIT")
    np.testing.assert_allclose(ax.lines[1].get_xydata()[0], [float(v) for v in expected])


def test_scattered_light_fits_a_quadratic_across_the_slit():
    """The level between the traces is a quadratic across the slit, row by row: on a cubic
    level, the share is that of numpy's quadratic least-squares fit to the columns away from the
    traces (to 1e-6; a cubic fit would follow the level and give a share 0.4 % of the flux
    lower)."""
    from lrs_helpers import scattered_light

    model = _nod_s2d(0.0)
    x = np.arange(model.data.shape[1])
    model.data = (model.data + 3.0 * ((x - 22) / 22.0) ** 3 + 2.0).astype(np.float32)
    finding = diagnosis.check_scattered_light(model)
    traces = finding.measured["traces"][0]
    image = np.asarray(model.data, float)
    exclude = scattered_light.trace_exclusion_mask(image.shape, traces, 4)
    aperture = scattered_light.trace_exclusion_mask(image.shape, traces[:1], 4)
    rows = np.flatnonzero((model.wavelength[:, 0] >= 5.0) & (model.wavelength[:, 0] <= 12.0))

    def share(order):
        level = np.array([np.polyval(np.polyfit(x[~exclude[r]], image[r, ~exclude[r]], order), x) for r in rows])
        return (level * aperture[rows]).sum() / (image[rows] * aperture[rows]).sum()

    assert finding.measured["scattered_share"][0] == pytest.approx(share(2), rel=1e-6, abs=1e-9)
    assert abs(share(3) - share(2)) > 0.004


def test_scattered_light_failed_and_ok_findings_keep_their_names_and_numbers():
    model = _nod_s2d(0.0)
    model.data[:] = 0.0
    model.data[:, 20] = 1.0
    model.data[:, 35] = -1.0
    model.data[:, 16:25] = 0.0
    finding = diagnosis.check_scattered_light(model)
    assert finding.message == "no extracted flux in 5-12 um to compare with."
    assert finding.check == "scattered_light" and set(finding.measured) == {"scattered_share", "traces"}
    assert diagnosis.check_scattered_light(_nod_s2d(0.01)).check == "scattered_light"


def test_emi_fit_leaves_out_the_flagged_pixels(monkeypatch):
    """The product's PIXELDQ reaches the EMI fit (flagged pixels left out of every frequency)."""
    from lrs_helpers import emi

    model = _emi_model_with_flagged_columns(monkeypatch)
    pixeldq = model.pixeldq.copy()
    stub, seen = emi.measure_blocks, {}

    def measure_blocks(*args, **kw):
        seen["pixeldq"] = kw["pixeldq"]
        return stub(*args, **kw)

    monkeypatch.setattr(emi, "measure_blocks", measure_blocks)
    diagnosis.check_emi(model)
    np.testing.assert_array_equal(seen["pixeldq"], pixeldq)


def test_slitless_background_level_is_taken_at_the_apertures_first_column(monkeypatch):
    """The sky level reported per pixel is the edge model's at column 30, where the aperture
    starts (a sky rising 1 % per column: 1.30 there, 1.42 at the aperture's end)."""
    model = _slitless_cube(1200.0)
    columns = np.arange(model.data.shape[-1])
    sky = np.broadcast_to(1.0 + 0.01 * columns, model.data.shape).copy()
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    assert finding.measured["background_level"][0] == pytest.approx(1.30)


def test_colour_temperature_leaves_out_zero_flux():
    """A point of zero flux in the range (no signal: its logarithm is -inf) is left out."""
    wave = np.linspace(5.5, 10.0, 12)
    flux = wave ** -1.5
    flux[4] = 0.0
    assert diagnosis.colour_temperature(wave, flux)[0] == pytest.approx(-1.5, abs=1e-9)


def test_err_vs_scatter_without_a_usable_factor_fails_by_name(monkeypatch):
    finding = _err_vs_scatter_on(monkeypatch, _factor(np.nan, 0.01))
    assert finding.severity == "failed" and finding.check == "err_vs_scatter"
    assert finding.message == ("no wavelength in 5-12 um has a usable factor (all NaN, flagged or without a "
                               "positive FLUX_ERROR).")


def test_err_vs_scatter_names_how_many_integrations_it_used(monkeypatch):
    """A segment longer than ERR_MAX_SPECTRA integrations is measured on its first 2048; the
    count of the whole segment is in the measured numbers (none when all were used)."""
    total = diagnosis.ERR_MAX_SPECTRA + 52
    finding = _err_vs_scatter_on(monkeypatch, _factor(1.0, 0.01), nspectra=total)
    assert finding.measured["integrations_used"] == (diagnosis.ERR_MAX_SPECTRA, f"the first, of {total}")
    assert "integrations_used" not in _err_vs_scatter_on(monkeypatch, _factor(1.0, 0.01)).measured


def test_err_vs_scatter_too_alike_says_why(monkeypatch):
    """Spectra that scatter half what FLUX_ERROR says: a warning that names the likely cause."""
    finding = _err_vs_scatter_on(monkeypatch, _factor(0.5, 0.01))
    assert finding.severity == "warning"
    assert finding.message == ("the 50 spectra scatter only 0.50 times what FLUX_ERROR says (5-12 um): spectra "
                               "this alike are usually not independent (copies, smoothing, correlated "
                               "extraction). Check that before shrinking the errors (errors.correct_x1d "
                               "refuses unless allow_shrink=True).")


def test_scattered_light_and_sky_messages_give_the_share_in_percent(monkeypatch):
    """The warnings print the measured share as a percentage of the flux: 10 % reads 10.0 %
    (a 101 x scale would print 10.1 %)."""
    finding = diagnosis.check_scattered_light(_nod_s2d(0.10))
    assert f"is {100 * finding.measured['scattered_share'][0]:+.1f}% " in finding.message
    assert "is +10.0% " in finding.message
    signal = 1200.0
    model = _slitless_cube(signal)
    sky = _sky(0.10, 50.0, signal, model.data.shape)
    monkeypatch.setattr(background, "edge_background", lambda sci, dq: sky)
    finding = diagnosis.check_slitless_background(model)
    assert finding.measured["background_fraction"][0] == pytest.approx(0.10, abs=5e-4)
    assert finding.message.startswith("unsubtracted sky: 10.0% of the signal in the extraction aperture")


def test_usable_sums_groupdq_saturation_over_every_chunk():
    """GROUPDQ saturation in the first group, read one integration at a time: the counts of
    every chunk add up (40 % in each of 3 integrations is 40 %, not 13 %)."""
    from lrs_helpers import io

    ramps = np.full((3, 3, 10, 10), 100, np.uint16)
    groupdq = np.zeros(ramps.shape, np.uint8)
    groupdq[:, 0, :4] = instrument.DQ["SATURATED"]
    chunks = io.IntegrationChunks.in_memory(ramps, chunk_bytes=ramps[0].nbytes, groupdq=groupdq)
    assert len(chunks.slices()) == 3
    finding = diagnosis.check_usable(_ramp_model(ramps, groupdq), "uncal", "slit", chunks=chunks)
    assert finding.measured["saturated_first_group"][0] == pytest.approx(0.4)
