"""lrs_helpers.emi: robustness to what real uncal ramps carry unflagged (no twin, no jwst).

The emi_tso twin's ramps hold only sky, read noise and EMI; real uncal ramps also carry cosmic
rays and noisy pixels that no DQ flag marks before the jump step. The fit's outlier handling
(a median of the pixels' power sets the cut and the variance floor) must keep them from setting
the EMI it removes.
"""

import numpy as np
import pytest

from lrs_helpers import emi

FREQUENCY = 390.625


def _outliers(shape, seed):
    """Unflagged cosmic rays (1% of pixel-integrations: a step of 1e3-3e4 DN at a random group)
    and noisy pixels (1%: 1000 DN rms per read), DN."""
    rng = np.random.default_rng(seed + 100)
    nints, ngroups, ny, nx = shape
    extra = np.zeros(shape)
    noisy = rng.random((ny, nx)) < 0.01
    extra += noisy[None, None] * rng.normal(0.0, 1000.0, shape)
    hits = rng.random((nints, ny, nx)) < 0.01
    for integration, row, column in zip(*np.nonzero(hits)):
        extra[integration, rng.integers(1, ngroups):, row, column] += rng.uniform(1e3, 3e4)
    return extra


@pytest.mark.parametrize("seed", [0, 1])
def test_unflagged_cosmic_rays_and_noisy_pixels_do_not_set_the_fit(seed):
    """EMI left (harmonics 1-4, rms over the injected waveform) at 5 groups, 4 integrations.

    Measured: 0.66% (seed 0), 0.48% (seed 1); with a mean instead of the median for the typical
    pixel power / variance, 7.5% and 7.8%. Tolerance 2%: 3x the measured, a quarter of the mean's.
    """
    ramps, clean = emi.simulated_ramps(5, nints=4, seed=seed)
    extra = _outliers(ramps.shape, seed)
    corrected = emi.correct(ramps + extra, "SLITLESSPRISM", "FASTR1", frequencies=(FREQUENCY,))
    times = emi.pixel_read_times(*ramps.shape)
    left = emi.fit_periodic(times, corrected - (clean + extra), FREQUENCY, nharmonics=4)
    injected = np.asarray(emi.flight_waveform(0.3))[:4]
    fraction = np.sqrt(np.sum(left**2) / np.sum(injected**2))
    assert fraction < 0.02, f"{100 * fraction:.1f}% of the EMI left"


#: the second EMI frequency lrs_helpers.emi.correct_file removes by default, Hz
TEN_HZ = 10.039216


@pytest.mark.parametrize("seed", [0, 1])
def test_a_10_hz_emi_is_removed_beside_the_390_hz(seed):
    """390.625 Hz (flight waveform) plus a 10.04 Hz sinusoid of 2.2 DN, fitted together as
    correct_file does, 5 groups x 4 integrations. At 10 Hz a frame (0.159 s) holds 1.6 cycles, so
    the read phases do not cover the cycle evenly and the normal equations' sum of z z (not only
    z conj z) matters. Measured 10 Hz left: 0.24%, 0.40% (seeds 0, 1; 390 Hz left 0.5-0.7%);
    with the sign of Re(z z) flipped in the normal matrix 3.8%, with the z z weights divided
    instead of multiplied 1.3%. Tolerance 0.8%: twice the measured, 60% of the smaller effect."""
    ramps, clean = emi.simulated_ramps(5, nints=4, seed=seed)
    times = emi.pixel_read_times(*ramps.shape)
    injected = np.array([[2.0, -1.0]])
    ten = emi.emi_signal(times, TEN_HZ, injected)
    corrected = emi.correct(ramps + ten, "SLITLESSPRISM", "FASTR1", frequencies=(FREQUENCY, TEN_HZ))
    left = emi.fit_periodic(times, corrected - clean, TEN_HZ, nharmonics=1)
    fraction = np.hypot(*left[0]) / np.hypot(*injected[0])
    assert fraction < 0.008, f"{100 * fraction:.2f}% of the 10 Hz EMI left"
    left_390 = emi.fit_periodic(times, corrected - clean, FREQUENCY, nharmonics=4)
    injected_390 = np.asarray(emi.flight_waveform(0.3))[:4]
    assert np.sqrt(np.sum(left_390**2) / np.sum(injected_390**2)) < 0.02


def test_measure_reports_the_waveform_it_documents():
    """measure's documented keys and units on simulated ramps (flight waveform, 10 groups): the
    requested frequency, the rms and peak-to-peak of the fitted waveform (DN) equal those of the
    injected one within 3% (the fit recovers amplitudes to < 1% here), and the waveform on the
    phase grid matches the injected one there."""
    ramps, _ = emi.simulated_ramps(10, nints=2, seed=3)
    found = emi.measure(ramps, "SLITLESSPRISM", "FASTR1", FREQUENCY)
    assert found["frequency"] == FREQUENCY
    assert found["npix_used"] == ramps.shape[0] * ramps.shape[2] * ramps.shape[3]   # every pixel usable
    injected = np.asarray(emi.flight_waveform(0.3))
    fine = emi.waveform(np.arange(4096) / 4096, injected)
    assert found["rms"] == pytest.approx(np.sqrt(np.mean(fine**2)), rel=0.03)
    assert found["peak_to_peak"] == pytest.approx(np.ptp(fine), rel=0.03)
    assert found["coefficients"].shape == (5, 2)        # nharmonics=5 by default
    np.testing.assert_allclose(found["coefficients"][:4], injected, atol=0.05)   # of 4.9 DN
    expected = emi.waveform(found["phase_grid"], injected)
    assert np.sqrt(np.mean((found["waveform"] - expected) ** 2)) < 0.03 * np.sqrt(np.mean(fine**2))


@pytest.mark.parametrize("nharmonics", [1, 3])
def test_fit_periodic_returns_the_harmonics_asked_for(nharmonics):
    """fit_periodic returns (nharmonics, 2) amplitudes in DN and recovers a noiseless signal."""
    times = np.linspace(0.0, 0.05, 20000)
    injected = np.array([[3.0, -1.0], [0.5, 0.25], [0.0, 0.2]])[:nharmonics]
    values = 7.0 + emi.emi_signal(times, FREQUENCY, injected)
    found = emi.fit_periodic(times, values, FREQUENCY, nharmonics=nharmonics)
    assert found.shape == (nharmonics, 2)
    np.testing.assert_allclose(found, injected, atol=1e-9)


def test_a_first_integration_entirely_flagged_is_skipped_by_the_pilot():
    """GROUPDQ DO_NOT_USE on every read of integration 0 (data lost): the pilot fit, which sets
    the pixel weights, uses the first integrations that have usable pixels. Measured EMI left in
    integrations 1-3: 0.4% (5 groups); a pilot taken as integration 0 whatever its flags has no
    pixel and its normal matrix is singular. Tolerance 2% (as for unflagged outliers)."""
    ramps, clean = emi.simulated_ramps(5, nints=4, seed=5)
    groupdq = np.zeros(ramps.shape, np.uint32)
    groupdq[0] = emi.DO_NOT_USE
    corrected = emi.correct(ramps, "SLITLESSPRISM", "FASTR1", frequencies=(FREQUENCY,), groupdq=groupdq)
    times = emi.pixel_read_times(*ramps.shape)
    left = emi.fit_periodic(times[1:], (corrected - clean)[1:], FREQUENCY, nharmonics=4)
    injected = np.asarray(emi.flight_waveform(0.3))[:4]
    assert np.sqrt(np.sum(left**2) / np.sum(injected**2)) < 0.02


def test_nothing_usable_gives_a_new_unchanged_array_quietly():
    """Every pixel DO_NOT_USE: correct returns the ramps unchanged as a new array (a caller that
    edits it must not edit its input), and measure reports NaN amplitudes and folded data
    without numpy warnings (empty phase bins are 0 / 0)."""
    import warnings

    ramps, _ = emi.simulated_ramps(4, nints=1, seed=6)
    ramps = ramps.astype(np.float32)
    pixeldq = np.full(ramps.shape[2:], emi.DO_NOT_USE, np.uint32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corrected = emi.correct(ramps, "SLITLESSPRISM", "FASTR1", pixeldq=pixeldq)
        found = emi.measure(ramps, "SLITLESSPRISM", "FASTR1", pixeldq=pixeldq)
    assert corrected is not ramps and not np.shares_memory(corrected, ramps)
    np.testing.assert_array_equal(corrected, ramps)
    assert np.isnan(found["amplitude"]) and np.all(np.isnan(found["folded"])) and found["npix_used"] == 0


def test_fit_periodic_names_a_size_mismatch():
    with pytest.raises(ValueError, match="times and values differ in size: 3 and 2"):
        emi.fit_periodic(np.arange(3.0), np.arange(2.0), FREQUENCY)


def _noiseless_ramps(nints=3, ngroups=6, seed=7):
    """Straight-line ramps (bias 12000 +- 150 DN, 5-60 DN/group) plus the flight 390.625 Hz waveform
    and a 10.04 Hz sinusoid (2.2 DN), no noise, float64; returns ramps and the lines."""
    rng = np.random.default_rng(seed)
    ny, nx = 416, 72
    times = emi.pixel_read_times(nints, ngroups, ny, nx)
    lines = (12000.0 + rng.normal(0.0, 150.0, (ny, nx))
             + rng.uniform(5.0, 60.0, (ny, nx)) * np.arange(ngroups)[None, :, None, None])
    ramps = (lines + emi.emi_signal(times, FREQUENCY, emi.flight_waveform(0.3))
             + emi.emi_signal(times, TEN_HZ, [[2.0, -1.0]]))
    return ramps, lines


def test_noiseless_emi_of_two_frequencies_is_removed_exactly():
    """Ramps the model describes exactly (lines + 390.625 Hz harmonics 1-4 + 10.04 Hz, no noise):
    the joint least-squares fit must give them back exactly. Measured max residual 7e-12 DN
    (float64 rounding); with the sign of Im(z_m conj z_n) flipped in the normal matrix 0.096 DN,
    with the outlier cut's EMI built from a wrong imaginary part every pixel is cut (singular
    fit). Tolerance 1e-6 DN: 1e5 x the rounding, 1e-5 of the smaller effect."""
    ramps, lines = _noiseless_ramps()
    corrected = emi.correct(ramps, "SLITLESSPRISM", "FASTR1", frequencies=(FREQUENCY, TEN_HZ), nharmonics=4)
    assert np.abs(corrected - lines).max() < 1e-6


def test_outlier_cut_is_at_25_times_the_pooled_variance():
    """The documented cut: a pixel-integration whose scatter about the pilot EMI exceeds 25 x its
    pooled variance gets weight 0, below it 1 / pooled. Scatter set exactly (coordinates on the
    group basis, no EMI, pooled variance 1 and 2): 24.9 and 25.1 x (just inside, just outside);
    exactly 25 x does not exceed it."""
    nints, ngroups = 2, 5
    plan = emi._plan((nints, ngroups, 416, 72), "SLITLESSPRISM", "FASTR1", [FREQUENCY], 5, np.float64)
    rng = np.random.default_rng(0)
    coords = rng.normal(0.0, 1.0, (nints, plan.rank, plan.npix)) / 3.0
    pooled = np.where(np.arange(plan.npix) % 2, 2.0, 1.0)
    inside, outside, at = 100, 201, 300  # pooled 1, 2, 1
    coords[1, :, inside] = np.sqrt(24.9 * pooled[inside])
    coords[1, :, at] = 5.0
    coords[1, :, outside] = np.sqrt(25.1 * pooled[outside])
    usable = np.ones((nints, plan.npix), bool)
    _, weights = emi._weighted_sums(plan, coords, usable, plan.at_start, np.zeros(2 * plan.nterms), pooled)
    assert weights[1, inside] == pytest.approx(1.0) and weights[1, outside] == 0.0
    assert weights[1, at] == pytest.approx(1.0)
    np.testing.assert_allclose(weights[0], 1.0 / pooled, rtol=1e-7)   # no other pixel cut


def test_flagged_reads_leave_the_fit_and_other_flags_do_not():
    """npix_used counts pixel-integrations with every read usable: GROUPDQ DO_NOT_USE or SATURATED
    on any read (groupdq given alone) and PIXELDQ DO_NOT_USE remove them; JUMP_DET alone does not
    (the fit's outlier weighting handles jumps). Exact counts."""
    from lrs_helpers import instrument

    ramps, _ = emi.simulated_ramps(4, nints=2, seed=8)
    total = ramps.shape[0] * ramps.shape[2] * ramps.shape[3]
    groupdq = np.zeros(ramps.shape, np.uint32)
    groupdq[0, 1, 50, 10] = emi.DO_NOT_USE
    groupdq[1, 3, 60, 20] = emi.SATURATED
    groupdq[1, 2:, 61, 21] = emi.SATURATED                     # two reads, one pixel-integration
    groupdq[0, 2, 70, 30] = instrument.DQ["JUMP_DET"]
    found = emi.measure(ramps, "SLITLESSPRISM", "FASTR1", groupdq=groupdq)
    assert found["npix_used"] == total - 3
    pixeldq = np.zeros(ramps.shape[2:], np.uint32)
    pixeldq[5, 5:8] = emi.DO_NOT_USE
    pixeldq[6, 5] = instrument.DQ["HOT"]
    found = emi.measure(ramps, "SLITLESSPRISM", "FASTR1", pixeldq=pixeldq)
    assert found["npix_used"] == total - 3 * ramps.shape[0]


def test_documented_defaults_of_measure_and_fit_periodic():
    """measure folds into 64 phase bins by default (centres (i + 0.5) / 64) and its rms is the
    fitted waveform's: by Parseval sqrt(sum(a^2 + b^2) / 2), to 1e-9 (a sample grid with one
    phase counted twice moves it by ~1e-4); fit_periodic fits one harmonic by default."""
    ramps, _ = emi.simulated_ramps(5, nints=1, seed=9)
    found = emi.measure(ramps, "SLITLESSPRISM", "FASTR1")
    assert found["folded"].shape == (64,)
    np.testing.assert_allclose(found["phase_grid"], (np.arange(64) + 0.5) / 64)
    assert found["rms"] == pytest.approx(np.sqrt(np.sum(found["coefficients"] ** 2) / 2), rel=1e-9)
    times = np.linspace(0.0, 0.05, 5000)
    values = emi.emi_signal(times, FREQUENCY, [[1.0, 0.5], [0.3, 0.0]])
    assert emi.fit_periodic(times, values, FREQUENCY).shape == (1, 2)


def test_folded_data_follow_the_injected_waveform():
    """measure's phase-folded data (each read minus its pixel's line fitted without the EMI) on
    noiseless ramps with the flight waveform, 5 groups: per bin they equal the injected waveform
    averaged over the bin. Measured rms difference 0.053 DN (the reads' phases are not spread
    evenly inside a bin) of a 3.46 DN rms waveform; with the EMI model's imaginary part of the
    wrong sign in the line fit 2.75 DN. Tolerance 0.1 DN rms, every bin filled."""
    nints, ngroups = 2, 5
    rng = np.random.default_rng(7)
    times = emi.pixel_read_times(nints, ngroups, 416, 72)
    lines = (12000.0 + rng.normal(0.0, 150.0, (416, 72))
             + rng.uniform(5.0, 60.0, (416, 72)) * np.arange(ngroups)[None, :, None, None])
    injected = emi.flight_waveform(0.3)
    found = emi.measure(lines + emi.emi_signal(times, FREQUENCY, injected), "SLITLESSPRISM", "FASTR1",
                        FREQUENCY, nharmonics=4)
    nbins = found["folded"].size
    fine = (np.arange(nbins * 64) + 0.5) / (nbins * 64)
    bin_means = emi.waveform(fine, injected).reshape(nbins, 64).mean(axis=1)
    assert np.all(np.isfinite(found["folded"]))
    assert np.sqrt(np.mean((found["folded"] - bin_means) ** 2)) < 0.1


def test_rate_images_are_dn_per_group_or_dn_per_second():
    """Straight-line ramps of s DN/group: rate_images gives s (DN/group) without a group time and
    s / TGROUP (DN/s) with one (TGROUP 0.15904 s, SLITLESSPRISM), to 1e-9 relative."""
    rng = np.random.default_rng(3)
    slope = rng.uniform(1.0, 50.0, (2, 4, 8))
    ramps = 1000.0 + slope[:, None] * np.arange(6)[None, :, None, None]
    np.testing.assert_allclose(emi.rate_images(ramps), slope, rtol=1e-9)
    np.testing.assert_allclose(emi.rate_images(ramps, group_time=0.15904), slope / 0.15904, rtol=1e-9)


def test_ramps_without_scatter_give_zero_amplitude_quietly():
    """Reads with no scatter at all about a line (zero-filled reads of lost data left unflagged):
    every pixel's variance is exactly 0, so the variance floor (the typical pixel's, or 1 DN^2
    when that is 0) must keep the weights finite. measure reports an amplitude of 0 without
    warnings and correct gives the reads back; with a floor of 0 the weights are 1 / 0 and the
    amplitude NaN. Exact straight lines with roundoff-level scatter (1e-12 DN) give 0 too
    (below 1e-9 DN)."""
    import warnings

    rng = np.random.default_rng(11)
    lines = (12000.0 + rng.normal(0.0, 150.0, (416, 72))
             + rng.uniform(5.0, 60.0, (416, 72)) * np.arange(5)[None, :, None, None])
    for ramps in (np.zeros((2, 5, 416, 72)), np.broadcast_to(lines, (2, 5, 416, 72)).copy()):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            found = emi.measure(ramps, "SLITLESSPRISM", "FASTR1")
            corrected = emi.correct(ramps, "SLITLESSPRISM", "FASTR1")
        assert found["amplitude"] < 1e-9
        assert np.abs(corrected - ramps).max() < 1e-9


def test_full_frame_last_reference_column_is_read_three_clocks_late():
    """FULL FAST clocks (the clock model of lrs_helpers.emi, after jwst emicorr): the four
    channels of a column group are read at once, groups one pixel clock (10 us) apart along a
    row, except the last group of each row (the reference columns 1028-1031), read 3 clocks
    late; rows 271 clocks apart. Exact."""
    times = emi.pixel_read_times(1, 1, 1024, 1032, "FULL", "FAST")[0, 0]
    clock = 10e-6
    groups = times[:, ::4]
    np.testing.assert_array_equal(times[:, 0:4], np.repeat(times[:, :1], 4, axis=1))
    steps = np.diff(groups, axis=1) / clock
    np.testing.assert_allclose(steps[:, :-1], 1.0, atol=1e-6)
    np.testing.assert_allclose(steps[:, -1], 4.0, atol=1e-6)
    np.testing.assert_allclose(np.diff(times[:, 0]) / clock, 271.0, atol=1e-6)
