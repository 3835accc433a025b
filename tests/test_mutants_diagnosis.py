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

from lrs_helpers import background, diagnosis, errors, instrument, pathloss, pointing

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
