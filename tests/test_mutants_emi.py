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
