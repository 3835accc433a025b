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

from lrs_helpers import background, diagnosis, errors, foldover, instrument, jumps, pathloss, pointing

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
    monkeypatch.setattr(errors, "measure_factor", lambda *args, **kw: result)
    spectra = SimpleNamespace(flux=np.ones((50, 3)), wavelength=np.ones(3), flux_error=np.ones((50, 3)),
                              dq=np.zeros((50, 3), int))
    monkeypatch.setattr(errors, "read_spectra", lambda product: spectra)
    finding = diagnosis.check_err_vs_scatter(None)
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
    assert finding.measured["median_ratio"][0] == median
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
    assert finding.measured["unit"][0] == "MJy/sr"
    assert finding.severity == expected


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
    assert finding.measured["unit"][0] == "Jy" and "5-12 um" in finding.measured["usable_fraction"][1]
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
    assert finding.severity == "failed" and "no usable edge pixel in the 5-12 um rows" in finding.message


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
    assert finding.measured["block_spread"][1] == ""
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


def test_emi_plot_honours_the_pixel_dq(monkeypatch):
    """The phase-folded ramps of the plot leave out the pixels the product flags (PIXELDQ)."""
    from lrs_helpers import emi

    model = _emi_model(monkeypatch, 0.6, [0.01] * 4)
    pixeldq = np.zeros((416, 72), np.uint32)
    pixeldq[:, :4] = instrument.DQ["DO_NOT_USE"]
    model.pixeldq = pixeldq
    model.instance["pixeldq"] = pixeldq
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
