"""lrs_helpers.foldover against truths that do not share its formulas.

The folded-to-direct ratio is a Jacobian formula; here the photons of both branches are binned
into detector rows on a fine wavelength grid (a photon count, not a derivative), the leak is
integrated branch by branch, the photon spectrum is astropy's Planck function, the geometry is
solved with a root finder, and the fitters get exact synthetic tables. Each fold-over
assumption is moved to both ends of its stated range. Tolerances are stated beside the effect
each one guards.
"""

import numpy as np
import pytest
from astropy import units as u
from astropy.modeling.physical_models import BlackBody
from scipy.optimize import brentq

from lrs_helpers import foldover, instrument

#: the assumptions at both ends of their documented ranges, plus the central case
ASSUMPTIONS = [
    {},
    {"folded_throughput": foldover.FOLDED_THROUGHPUT_RANGE[0]},
    {"folded_throughput": foldover.FOLDED_THROUGHPUT_RANGE[1]},
    {"shortest_detected_um": foldover.SHORTEST_DETECTED_RANGE_UM[0]},
    {"shortest_detected_um": foldover.SHORTEST_DETECTED_RANGE_UM[1]},
    {"turnaround_offset_sigma": -1},
    {"turnaround_offset_sigma": 1},
]


def _coefficients(mode, sigma=0):
    return (instrument.PRISM_DISPERSION[mode] if sigma == 0
            else instrument.PRISM_DISPERSION_SIGMA[mode][(sigma + 1) // 2])


def _row(wavelength, coefficients):
    a, b, c, d = coefficients
    return a + b * wavelength ** 2 + c / wavelength ** 2 + d * wavelength ** 4


def _photons(wavelength, source):
    """Photon rate per unit wavelength from astropy's Planck function, or a power law in F_nu."""
    if "source_temperature_k" in source:
        bb = BlackBody(temperature=source["source_temperature_k"] * u.K)
        f_nu = bb(wavelength * u.um).value  # per unit frequency
        # photons per unit wavelength ~ F_lambda * lambda ~ F_nu / lambda
        return f_nu / wavelength
    index = source.get("spectral_index", foldover.STANDARD_STAR_INDEX)
    return wavelength ** (index - 1.0)


def _turnaround(sigma):
    return instrument.PRISM_TURNAROUND_UM + sigma * instrument.PRISM_TURNAROUND_SIGMA_UM


def test_documented_assumptions():
    """The model's parameters the notebooks and the page's 5.2 um limit rest on (a changed
    constant is a changed claim: the issue's throughput x1.3 passed every twin test)."""
    assert foldover.FOLDED_THROUGHPUT == 0.05 and foldover.FOLDED_THROUGHPUT_RANGE == (0.025, 0.10)
    assert foldover.SHORTEST_DETECTED_UM == 2.6 and foldover.SHORTEST_DETECTED_RANGE_UM == (2.4, 2.8)
    assert foldover.BLOCKING_FILTER_UM == {"slit": 4.5, "slitless": None}
    assert foldover.NOMINAL_RANGE_UM == (5.0, 14.0) and foldover.SLITLESS_POINTING_PX == 2.0
    assert (foldover.SNR_REFERENCE_UM, foldover.SNR_FLOOR) == (7.5, 3.0)


@pytest.mark.parametrize("sigma", [-1, 0, 1])
def test_the_turnaround_of_each_geometry(sigma):
    """The +-1 sigma geometries turn around at 3.60 / 3.94 um, the central one at 3.77 um."""
    for mode in ("slit", "slitless"):
        turn = foldover.dispersion_turnaround_um(_coefficients(mode, sigma))
        assert turn == pytest.approx(_turnaround(sigma), abs=2e-3)


# ---------------------------------------------------------------- photon counting per row

def _binned_ratio(wavelength, mode, source, folded_throughput=foldover.FOLDED_THROUGHPUT,
                  shortest_detected_um=foldover.SHORTEST_DETECTED_UM, turnaround_offset_sigma=0,
                  half_row=0.02):
    """Folded / direct photons landing within +-half_row of the row of ``wavelength``: both
    branches sampled on a 1e-6 um grid and counted into the row (no derivative used)."""
    coefficients = _coefficients(mode, turnaround_offset_sigma)
    turn = _turnaround(turnaround_offset_sigma)
    target = _row(wavelength, coefficients)
    step = 1e-6
    red = np.arange(turn, wavelength + 0.05, step)
    red = red[np.abs(_row(red, coefficients) - target) <= half_row]
    blue = np.arange(shortest_detected_um, turn, step)
    blue = blue[np.abs(_row(blue, coefficients) - target) <= half_row]
    cut_on = foldover.BLOCKING_FILTER_UM[mode]
    if cut_on is not None:
        blue = blue[blue >= cut_on]
    efficiency = folded_throughput * (blue - shortest_detected_um) / (turn - shortest_detected_um)
    return np.sum(efficiency * _photons(blue, source)) / np.sum(_photons(red, source))


@pytest.mark.parametrize("assumption", ASSUMPTIONS, ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()) or "central")
@pytest.mark.parametrize("source", [{}, {"source_temperature_k": 300.0}, {"spectral_index": 1.0}],
                         ids=["standard", "300K", "index+1"])
def test_folded_to_direct_ratio_counts_the_photons_of_each_row(assumption, source):
    """On rows at 4.8, 5.1 and 5.3 um (slitless) folded photons per direct photon span 3e-6 (300 K,
    5.3 um) to a few per cent; a throughput x1.3, a taper or a Jacobian wrong changes them by 30 %
    or more. The photon count agrees within 2 % (the row bin's +-0.02 px and the 1e-6 um grid;
    the branches' curvature within the bin moves the count by < 0.5 %)."""
    wavelength = np.array([4.8, 5.1, 5.3])
    shortest = assumption.get("shortest_detected_um", foldover.SHORTEST_DETECTED_UM)
    sigma = assumption.get("turnaround_offset_sigma", 0)
    edge = foldover.fold_edge_um("slitless", shortest_detected_um=shortest, turnaround_offset_sigma=sigma)
    wavelength = wavelength[wavelength < edge - 0.05]  # rows that still receive folded light
    ratio = foldover.folded_to_direct_ratio(wavelength, "slitless", **source, **assumption)
    counted = [_binned_ratio(lam, "slitless", source, **assumption) for lam in wavelength]
    np.testing.assert_allclose(ratio, counted, rtol=0.02)
    assert np.all(ratio > 0)


def test_ratio_is_zero_beyond_the_fold_edge_and_in_the_slit():
    edge = foldover.fold_edge_um("slitless")
    ratio = foldover.folded_to_direct_ratio([edge - 0.02, edge + 0.02, 7.0, np.nan], "slitless")
    assert ratio[0] > 0 and ratio[1] == 0.0 and ratio[2] == 0.0 and np.isnan(ratio[3])
    # in the slit the 4.5 um blocking filter stops every partner (all bluer than the turnaround)
    slit = foldover.folded_to_direct_ratio(np.linspace(4.0, 6.0, 21), "slit", source_temperature_k=300)
    assert np.all(slit == 0.0)


def test_folded_throughput_scales_the_ratio_and_is_checked():
    """The ratio is linear in the throughput (the x1.3 of the issue scales it by 1.3)."""
    wavelength = np.array([4.6, 5.0, 5.3])
    central = foldover.folded_to_direct_ratio(wavelength, "slitless")
    for factor in (0.5, 1.3, 2.0):
        scaled = foldover.folded_to_direct_ratio(wavelength, "slitless",
                                                 folded_throughput=factor * foldover.FOLDED_THROUGHPUT)
        np.testing.assert_allclose(scaled, factor * central, rtol=1e-12)
    assert np.all(foldover.folded_to_direct_ratio(wavelength, "slitless", folded_throughput=0.0) == 0.0)
    assert np.all(foldover.folded_to_direct_ratio(wavelength, "slitless", folded_throughput=1.0) > 0)
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match="folded_throughput must be between 0 and 1"):
            foldover.folded_to_direct_ratio(wavelength, "slitless", folded_throughput=bad)


def test_folded_fraction_is_r_over_1_plus_r():
    wavelength = np.array([4.5, 5.0, 5.3, 6.0])
    ratio = foldover.folded_to_direct_ratio(wavelength, "slitless", source_temperature_k=800)
    fraction = foldover.folded_fraction(wavelength, "slitless", source_temperature_k=800)
    np.testing.assert_allclose(fraction, ratio / (1 + ratio), rtol=1e-12)


# ---------------------------------------------------------------- geometry

@pytest.mark.parametrize("mode", ["slit", "slitless"])
@pytest.mark.parametrize("sigma", [-1, 0, 1])
def test_fold_partner_lands_on_the_same_row(mode, sigma):
    """Y(partner) = Y(lambda) with the partner bluer than the turnaround (a root finder on the
    blue branch); the interpolation grid of 4001 points holds it to 1e-3 um."""
    coefficients = _coefficients(mode, sigma)
    turn = _turnaround(sigma)
    wavelength = np.array([4.2, 4.8, 5.2, 5.6])
    partner = foldover.fold_partner_um(wavelength, mode, turnaround_offset_sigma=sigma)
    for lam, found in zip(wavelength, partner):
        expected = brentq(lambda x: _row(x, coefficients) - _row(lam, coefficients), 1.5, turn)
        assert found == pytest.approx(expected, abs=1e-3)
        assert found < turn


def test_fold_partner_is_nan_off_the_main_branch_and_takes_quantities():
    turn = foldover.dispersion_turnaround_um(instrument.PRISM_DISPERSION["slitless"])
    partner = foldover.fold_partner_um([turn - 0.1, turn, np.nan, 13.5, 5.0], "slitless")
    assert np.all(np.isnan(partner[:3])) and np.isfinite(partner[4])
    # 13.5 um's row would need blue light from below 1.5 um: no partner
    assert np.isnan(partner[3])
    in_nm = foldover.fold_partner_um(5000.0 * u.nm, "slitless")
    assert in_nm == pytest.approx(partner[4], rel=1e-12)


@pytest.mark.parametrize("shortest", [2.4, 2.6, 2.8])
@pytest.mark.parametrize("sigma", [-1, 0, 1])
def test_fold_edge_shares_its_row_with_the_shortest_detected_light(shortest, sigma):
    coefficients = _coefficients("slitless", sigma)
    edge = foldover.fold_edge_um("slitless", shortest_detected_um=shortest, turnaround_offset_sigma=sigma)
    expected = brentq(lambda x: _row(x, coefficients) - _row(shortest, coefficients), _turnaround(sigma), 20.0)
    assert edge == pytest.approx(expected, abs=2e-3)


def test_fold_edge_default_and_quantity():
    assert foldover.fold_edge_um("slitless") == foldover.fold_edge_um("slitless", shortest_detected_um=2.6)
    assert foldover.fold_edge_um("slitless", shortest_detected_um=2600 * u.nm) == pytest.approx(
        foldover.fold_edge_um("slitless"), rel=1e-12)
    with pytest.raises(ValueError, match="between 0 and the turnaround"):
        foldover.fold_edge_um("slitless", shortest_detected_um=0.0)


def test_turnaround_offset_must_be_minus_one_zero_or_one():
    for bad in (0.5, -2, 2):
        with pytest.raises(ValueError, match="must be -1, 0 or 1"):
            foldover.fold_edge_um("slit", turnaround_offset_sigma=bad)
    assert foldover.fold_edge_um("slit", turnaround_offset_sigma=1.0) == foldover.fold_edge_um(
        "slit", turnaround_offset_sigma=1)


def test_foldover_mask_edge_is_inclusive():
    edge = foldover.fold_edge_um("slitless")
    mask = foldover.foldover_mask(np.array([edge - 1e-9, edge, edge + 1e-9, 3.0, np.nan]), "slitless")
    np.testing.assert_array_equal(mask, [True, True, False, True, False])
    assert foldover.foldover_mask(edge * 1000 * u.nm, "slitless")


@pytest.mark.parametrize("name, expected", [("slit", "slit"), ("FixedSlit", "slit"),
                                            (" MIR_LRS-FIXEDSLIT ", "slit"), ("slitless", "slitless"),
                                            ("MIR_LRS-SLITLESS", "slitless")])
def test_normalise_mode_names(name, expected):
    assert foldover.normalise_mode(name) == expected


# ---------------------------------------------------------------- the fitters on exact tables

def test_fit_dispersion_recovers_a_known_curve():
    """An exact table from known coefficients: the free fit returns them and their turnaround;
    the rows bluer than min_wavelength_um are left out (here corrupted by 5 px)."""
    truth = instrument.PRISM_DISPERSION["slitless"]
    wavelength = np.linspace(4.0, 14.0, 101)  # 4.5 um is a grid point: kept (>=)
    rows = _row(wavelength, truth)
    rows[wavelength < 4.5] += 5.0
    fit = foldover.fit_dispersion(wavelength, rows)
    np.testing.assert_allclose(fit["coefficients"], truth, rtol=1e-6, atol=1e-9)
    assert fit["n_rows"] == int(np.sum(wavelength >= 4.5 - 1e-12)) == 96
    assert fit["turnaround_um"] == pytest.approx(instrument.PRISM_TURNAROUND_UM, abs=2e-3)
    assert fit["row_offset_px"] == pytest.approx(_row(fit["turnaround_um"], truth), abs=1e-6)
    assert fit["rms_px"] < 1e-8 and fit["max_px"] < 1e-8
    # the same table in nm, and NaN rows ignored
    rows[-3] = np.nan
    in_nm = foldover.fit_dispersion(wavelength * 1000 * u.nm, rows)
    np.testing.assert_allclose(in_nm["coefficients"], truth, rtol=1e-6, atol=1e-9)
    assert in_nm["n_rows"] == 95


def test_fit_dispersion_with_an_imposed_turnaround():
    """With the turnaround imposed the slope vanishes there and an exact table whose curve turns
    there is recovered; a residual of 0.3 px is reported as rms and max."""
    truth = instrument.PRISM_DISPERSION_SIGMA["slit"][1]  # turns at 3.94 um
    wavelength = np.linspace(4.5, 14.0, 60)
    rows = _row(wavelength, truth)
    fit = foldover.fit_dispersion(wavelength, rows, turnaround_um=3.94 * u.um)
    np.testing.assert_allclose(fit["coefficients"], truth, rtol=1e-4, atol=1e-7)
    assert foldover.dispersion_slope(3.94, fit["coefficients"]) == pytest.approx(0.0, abs=1e-9)
    bumped = rows.copy()
    bumped[10] += 0.3
    fit = foldover.fit_dispersion(wavelength, bumped, turnaround_um=3.94)
    # the fit takes up 4 % of the bump: rms just under 0.3 / sqrt(60), max just under 0.3 px
    assert 0.9 * 0.3 / np.sqrt(60) < fit["rms_px"] <= 0.3 / np.sqrt(60)
    assert 0.27 < fit["max_px"] < 0.3
    assert foldover.dispersion_slope(3.94, fit["coefficients"]) == pytest.approx(0.0, abs=1e-9)


def test_fit_dispersion_needs_eight_rows():
    wavelength = np.linspace(4.6, 6.0, 8)
    foldover.fit_dispersion(wavelength, _row(wavelength, instrument.PRISM_DISPERSION["slit"]))
    with pytest.raises(ValueError, match="found 7"):
        foldover.fit_dispersion(wavelength[1:], _row(wavelength[1:], instrument.PRISM_DISPERSION["slit"]))
    with pytest.raises(ValueError, match="1-D and of equal length"):
        foldover.fit_dispersion(wavelength, wavelength[:-1])


def test_dispersion_row_and_slope_are_the_curve_and_its_derivative():
    coefficients = (10.0, -2.0, -300.0, -0.003)
    wavelength = np.array([4.0, 6.5, 11.0])
    np.testing.assert_allclose(foldover.dispersion_row(wavelength, coefficients), _row(wavelength, coefficients))
    step = 1e-6
    numeric = (_row(wavelength + step, coefficients) - _row(wavelength - step, coefficients)) / (2 * step)
    np.testing.assert_allclose(foldover.dispersion_slope(wavelength, coefficients), numeric, rtol=1e-6)
    np.testing.assert_allclose(foldover.dispersion_slope(wavelength * 1000 * u.nm, coefficients), numeric,
                               rtol=1e-6)


def test_dispersion_turnaround_takes_the_extremum_between_2_and_6_um():
    """c = b t**4 + 2 d t**6 makes t an extremum (fit_dispersion's constraint)."""
    for turn in (2.2, 3.77, 5.8):
        b, d = -1.8, -0.002
        coefficients = (0.0, b, b * turn ** 4 + 2 * d * turn ** 6, d)
        assert foldover.dispersion_turnaround_um(coefficients) == pytest.approx(turn, rel=1e-9)
    for turn in (1.9, 6.1):
        b, d = -1.8, -0.002
        with pytest.raises(ValueError, match="no turnaround between 2 and 6 um"):
            foldover.dispersion_turnaround_um((0.0, b, b * turn ** 4 + 2 * d * turn ** 6, d))


def test_fit_turnaround_finds_a_parabolas_vertex():
    """A parabola y = 12 - 3 (l - 3.4)**2 on the rows bluer than 5 um (redder rows off it)."""
    wavelength = np.linspace(3.0, 6.0, 31)
    rows = 12.0 - 3.0 * (wavelength - 3.4) ** 2
    rows[wavelength >= 5.0 - 1e-12] += 4.0  # 5.0 um itself is left out (<)
    fit = foldover.fit_turnaround(wavelength, rows)
    assert fit["wavelength_um"] == pytest.approx(3.4, abs=1e-9)
    assert fit["row_offset_px"] == pytest.approx(12.0, abs=1e-9)
    assert fit["curvature_px_per_um2"] == pytest.approx(3.0, abs=1e-9)
    narrow = foldover.fit_turnaround(wavelength, rows, max_wavelength_um=4.0)
    assert narrow["wavelength_um"] == pytest.approx(3.4, abs=1e-9)
    with pytest.raises(ValueError, match="found 3"):
        foldover.fit_turnaround(wavelength, rows, max_wavelength_um=3.25)
    foldover.fit_turnaround(wavelength, rows, max_wavelength_um=3.35)  # 4 rows: fitted
    with pytest.raises(ValueError, match="do not turn back"):
        foldover.fit_turnaround(wavelength, -rows)


def test_combine_turnarounds_mean_and_sample_spread():
    """The three tables' 3.589 / 3.793 / 3.918 um: 3.767 +- 0.166 um (n - 1 in the spread;
    with n it would be 0.136)."""
    mean, spread = foldover.combine_turnarounds(list(instrument.PRISM_TURNAROUND_BY_TABLE_UM.values()))
    assert mean == pytest.approx(3.7667, abs=1e-4) and spread == pytest.approx(0.1661, abs=1e-4)
    mean_nm, spread_nm = foldover.combine_turnarounds([3589.0, 3793.0, 3918.0] * u.nm)
    assert (mean_nm, spread_nm) == pytest.approx((mean, spread), rel=1e-12)
    with pytest.raises(ValueError, match="at least two finite"):
        foldover.combine_turnarounds([3.6, np.nan])
    with pytest.raises(ValueError, match="at least two finite"):
        foldover.combine_turnarounds([[3.6, 3.8]])


# ---------------------------------------------------------------- source shape

@pytest.mark.parametrize("temperature", [150.0, 1000.0, 6000.0])
def test_photon_spectrum_shape_is_planck(temperature):
    """Photon rate per unit wavelength of a blackbody, against astropy's BlackBody (shape only;
    1e-5: hc/k to 7 digits moves a 150 K Wien tail by 2e-6, a wrong power of lambda by 50 %)."""
    wavelength = np.array([2.5, 3.5, 5.0, 8.0, 12.0])
    ours = foldover.photon_spectrum(wavelength, source_temperature_k=temperature)
    theirs = _photons(wavelength, {"source_temperature_k": temperature})
    np.testing.assert_allclose(ours / ours[2], theirs / theirs[2], rtol=1e-5)
    in_celsius = foldover.photon_spectrum(wavelength * u.um, source_temperature_k=(temperature - 273.15) * u.deg_C)
    np.testing.assert_allclose(in_celsius, ours, rtol=1e-9)


def test_photon_spectrum_power_law_and_default():
    wavelength = np.array([3.0, 5.0, 9.0])
    np.testing.assert_allclose(foldover.photon_spectrum(wavelength, spectral_index=-2.0), wavelength ** -3.0)
    np.testing.assert_allclose(foldover.photon_spectrum(wavelength), wavelength ** (foldover.STANDARD_STAR_INDEX - 1))
    with pytest.raises(ValueError, match="finite number"):
        foldover.photon_spectrum(wavelength, spectral_index=np.nan)
    with pytest.raises(ValueError, match="positive number of kelvin"):
        foldover.photon_spectrum(wavelength, source_temperature_k=0.0)
    with pytest.raises(ValueError, match="positive number of kelvin"):
        foldover.photon_spectrum(wavelength, source_temperature_k=np.nan)


# ---------------------------------------------------------------- leak and calibration

@pytest.mark.parametrize("source", [{}, {"source_temperature_k": 300.0}, {"source_temperature_k": 3000.0}],
                         ids=["standard", "300K", "3000K"])
@pytest.mark.parametrize("folded_throughput", [0.025, 0.05, 0.10])
def test_leak_fraction_integrates_each_branch(source, folded_throughput):
    """The folded light on the rows of 5-7 um comes from the blue branch between the cut-off and
    5.0 um's partner: both branches integrated on their own (trapezoid, 2e5 points). 1e-6 (300 K)
    to 1 % of the signal; agreement within 1 % of it (the helper's 0.001 um grid)."""
    turn = instrument.PRISM_TURNAROUND_UM
    shortest = foldover.SHORTEST_DETECTED_UM
    partner = float(foldover.fold_partner_um(5.0, "slitless"))
    blue = np.linspace(shortest, partner, 200001)
    red = np.linspace(5.0, 7.0, 200001)
    folded = np.trapezoid(folded_throughput * (blue - shortest) / (turn - shortest) * _photons(blue, source), blue)
    direct = np.trapezoid(_photons(red, source), red)
    leak = foldover.leak_fraction("slitless", folded_throughput=folded_throughput, **source)
    assert leak == pytest.approx(folded / (folded + direct), rel=0.01)
    assert 1e-7 < leak < 0.03
    assert foldover.leak_fraction("slit", folded_throughput=folded_throughput, **source) == 0.0


def test_leak_fraction_range_is_honoured():
    """Beyond the fold edge (5.44 um) no row carries folded light; a range reaching below 5 um
    takes in more of it."""
    assert foldover.leak_fraction("slitless", wavelength_range_um=(6.0, 8.0)) == 0.0
    assert (foldover.leak_fraction("slitless", wavelength_range_um=(4.8, 7.0))
            > foldover.leak_fraction("slitless") > foldover.leak_fraction("slitless", wavelength_range_um=(5.0, 9.0)))
    for bad in ((0.0, 7.0), (5.0, np.inf), (5.0, 5.0)):
        with pytest.raises(ValueError, match="0 < low < high"):
            foldover.leak_fraction("slitless", wavelength_range_um=bad)


@pytest.mark.parametrize("assumption", ASSUMPTIONS, ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()) or "central")
def test_calibration_error_is_the_ratio_of_source_to_standard(assumption):
    """(1 + r_source) / (1 + r_standard) - 1 with r from the photon count per row; a 300 K
    source loses 1-6 % at 4.8-5.1 um, the standards' own shape nothing."""
    wavelength = np.array([4.8, 5.1])
    shortest = assumption.get("shortest_detected_um", foldover.SHORTEST_DETECTED_UM)
    sigma = assumption.get("turnaround_offset_sigma", 0)
    edge = foldover.fold_edge_um("slitless", shortest_detected_um=shortest, turnaround_offset_sigma=sigma)
    wavelength = wavelength[wavelength < edge - 0.05]
    error = foldover.calibration_error(wavelength, "slitless", source_temperature_k=300.0, **assumption)
    expected = [(1 + _binned_ratio(lam, "slitless", {"source_temperature_k": 300.0}, **assumption))
                / (1 + _binned_ratio(lam, "slitless", {}, **assumption)) - 1 for lam in wavelength]
    # 2 % of each ratio: < 0.1 % of flux, against errors of 1-6 %
    np.testing.assert_allclose(error, expected, atol=1e-3)
    assert np.all(error < -0.005)
    standard = foldover.calibration_error(wavelength, "slitless", spectral_index=foldover.STANDARD_STAR_INDEX,
                                          **assumption)
    np.testing.assert_allclose(standard, 0.0, atol=1e-15)


@pytest.mark.parametrize("offset", [-2.0, -1.0, 1.0, 2.0])
def test_calibration_error_of_a_misplaced_source(offset):
    """A source ``offset`` rows off puts on a row the light (and folded light) of the wavelength
    whose row is that far away: Y(lambda_on) = Y(lambda) - offset (a root finder). 0.2-1.1 %
    at 5.0-5.3 um; the sign of the offset flips which neighbour counts."""
    coefficients = instrument.PRISM_DISPERSION["slitless"]
    wavelength = np.array([5.0, 5.15, 5.3])
    error = foldover.calibration_error(wavelength, "slitless", pointing_offset_px=offset)
    on_row = [brentq(lambda x: _row(x, coefficients) - (_row(lam, coefficients) - offset), 3.9, 8.0)
              for lam in wavelength]
    ratio = foldover.folded_to_direct_ratio
    expected = (1 + ratio(np.array(on_row), "slitless")) / (1 + ratio(wavelength, "slitless")) - 1
    np.testing.assert_allclose(error, expected, rtol=1e-3, atol=1e-6)
    assert np.all(np.abs(error) > 0.001)
    # NaN wavelengths stay NaN
    assert np.isnan(foldover.calibration_error(np.array([np.nan]), "slitless", pointing_offset_px=offset)[0])


# ---------------------------------------------------------------- limits

def test_signal_to_noise_follows_the_limiting_flux():
    """S/N scales as F_nu over the ETC limit, interpolated in log: at a grid point the ratio of
    the table's values, half-way between two the geometric mean of theirs."""
    grid, limit = foldover._LIMIT_GRID_UM, foldover.LIMITING_FLUX_MJY["slitless"]
    wavelength = np.array([7.5, 12.0, 12.25])
    curve = foldover.signal_to_noise_curve(wavelength, "MIR_LRS-SLITLESS", 50.0, spectral_index=-2.0)
    at = dict(zip(np.round(grid, 2), limit))
    expected_12 = 50.0 * (12.0 / 7.5) ** -2 * at[7.5] / at[12.0]
    expected_1225 = 50.0 * (12.25 / 7.5) ** -2 * at[7.5] / np.sqrt(at[12.0] * at[12.5])
    np.testing.assert_allclose(curve, [50.0, expected_12, expected_1225], rtol=1e-9)
    for bad in (0.0, -3.0, np.nan):
        with pytest.raises(ValueError, match="snr must be a positive number"):
            foldover.signal_to_noise_curve(wavelength, "slit", bad)


@pytest.mark.parametrize("snr", [5.0, 30.0, 100.0])
def test_red_limit_is_the_last_wavelength_at_the_floor(snr):
    blue, red = foldover.usable_range("slit", snr=snr, source_temperature_k=2000)
    curve = foldover.signal_to_noise_curve(np.array([red, red + 0.01]), "slit", snr, source_temperature_k=2000)
    assert curve[0] >= foldover.SNR_FLOOR > curve[1]
    # just above the floor at 7.5 um: usable; just below it: refused
    foldover.usable_range("slit", snr=foldover.SNR_FLOOR * 1.01)
    with pytest.raises(ValueError, match="below the usable floor"):
        foldover.usable_range("slit", snr=foldover.SNR_FLOOR * 0.99)


@pytest.mark.parametrize("tolerance", [0.005, 0.01, 0.02, 0.05])
@pytest.mark.parametrize("temperature", [150.0, 600.0])
def test_blue_limit_is_where_the_error_falls_within_tolerance(tolerance, temperature):
    """From the blue limit on the fold-over error stays within the tolerance; 0.01 um bluer it
    does not (unless the limit is the nominal 5.0 um)."""
    blue, _ = foldover.usable_range("slitless", source_temperature_k=temperature, tolerance=tolerance)
    grid = np.arange(blue, 8.0, 0.01)
    error = foldover.calibration_error(grid, "slitless", source_temperature_k=temperature)
    assert np.all(np.abs(error) <= tolerance + 1e-12)
    if blue > 5.0:
        before = foldover.calibration_error(np.array([blue - 0.01]), "slitless", source_temperature_k=temperature)
        assert abs(before[0]) > tolerance
    with pytest.raises(ValueError, match="tolerance must be a fraction"):
        foldover.usable_range("slitless", tolerance=1.0)


@pytest.mark.parametrize("mode, source", [("slitless", {"source_temperature_k": 1000}),
                                          ("slitless", {"source_temperature_k": 200}),
                                          ("slit", {"source_temperature_k": 200}),
                                          ("slitless", {"spectral_index": 1.0})])
def test_blue_limit_range_moves_one_assumption_at_a_time(mode, source):
    """Each shift is the blue limit with that assumption at one end minus the central one; the
    range adds the shifts towards the red and towards the blue in quadrature, never below 5.0
    um (the rounding of each figure to 0.01 um allows 0.02 um)."""
    result = foldover.blue_limit(mode, tolerance=0.01, **source)
    central = foldover.usable_range(mode, tolerance=0.01, **source)[0]
    assert result["blue_um"] == central
    ends = {"turnaround": [{"turnaround_offset_sigma": s} for s in (-1, 1)],
            "folded_throughput": [{"folded_throughput": v} for v in foldover.FOLDED_THROUGHPUT_RANGE],
            "shortest_detected": [{"shortest_detected_um": v} for v in foldover.SHORTEST_DETECTED_RANGE_UM]}
    if mode == "slitless":
        ends["pointing"] = [{"pointing_offset_px": p} for p in (-foldover.SLITLESS_POINTING_PX,
                                                                 foldover.SLITLESS_POINTING_PX)]
    assert set(result["shifts_um"]) == set(ends)
    shifts = []
    for name, pair in ends.items():
        expected = tuple(foldover.usable_range(mode, tolerance=0.01, **source, **end)[0] - central for end in pair)
        assert result["shifts_um"][name] == pytest.approx(expected, abs=0.011)
        shifts.extend(expected)
    shifts = np.array(shifts)
    high = central + np.sqrt(np.sum(np.clip(shifts, 0, None) ** 2))
    low = max(central - np.sqrt(np.sum(np.clip(shifts, None, 0) ** 2)), 5.0)
    assert result["high_um"] == pytest.approx(high, abs=0.02)
    assert result["low_um"] == pytest.approx(low, abs=0.02) and result["low_um"] >= 5.0


def test_a_red_sources_blue_limit_range_is_wide():
    """200 K, 1 %: the assumptions move the slitless blue limit by tenths of a micron either way."""
    result = foldover.blue_limit("slitless", source_temperature_k=200, tolerance=0.01)
    assert result["high_um"] - result["blue_um"] > 0.2
    assert result["blue_um"] - result["low_um"] > 0.1
    assert result["shifts_um"]["folded_throughput"][0] < 0 < result["shifts_um"]["folded_throughput"][1]


# ---------------------------------------------------------------- units, edges and warnings

_TURN = (0.0, -1.8, -1.8 * 3.77 ** 4 + 2 * -0.002 * 3.77 ** 6, -0.002)
UNIT_CALLS = [
    ("wavelength_um", lambda v: foldover.calibration_error(v, "slitless", source_temperature_k=400)),
    ("wavelength_um", lambda v: foldover.dispersion_row(v, instrument.PRISM_DISPERSION["slit"])),
    ("wavelength_um", lambda v: foldover.dispersion_slope(v, instrument.PRISM_DISPERSION["slit"])),
    ("wavelength_um", lambda v: foldover.fold_partner_um(v, "slitless")),
    ("wavelength_um", lambda v: foldover.folded_to_direct_ratio(v, "slitless", source_temperature_k=400)),
    ("wavelength_um", lambda v: foldover.photon_spectrum(v, source_temperature_k=400)),
    ("wavelength_um", lambda v: foldover.signal_to_noise_curve(v, "slit", 30.0)),
    ("wavelength_map", lambda v: foldover.foldover_mask(v, "slitless")),
]


@pytest.mark.parametrize("name, call", UNIT_CALLS, ids=[f"{i}-{name}" for i, (name, _) in enumerate(UNIT_CALLS)])
def test_wavelengths_in_any_unit_and_wrong_units_named(name, call):
    """A wavelength Quantity in nm gives what the same value in um gives; a temperature in its
    place raises one error that names the parameter."""
    wavelength = np.array([4.9, 5.2, 7.0])
    np.testing.assert_allclose(call(wavelength * 1000 * u.nm), call(wavelength), rtol=1e-12)
    with pytest.raises(u.UnitConversionError, match=f"^{name} is in K"):
        call(wavelength * u.K)


@pytest.mark.parametrize("name, call", [
    ("turnarounds_um", lambda v: foldover.combine_turnarounds(v * np.array([1.0, 1.05, 0.95]))),
    ("shortest_detected_um", lambda v: foldover.fold_edge_um("slitless", shortest_detected_um=v)),
    ("shortest_detected_um", lambda v: foldover.folded_to_direct_ratio([4.9, 5.2], "slitless", shortest_detected_um=v)),
])
def test_other_lengths_in_any_unit_and_wrong_units_named(name, call):
    value = 2.6
    np.testing.assert_allclose(call(value * 1000 * u.nm), call(value), rtol=1e-9)
    with pytest.raises(u.UnitConversionError, match=f"^{name} is in K"):
        call(value * u.K)


def test_fit_dispersion_in_any_unit_and_wrong_units_named():
    wavelength = np.linspace(4.5, 14, 20)
    rows = foldover.dispersion_row(wavelength, _TURN)
    for turnaround in (None, 3.77):
        in_um = foldover.fit_dispersion(wavelength, rows, turnaround_um=turnaround)["coefficients"]
        in_nm = foldover.fit_dispersion(wavelength * 1000 * u.nm, rows, turnaround_um=None if turnaround is None
                                        else turnaround * 1000 * u.nm)["coefficients"]
        np.testing.assert_allclose(in_nm, in_um, rtol=1e-9, atol=1e-9)
    with pytest.raises(u.UnitConversionError, match="^wavelength_um is in K"):
        foldover.fit_dispersion(wavelength * u.K, rows)
    with pytest.raises(u.UnitConversionError, match="^turnaround_um is in K"):
        foldover.fit_dispersion(wavelength, rows, turnaround_um=3.77 * u.K)


def test_temperature_in_any_unit_and_wrong_units_named():
    wavelength = np.array([3.0, 5.0])
    np.testing.assert_allclose(foldover.photon_spectrum(wavelength, source_temperature_k=(500 - 273.15) * u.deg_C),
                               foldover.photon_spectrum(wavelength, source_temperature_k=500), rtol=1e-12)
    with pytest.raises(u.UnitConversionError, match="^source_temperature_k is in um"):
        foldover.photon_spectrum(wavelength, source_temperature_k=5 * u.um)


def test_unknown_mode_error_lists_the_modes():
    with pytest.raises(ValueError, match="expected 'slit', 'slitless', 'MIR_LRS-FIXEDSLIT' or 'MIR_LRS-SLITLESS'$"):
        foldover.normalise_mode("MIR_IMAGE")


def test_ratio_near_the_turnaround_where_the_blue_branch_barely_moves():
    """At 3.80-3.85 um the partner's rows move 0.44-1.2 px per um: the photon count per row
    (bins of +-0.002 px) still agrees within 3 % (the ratio there is 5 %; clamping the blue
    branch's dispersion at 1 px/um would halve it)."""
    wavelength = np.array([3.80, 3.85])
    ratio = foldover.folded_to_direct_ratio(wavelength, "slitless")
    counted = [_binned_ratio(lam, "slitless", {}, half_row=0.002) for lam in wavelength]
    np.testing.assert_allclose(ratio, counted, rtol=0.03)


def test_geometry_functions_stay_silent_where_the_curve_is_undefined():
    """lambda = 0 or infinite: inf / NaN returned without a RuntimeWarning (nbval compares
    stderr); a source too cold to emit at all (2 K: both branches underflow to 0, a 0/0) gives
    no folded light, silently."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for coefficients in ((0.0, 1.0, 0.0, 1.0), (1.0, 0.0, 2.0, 0.0), instrument.PRISM_DISPERSION["slit"]):
            foldover.dispersion_row(np.array([0.0, np.inf]), coefficients)
            foldover.dispersion_slope(np.array([0.0, np.inf]), coefficients)
        for temperature in (5.0, 2.0):  # the partner's photons underflow; then the direct ones too
            cold = foldover.folded_to_direct_ratio(np.array([4.6, 5.0, 5.3]), "slitless",
                                                   source_temperature_k=temperature)
            np.testing.assert_array_equal(cold, 0.0)


def test_edges_of_the_validity_checks():
    """Exactly two turnarounds combine; a turnaround just beyond 6 um is refused; a cut-off
    anywhere between 0 and the turnaround is accepted; a tolerance of 0 is refused; a table
    that is 2-D, or whose parabola opens upward, is refused."""
    assert foldover.combine_turnarounds([3.6, 3.8]) == pytest.approx((3.7, 0.1414), abs=1e-4)
    b, d = -1.8, -0.002
    with pytest.raises(ValueError, match="no turnaround between 2 and 6 um"):
        foldover.dispersion_turnaround_um((0.0, b, b * 6.05 ** 4 + 2 * d * 6.05 ** 6, d))
    assert foldover.fold_edge_um("slitless", shortest_detected_um=0.9) > foldover.fold_edge_um("slitless")
    with pytest.raises(ValueError, match="tolerance must be a fraction"):
        foldover.usable_range("slitless", tolerance=0.0)
    wavelength = np.linspace(3.0, 4.9, 20)
    with pytest.raises(ValueError, match="1-D and of equal length"):
        foldover.fit_turnaround(wavelength.reshape(4, 5), wavelength.reshape(4, 5))
    with pytest.raises(ValueError, match="do not turn back"):
        foldover.fit_turnaround(wavelength, 0.5 * (wavelength - 3.4) ** 2)


def test_fit_dispersion_takes_whole_micron_wavelengths():
    """A table given in whole microns (an integer array) fits as the same table in floats (numpy
    refuses negative integer powers of integer arrays)."""
    wavelength = np.arange(5, 15)
    rows = foldover.dispersion_row(wavelength.astype(float), _TURN)
    fit = foldover.fit_dispersion(wavelength, rows)
    np.testing.assert_allclose(fit["coefficients"], foldover.fit_dispersion(wavelength.astype(float), rows)["coefficients"])
