"""lrs_helpers.pointing against pysiaf's own reference points and analytic images (no twin)."""

import numpy as np
import pytest
from astropy import units as u

from lrs_helpers import instrument, pointing


def _siaf(name):
    import pysiaf

    return pysiaf.Siaf("MIRI")[name]


@pytest.mark.parametrize("aperture", ["MIRIM_TA1550_UR", "MIRIM_FULL", "MIRIM_SLITLESSPRISM"])
def test_reference_pixel_is_offset_zero(aperture):
    """The aperture's SIAF reference pixel (1-based XDetRef, YDetRef) is the 0-based FULL-frame
    pixel (XDetRef - 1, YDetRef - 1) and sits at offset 0 (a 1-pixel origin error is 0.11")."""
    ap = _siaf(aperture)
    dv2, dv3 = pointing.pixel_to_v2v3_offset(ap.XDetRef - 1, ap.YDetRef - 1, aperture=aperture)
    assert abs(dv2) < 1e-6 and abs(dv3) < 1e-6
    x, y = pointing.v2v3_offset_to_pixel(0.0, 0.0, aperture=aperture)
    assert (x, y) == pytest.approx((ap.XDetRef - 1, ap.YDetRef - 1), abs=1e-6)


def test_subarray_origin_moves_the_pixel_by_the_origin():
    """A subarray starting at detector pixel (SUBSTRT1, SUBSTRT2) holds FULL pixel (x, y) at
    (x - SUBSTRT1 + 1, y - SUBSTRT2 + 1): same sky offset."""
    origin = (1, 529)  # SLITLESSPRISM
    full = pointing.pixel_to_v2v3_offset(37.0, 700.0)
    sub = pointing.pixel_to_v2v3_offset(37.0, 700.0 - origin[1] + 1, subarray_origin=origin)
    assert sub == pytest.approx(full, abs=1e-9)
    assert pointing.v2v3_offset_to_pixel(*full, subarray_origin=origin) == pytest.approx(
        (37.0, 700.0 - origin[1] + 1), abs=0.02)  # pysiaf's inverse distortion: up to 0.012 px


def test_one_pixel_is_the_plate_scale():
    """Neighbouring pixels are ~0.11" apart on the sky (instrument.PLATE_SCALE_ARCSEC)."""
    a = np.array(pointing.pixel_to_v2v3_offset(500.0, 500.0))
    b = np.array(pointing.pixel_to_v2v3_offset(501.0, 500.0))
    assert np.hypot(*(b - a)) == pytest.approx(instrument.PLATE_SCALE_ARCSEC, rel=0.02)


def test_slit_frame_matches_pysiaf_ideal_frame():
    """v2v3_offset_to_slit is pysiaf's tel_to_idl about the slit reference point, in both
    directions, per component."""
    ap = _siaf("MIRIM_SLIT")
    along, across = pointing.v2v3_offset_to_slit(np.array([0.3, -0.1]), np.array([0.05, 0.2]))
    expected = ap.tel_to_idl(ap.V2Ref + np.array([0.3, -0.1]), ap.V3Ref + np.array([0.05, 0.2]))
    np.testing.assert_allclose(along, expected[0], atol=1e-9)
    np.testing.assert_allclose(across, expected[1], atol=1e-9)
    dv2, dv3 = pointing.slit_to_v2v3_offset(along, across)
    np.testing.assert_allclose(dv2, [0.3, -0.1], atol=1e-6)
    np.testing.assert_allclose(dv3, [0.05, 0.2], atol=1e-6)


def _gaussian_image(x0, y0, shape=(40, 50), sigma=1.6, peak=500.0, sky=20.0):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return sky + peak * np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / sigma**2)


def test_centroid_ignores_masked_and_nan_pixels():
    """A Gaussian at (23.3, 17.6) on a sky of 20: recovered within 0.01 px; a hot pixel beside
    it, masked, and a NaN do not move it (unmasked, the hot pixel pulls it by > 0.1 px)."""
    image = _gaussian_image(23.3, 17.6)
    image[17, 21] = 5e4
    image[19, 25] = np.nan
    mask = np.zeros(image.shape, bool)
    mask[17, 21] = True
    x, y = pointing.centroid_source(image, (22, 18), mask=mask)
    assert (x, y) == pytest.approx((23.3, 17.6), abs=0.01)
    # a 0/1 integer mask (as read from a FITS DQ-derived plane) means the same
    assert pointing.centroid_source(image, (22, 18), mask=mask.astype(np.uint8)) == pytest.approx((x, y), abs=1e-9)
    bx, by = pointing.centroid_source(np.where(np.isnan(image), 0.0, image), (22, 18))
    assert np.hypot(bx - 23.3, by - 17.6) > 0.1


@pytest.mark.parametrize("readpatt, frames", [("FASTGRPAVG", 4), ("FASTGRPAVG8", 8), ("FAST", 1)])
def test_ta_rate_factor(readpatt, frames):
    """N x TFRAME / TGROUP (jwst#8069): N when TGROUP = TFRAME, 1 when TGROUP = N x TFRAME."""
    assert instrument.TA_FRAMES_PER_GROUP[readpatt] == frames
    assert pointing.ta_rate_factor(readpatt, 0.5, 0.5) == pytest.approx(frames)
    assert pointing.ta_rate_factor(readpatt.lower(), 0.5 * u.s, frames * 500 * u.ms) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        pointing.ta_rate_factor(readpatt, 0.5, 0.0)


def test_source_count_rate_subtracts_the_local_sky():
    """A Gaussian of total 1000 (sigma 1.2 px: 99.97% inside 5 px) on a sky of 7 per pixel."""
    sigma, total = 1.2, 1000.0
    image = _gaussian_image(30.0, 25.0, shape=(60, 60), sigma=sigma, peak=total / (2 * np.pi * sigma**2), sky=7.0)
    image[0, 0] = np.nan
    assert pointing.source_count_rate(image, (30.0, 25.0)) == pytest.approx(total, rel=0.002)


@pytest.mark.parametrize("call, name", [
    (lambda: pointing.v2v3_offset_to_slit(np.nan, 0.0), "dv2_arcsec"),
    (lambda: pointing.v2v3_offset_to_slit(0.0, np.inf), "dv3_arcsec"),
    (lambda: pointing.slit_to_v2v3_offset(np.nan, 0.0), "along_arcsec"),
    (lambda: pointing.slit_to_v2v3_offset(0.0, np.nan), "across_arcsec"),
    (lambda: pointing.v2v3_offset_to_pixel(np.nan, 0.0), "dv2_arcsec"),
    (lambda: pointing.v2v3_offset_to_pixel(0.0, np.nan), "dv3_arcsec"),
    (lambda: pointing.ta_rate_factor("FAST", np.nan, 1.0), "frame_time_s"),
    (lambda: pointing.ta_rate_factor("FAST", 1.0, np.nan), "group_time_s"),
    (lambda: pointing.centroid_source(np.ones((20, 20)), (np.nan, 3)), "guess_xy"),
    (lambda: pointing.source_count_rate(np.ones((40, 40)), (np.nan, 3)), "xy"),
])
def test_bad_numbers_are_named(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must hold finite numbers"):
        call()


def test_pixel_positions_accept_pixel_quantities():
    image = _gaussian_image(23.3, 17.6)
    assert pointing.centroid_source(image, [22, 18] * u.pix) == pytest.approx((23.3, 17.6), abs=0.01)
    assert pointing.source_count_rate(image, [23.3, 17.6] * u.pix) == pytest.approx(
        pointing.source_count_rate(image, (23.3, 17.6)), rel=1e-12)


def test_centroid_box_fits_exactly_and_images_must_be_2d():
    """An image exactly one box wide is enough; a cube is refused even when large."""
    image = _gaussian_image(5.2, 5.4, shape=(11, 11), sky=0.0)
    assert pointing.centroid_source(image, (5, 5)) == pytest.approx((5.2, 5.4), abs=0.01)
    with pytest.raises(ValueError, match="2-D"):
        pointing.centroid_source(np.ones((3, 40, 40)), (20, 20))
    with pytest.raises(ValueError, match="2-D"):
        pointing.source_count_rate(np.ones((3, 40, 40)), (20, 20))


def test_centroid_near_the_image_edge():
    """A source 2.6 px from the left edge: the box is moved inside the image, not cut."""
    image = _gaussian_image(2.6, 20.3)
    assert pointing.centroid_source(image, (1, 20)) == pytest.approx((2.6, 20.3), abs=0.02)


def test_source_count_rate_leaves_out_nan_pixels():
    """NaN pixels in the aperture and in the sky annulus are left out, not propagated: a NaN
    in the aperture's wing (0.1% of the flux) changes the sum by about that much."""
    sigma, total = 1.2, 1000.0
    image = _gaussian_image(30.0, 25.0, shape=(60, 60), sigma=sigma, peak=total / (2 * np.pi * sigma**2), sky=7.0)
    image[25, 42] = np.nan   # annulus
    image[25, 34] = np.nan   # aperture wing, 4 px from the centre
    rate = pointing.source_count_rate(image, (30.0, 25.0))
    assert np.isfinite(rate) and rate == pytest.approx(total, rel=0.01)


@pytest.mark.parametrize("distance, moves", [(5, True), (6, False)])
def test_centroid_box_edge_just_inside_and_outside(distance, moves):
    """The fit uses the box_size (11) px box around the guess and nothing else: a hot pixel
    (1000 on a 500 peak) 5 px from the guess, on the box's last column, pulls the centroid by
    0.06 px; 6 px away, just outside, it changes nothing (the masked-pixel test's tolerance is
    0.01 px)."""
    image = _gaussian_image(23.3, 17.6)
    image[18, 23 + distance] += 1000.0
    x, y = pointing.centroid_source(image, (23, 18))
    assert (abs(x - 23.3) > 0.03) == moves
    if not moves:
        assert (x, y) == pytest.approx((23.3, 17.6), abs=1e-3)


@pytest.mark.parametrize("source_xy, guess", [((48.7, 20.3), (49, 20)), ((20.3, 38.7), (20, 39)),
                                               ((1.3, 20.3), (0, 20)), ((20.3, 1.3), (20, 0))])
def test_centroid_of_a_source_on_the_last_pixels_of_the_image(source_xy, guess):
    """A source 0.3-0.7 px from the image's edge pixel (right, top, left, bottom), with noise of
    2 on a peak of 500: the box is moved inside the image but still holds the edge pixels, so the
    centroid is within 0.03 px (a box one pixel short of the edge leaves out the peak column and
    misses by more)."""
    rng = np.random.default_rng(0)
    image = _gaussian_image(*source_xy) + rng.normal(0.0, 2.0, (40, 50))
    assert pointing.centroid_source(image, guess) == pytest.approx(source_xy, abs=0.03)


@pytest.mark.parametrize("value", [None, [0.1, None]])
def test_missing_values_are_named_not_a_type_error(value):
    """A missing header value (None, alone or in a list) gets the same clear error as NaN."""
    with pytest.raises(ValueError, match="^dv2_arcsec must hold finite numbers"):
        pointing.v2v3_offset_to_slit(value, 0.0)
    with pytest.raises(ValueError, match="^frame_time_s must hold finite numbers"):
        pointing.ta_rate_factor("FAST", value, 1.0)


def test_images_that_cannot_hold_the_box_are_refused_by_name():
    """A cube is refused even when every side is longer than the box; a 2-D image 10 px high
    cannot hold the 11-px box."""
    for shape in [(12, 40, 40), (10, 40)]:
        with pytest.raises(ValueError, match=r"^image must be 2-D and at least 11 px on a side"):
            pointing.centroid_source(np.ones(shape), (20, 5))


@pytest.mark.parametrize("valid, fits", [(10, True), (9, False)])
def test_centroid_needs_ten_valid_pixels_in_the_box(valid, fits):
    """Ten valid pixels in the box (the source's core; everything else in the box masked) are
    enough to fit and give the centroid within 0.01 px; nine are refused with that reason."""
    image = _gaussian_image(23.3, 17.6)
    yy, xx = np.mgrid[:11, :11]
    nearest = np.argsort(np.hypot(xx - 5, yy - 5).ravel(), kind="stable")[:valid]
    mask = np.zeros(image.shape, bool)
    in_box = np.ones(121, bool)
    in_box[nearest] = False
    mask[13:24, 18:29] = in_box.reshape(11, 11)
    if fits:
        assert pointing.centroid_source(image, (23, 18), mask=mask) == pytest.approx((23.3, 17.6), abs=0.01)
    else:
        with pytest.raises(ValueError, match=r"^fewer than 10 valid pixels around \(23, 18\)"):
            pointing.centroid_source(image, (23, 18), mask=mask)


@pytest.mark.parametrize("distance, inside", [(4, True), (6, False)])
def test_source_count_rate_default_aperture_is_5_px(distance, inside):
    """The default aperture has a 5 px radius: a 100-unit pixel 4 px from the centre (its whole
    area inside) adds 100 to the rate, one 6 px away (its area from 5.5 to 6.5 px) adds nothing
    and is not in the sky annulus (10-15 px) either."""
    image = _gaussian_image(30.0, 25.0, shape=(60, 60), sigma=1.2, peak=100.0, sky=7.0)
    base = pointing.source_count_rate(image, (30.0, 25.0))
    image[25, 30 + distance] += 100.0
    added = pointing.source_count_rate(image, (30.0, 25.0)) - base
    assert added == pytest.approx(100.0 if inside else 0.0, abs=1e-6)
