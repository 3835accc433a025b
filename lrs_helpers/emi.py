"""390 Hz (and 10 Hz) EMI pattern noise in MIRI subarray ramps: measure it, remove it.

Electromagnetic interference adds a periodic signal to every pixel *read*. MIRI reads its
pixels one after another on a 10 us clock, four output channels at a time (columns ``x``,
``x+1``, ``x+2``, ``x+3`` are read together), so the EMI seen by a pixel depends on when it was
read. In a SLITLESSPRISM frame (0.15904 s = 62.125 periods of 390.625 Hz) the EMI phase of a
pixel moves by 1/8 cycle from one frame to the next, so it does not cancel in a ramp's slope
and shows up as horizontal stripes in rate images. FULL, BRIGHTSKY and SUB256 frames hold a
whole number of periods: there every pixel sees the same EMI value in every group, which
changes nothing in its slope.

Core (numpy arrays in, new arrays out, no jwst import):

* :func:`pixel_read_times` - the readout clock model: when each pixel of each group was read;
* :func:`emi_signal` - the EMI a periodic waveform puts into reads at given times;
* :func:`measure` - amplitude, phase and phase-folded waveform of one EMI frequency;
* :func:`correct` - ramps with the fitted EMI of one or more frequencies removed;
* :func:`periodogram` - Lomb-Scargle power of the time-ordered pixel stream;
* :func:`rate_images`, :func:`stripe_rms` - per-integration slopes and how striped they are.

How the fit works (the reason it is fast and works from 3 groups): in each pixel's ramp the
bias and the source are a straight line over the groups, while the EMI is a sum of harmonics
``a_k cos(2 pi k f t) + b_k sin(2 pi k f t)`` evaluated at the pixel's read times ``t``. Removing
each pixel's straight line (what group differences with their mean removed do) leaves the EMI
plus noise; the same few ``(a_k, b_k)`` hold for every pixel, only the read times differ. That
is one linear least-squares problem with ``2 x harmonics`` unknowns, solved in closed form from
sums that are built with a single matrix product over the data. The full EMI (including its
straight-line part, which is what biases the slopes) is then subtracted from every read.

:func:`flight_waveform` gives the 390 Hz waveform measured in flight in SLITLESSPRISM.

Edges: :func:`correct_file` (an uncal/ramp product in, a new product out, streamed in chunks
of integrations so whole TSO segments fit in memory), :func:`write_emicorr_reference` (an EMICORR
reference file in jwst's format), :func:`run_jwst_emicorr` (the jwst EmiCorrStep, joint or
sequential, for comparison), :func:`ramp_model_from_array` and :func:`explorer` (widgets).
"""

import io
import os
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from astropy.io import fits
from astropy.timeseries import LombScargle
from scipy.ndimage import median_filter
from threadpoolctl import threadpool_limits

from . import instrument
from .io import (IntegrationChunks, LRSInputError, LRSOutputError, check_product, open_metadata, open_product,
                 output_error, publish, read_integrations, record_provenance, scratch_file)
from .pipeline import run_step

#: Readout clocks, subarray shapes, read patterns and EMI frequencies: see lrs_helpers.instrument
PIXEL_CLOCK_S = instrument.PIXEL_CLOCK_S
SUBARRAY_CLOCKS = instrument.SUBARRAY_CLOCKS
SUBARRAY_SHAPES = instrument.SUBARRAY_SHAPES
READ_PATTERNS = instrument.READ_PATTERNS
EMI_FREQUENCIES_HZ = instrument.EMI_FREQUENCIES_HZ
N_CHANNELS = instrument.N_CHANNELS
#: Detector rows: rows outside a subarray are skipped at this many clocks each.
_DETECTOR_ROWS = 1024
_SKIPPED_ROW_CLOCKS = 4 + 3
#: In FULL frames the last column of each channel is a reference pixel sampled 3 clocks late.
_FULL_LAST_REFPIX_DELAY = 3

#: Terms whose group pattern has less than this rms left after removing a straight line are
#: not fitted (see :func:`_fit`).
MIN_VISIBILITY = 0.05

#: Integrations are fitted and corrected in blocks whose float32 copy is about this size, bytes:
#: memory stays bounded for whole TSO segments, and one block holds a typical small exposure.
BLOCK_BYTES = 256 * 2**20

#: Integrations of the pilot fit that sets the pixel weights (see :func:`_fit_blocks`): 8 give
#: each pixel's variance to about 15% at 10 groups, plenty for weights.
PILOT_INTS = 8

#: Data-quality bits (JWST conventions) that keep a read out of the fit.
DO_NOT_USE = instrument.DQ["DO_NOT_USE"]
SATURATED = instrument.DQ["SATURATED"]


#: BLAS threads for the fit and the correction: their matrix products are small (groups x
#: pixels of one integration), where thread start-up costs more than it gains. Measured with
#: benchmarks/bench_tso.py (see its "threads" entry).
BLAS_THREADS = 1


def blas_threads(limit=None):
    """Context manager that holds BLAS to ``limit`` threads (default :data:`BLAS_THREADS`)."""
    return threadpool_limits(limits=BLAS_THREADS if limit is None else limit, user_api="blas")


# --------------------------------------------------------------------------------------------
# Clock model
# --------------------------------------------------------------------------------------------


def _clock_model(ny, nx, subarray, readpatt):
    """Readout clocks for one subarray and read pattern, after checking the frame shape.

    Returns
    -------
    in_frame : numpy.ndarray of int64, shape (ny, nx // 4)
        Clock count of each read within a frame, from the frame's first read; the four
        channels of a column group share it.
    frame_clocks : int
        Clocks from one frame's first read to the next frame's first read.
    reset_clocks : int
        Clocks of the reset frame between integrations (0 without one).
    """
    if not isinstance(subarray, str) or subarray.upper() not in SUBARRAY_SHAPES:
        raise ValueError(
            f"unknown MIRI subarray {subarray!r}; expected one of {sorted(SUBARRAY_SHAPES)}"
        )
    if not isinstance(readpatt, str) or readpatt.upper() not in READ_PATTERNS:
        raise ValueError(
            f"read pattern {readpatt!r} has no clock model; expected one of {sorted(READ_PATTERNS)}"
        )
    subarray, readpatt = subarray.upper(), readpatt.upper()
    if (ny, nx) != SUBARRAY_SHAPES[subarray]:
        rows, cols = SUBARRAY_SHAPES[subarray]
        raise ValueError(
            f"frames of {ny} rows x {nx} columns do not match SUBARRAY={subarray}, which reads "
            f"{rows} rows x {cols} columns; expected ramps of shape (nints, ngroups, {rows}, {cols})"
        )
    nsamples, has_reset = READ_PATTERNS[readpatt]
    if subarray == "FULL":
        key = "FULL_SLOW" if nsamples > 1 else "FULL_FAST"
    elif nsamples > 1:
        raise ValueError(f"SLOW read patterns are only used with SUBARRAY=FULL, not {subarray}")
    else:
        key = subarray
    rowclocks, frameclocks = SUBARRAY_CLOCKS[key]
    nx4 = nx // N_CHANNELS
    in_frame = (
        np.arange(ny, dtype=np.int64)[:, None] * rowclocks
        + np.arange(nx4, dtype=np.int64)[None, :] * nsamples
    )
    if subarray == "FULL":
        in_frame[:, -1] += _FULL_LAST_REFPIX_DELAY
    # After the last row the readout still clocks through the rows outside the subarray.
    frame_clocks = ny * rowclocks + (_DETECTOR_ROWS - ny) * _SKIPPED_ROW_CLOCKS
    return in_frame, frame_clocks, frameclocks if has_reset else 0


def _integration_starts(nints, ngroups, frame_clocks, reset_clocks):
    """Clock count of each integration's first read (int64, shape (nints,))."""
    return np.arange(nints, dtype=np.int64) * (ngroups * frame_clocks + reset_clocks)


def pixel_read_times(nints, ngroups, ny, nx, subarray="SLITLESSPRISM", readpatt="FASTR1"):
    """When each pixel of each group was read, from the MIRI readout clocks.

    One pixel read takes 10 us (9 samples of 10 us in SLOW mode). The four output channels are
    read at the same time, so columns ``4j .. 4j+3`` of a row share a read time. Each row costs
    ``rowclocks`` clocks; after the subarray's last row the readout skips the detector's other
    rows at 7 clocks each, which together make the frame (``frameclocks``, e.g. 15904 clocks =
    0.15904 s in SLITLESSPRISM). FASTR1/SLOWR1 read one extra reset frame between integrations.

    Parameters
    ----------
    nints, ngroups : int
        Number of integrations and of groups per integration (one frame per group).
    ny, nx : int
        Rows and columns of a frame; must be the size of ``subarray``.
    subarray : str
        MIRI subarray name (SUBARRAY keyword), one of :data:`SUBARRAY_SHAPES`.
    readpatt : str
        Read pattern (READPATT keyword): FAST, FASTR1, SLOW or SLOWR1 (SLOW only with FULL).

    Returns
    -------
    numpy.ndarray of float64, shape (nints, ngroups, ny, nx)
        Read time of each pixel in seconds from the first read of the first integration.

    Raises
    ------
    ValueError
        Unknown subarray or read pattern, or a frame size that does not match the subarray.
    """
    in_frame, frame_clocks, reset_clocks = _clock_model(ny, nx, subarray, readpatt)
    starts = _integration_starts(nints, ngroups, frame_clocks, reset_clocks)
    clocks = (
        starts[:, None, None, None]
        + np.arange(ngroups, dtype=np.int64)[None, :, None, None] * frame_clocks
        + np.repeat(in_frame, N_CHANNELS, axis=1)[None, None]
    )
    return clocks * PIXEL_CLOCK_S


def emi_signal(times, frequency, coefficients):
    """The EMI a periodic waveform adds to reads made at ``times``.

    Parameters
    ----------
    times : array_like
        Read times, s (any shape), e.g. from :func:`pixel_read_times`.
    frequency : float
        EMI frequency, Hz.
    coefficients : array_like, shape (nharmonics, 2)
        Cosine and sine amplitude (DN) of harmonics 1, 2, ...: the waveform is
        ``sum_k c[k-1, 0] cos(2 pi k f t) + c[k-1, 1] sin(2 pi k f t)``.

    Returns
    -------
    numpy.ndarray of float64, same shape as ``times``
        EMI signal, DN.
    """
    times = np.asarray(times, dtype=float)
    coefficients = np.asarray(coefficients, dtype=float).reshape(-1, 2)
    # Phase in cycles, folded before multiplying by 2 pi to keep precision at long times.
    cycles = np.mod(times * frequency, 1.0)
    signal = np.zeros_like(times)
    for k, (a, b) in enumerate(coefficients, start=1):
        angle = 2 * np.pi * np.mod(k * cycles, 1.0)
        signal += a * np.cos(angle) + b * np.sin(angle)
    return signal


def waveform(phase, coefficients):
    """The EMI waveform at phases (cycles) for harmonic ``coefficients`` (nharmonics, 2), DN."""
    return emi_signal(np.asarray(phase, dtype=float), 1.0, coefficients)


def flight_waveform(phase_offset=0.0):
    """The 390.625 Hz EMI waveform measured in flight in SLITLESSPRISM, as each read sees it.

    The flight measurement (:data:`lrs_helpers.instrument.EMI_390_SLITLESSPRISM_FRAME_DIFFERENCE`,
    from Eureka's ``remove390.py``) describes frame differences: harmonic ``k`` adds
    ``A_k sin(2 pi (k f t + phi_k))`` to (read at ``t``) - (read at ``t - T``), ``T`` the
    SLITLESSPRISM frame time (62.125 periods). A read waveform ``B_k sin(2 pi (k f t + psi_k))``
    makes exactly that difference with ``A_k = 2 sin(pi k / 8) B_k`` and
    ``psi_k = phi_k + k / 16 - 1 / 4``, which is inverted here.

    Parameters
    ----------
    phase_offset : float
        Shift of the waveform, cycles of the fundamental: the result is the waveform at
        ``phase + phase_offset`` (the phase at ``t = 0`` is arbitrary in the flight figures).

    Returns
    -------
    numpy.ndarray, shape (4, 2)
        Cosine and sine amplitudes (DN) of harmonics 1-4 in the convention of
        :func:`emi_signal` (harmonic 3 is zero). The fundamental's read amplitude is 4.87 DN.
    """
    coefficients = np.zeros((4, 2))
    for k, amplitude, phase in instrument.EMI_390_SLITLESSPRISM_FRAME_DIFFERENCE:
        read_amplitude = amplitude / (2 * np.sin(np.pi * k / 8))
        angle = 2 * np.pi * (phase + k / 16 - 0.25 + k * phase_offset)
        # B sin(x + angle) = B sin(angle) cos x + B cos(angle) sin x
        coefficients[k - 1] = read_amplitude * np.sin(angle), read_amplitude * np.cos(angle)
    return coefficients


# --------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------


def _as_ramps(ramps):
    ramps = np.asarray(ramps)
    if ramps.ndim != 4:
        raise ValueError(
            f"ramps must be 4-D (nints, ngroups, ny, nx); got an array of shape {ramps.shape}"
        )
    if ramps.shape[1] < 3:
        raise ValueError(
            f"EMI fitting needs at least 3 groups per integration; got {ramps.shape[1]} "
            f"(ramps of shape {ramps.shape})"
        )
    if not (np.issubdtype(ramps.dtype, np.number) and not np.iscomplexobj(ramps)):
        raise ValueError(f"ramps must be a real numeric array, not {ramps.dtype}")
    return ramps


def _flags(ramps, pixeldq, groupdq):
    """Boolean (nints, ngroups, ny, nx) mask of reads flagged DO_NOT_USE or SATURATED."""
    flagged = np.zeros(ramps.shape, dtype=bool)
    if groupdq is not None:
        groupdq = np.asarray(groupdq)
        if groupdq.shape != ramps.shape:
            raise ValueError(f"groupdq has shape {groupdq.shape}; expected the ramps' {ramps.shape}")
        flagged |= (groupdq.astype(np.int64) & (DO_NOT_USE | SATURATED)) != 0
    if pixeldq is not None:
        pixeldq = np.asarray(pixeldq)
        if pixeldq.shape != ramps.shape[2:]:
            raise ValueError(f"pixeldq has shape {pixeldq.shape}; expected {ramps.shape[2:]}")
        flagged |= ((pixeldq.astype(np.int64) & DO_NOT_USE) != 0)[None, None]
    return flagged


def _group_basis(ngroups, frame_clocks, harmonic_freqs):
    """Straight-line basis and each harmonic's group pattern with straight lines removed.

    Returns
    -------
    line : (ngroups, 2) orthonormal constant and slope vectors.
    patterns : (ngroups, nterms) complex ``exp(2 pi i f_k g T_frame)``, full (for the model).
    projected : (ngroups, 2 * nterms) real and imaginary parts of ``patterns`` with the
        straight-line part removed (what the data constrain).
    """
    g = np.arange(ngroups, dtype=float)
    line = np.stack([np.ones(ngroups), g - g.mean()], axis=1)
    line /= np.linalg.norm(line, axis=0)
    cycles = np.mod(np.outer(g * frame_clocks * PIXEL_CLOCK_S, harmonic_freqs), 1.0)
    patterns = np.exp(2j * np.pi * cycles)
    parts = np.concatenate([patterns.real, patterns.imag], axis=1)
    projected = parts - line @ (line.T @ parts)
    return line, patterns, projected


def _typical(values, max_samples=100_000):
    """Median of a large 1-D array, from an evenly strided subsample of at most max_samples."""
    return np.median(values[:: max(1, values.size // max_samples)])


def _normal_matrix(products, gram, nterms):
    """Normal matrix of the (a_1.., b_1..) parameters from position sums and the group gram.

    ``products`` holds the weighted sums over read positions of [u, v]^T [u, v]; ``gram`` the
    groups' gram matrix of the projected [real, imaginary] patterns. For terms m, n the 2x2
    block is  sum D_m^T G_mn D_n  with  D = u I + v J,  J = [[0, 1], [-1, 0]].
    """
    n = nterms
    blocks = np.stack(
        [np.stack([gram[:n, :n], gram[:n, n:]], axis=-1), np.stack([gram[n:, :n], gram[n:, n:]], axis=-1)],
        axis=-2,
    )  # (n, n, 2, 2): rows (real, imag) of term m, columns (real, imag) of term n
    j = np.array([[0.0, 1.0], [-1.0, 0.0]])
    s_uu, s_uv = products[:n, :n], products[:n, n:]
    s_vu, s_vv = products[n:, :n], products[n:, n:]
    combined = (
        s_uu[..., None, None] * blocks
        + s_uv[..., None, None] * (blocks @ j)
        + s_vu[..., None, None] * (j.T @ blocks)
        + s_vv[..., None, None] * (j.T @ blocks @ j)
    )
    return combined.transpose(2, 0, 3, 1).reshape(2 * n, 2 * n)


def _plan(shape, subarray, readpatt, frequencies, nharmonics, dtype):
    """Everything the fit needs that does not depend on the data (see the module notes).

    Returns a namespace: the clock model, the terms (one per frequency and harmonic) and which
    of them the ramps can show, the orthonormal group basis the data are projected on, and the
    phase factors ``exp(2 pi i f_k t)`` of each integration's start (``at_start``, (nints,
    terms)) and of each read position in a frame (``at_position``, (positions, terms)).
    """
    nints, ngroups, ny, nx = shape
    in_frame, frame_clocks, reset_clocks = _clock_model(ny, nx, subarray, readpatt)
    frequencies = np.atleast_1d(np.asarray(frequencies, dtype=float))
    if (frequencies.ndim != 1 or frequencies.size == 0 or not np.all(np.isfinite(frequencies))
            or np.any(frequencies <= 0)):
        raise ValueError(f"frequencies must be positive finite numbers (Hz); got {frequencies}")
    if int(nharmonics) < 1:
        raise ValueError(f"nharmonics must be at least 1; got {nharmonics}")
    nharmonics = int(nharmonics)
    # One term per (frequency, harmonic): its frequency in Hz.
    harmonic_freqs = np.repeat(frequencies, nharmonics) * np.tile(np.arange(1, nharmonics + 1), frequencies.size)
    nterms = harmonic_freqs.size
    _, patterns, projected = _group_basis(ngroups, frame_clocks, harmonic_freqs)
    # A harmonic that repeats (nearly) every frame is (nearly) the same in every group: it
    # adds a constant, or a slow drift that looks like a slope, to each pixel and the ramps
    # cannot tell it apart from bias and source. Such terms are not fitted (their "visibility",
    # the rms of the group pattern left after removing a straight line, is under 5%).
    visibility = np.sqrt(
        (np.sum(projected[:, :nterms] ** 2, axis=0) + np.sum(projected[:, nterms:] ** 2, axis=0)) / ngroups
    )
    visible = visibility > MIN_VISIBILITY
    keep = np.concatenate([visible, visible])
    starts = _integration_starts(nints, ngroups, frame_clocks, reset_clocks)
    # The phase factor exp(2 pi i f_k t) of a read factorises: (integration start) x
    # (position in the frame) x (group), so no array of the data's size is ever needed.
    at_start = np.exp(2j * np.pi * np.mod(np.outer(starts * PIXEL_CLOCK_S, harmonic_freqs), 1.0))
    at_position = np.exp(2j * np.pi * np.mod(np.outer(in_frame.ravel() * PIXEL_CLOCK_S, harmonic_freqs), 1.0))
    work = np.float64 if dtype == np.float64 else np.float32
    plan = SimpleNamespace(
        shape=shape, nterms=nterms, nfreq=frequencies.size, nharmonics=nharmonics, keep=keep,
        clock=(in_frame, frame_clocks, reset_clocks, starts), harmonic_freqs=harmonic_freqs,
        patterns=patterns, at_start=at_start, at_position=at_position, work=work, rank=0,
        npos=in_frame.size, npix=ny * nx,
    )
    if not np.any(visible):
        return plan
    # Orthonormal basis of the group patterns the data can show once straight lines are gone;
    # projecting each pixel's ramp on it is the one pass over the data.
    left, singular, _ = np.linalg.svd(projected[:, keep], full_matrices=False)
    basis = left[:, singular > 1e-8 * singular.max()]  # (ngroups, rank)
    plan.rank = basis.shape[1]
    plan.basis_t = np.ascontiguousarray(basis.T, dtype=work)
    shown = basis.T @ projected  # (rank, 2 nterms): each term's pattern in that basis
    plan.gram = shown.T @ shown
    plan.shown_complex = shown[:, :nterms] + 1j * shown[:, nterms:]  # (rank, terms)
    # Products of position factors of every pair of terms, for the normal equations.
    plan.pairs_conj = (at_position[:, :, None] * at_position[:, None, :].conj()).reshape(plan.npos, -1)
    plan.pairs = (at_position[:, :, None] * at_position[:, None, :]).reshape(plan.npos, -1)
    plan.position_real = np.ascontiguousarray(at_position.real, dtype=work)
    plan.position_imag = np.ascontiguousarray(at_position.imag, dtype=work)
    return plan


def _project(plan, ramps, pixeldq, groupdq):
    """Coordinates of a block of integrations on the group basis, and which pixels are usable.

    Returns ``coords`` (n, rank, pixels) in the plan's working dtype (0 where unusable) and
    ``usable`` (n, pixels): every read finite and none flagged.
    """
    n, ngroups = ramps.shape[:2]
    coords = np.empty((n, plan.rank, plan.npix), dtype=plan.work)
    for i in range(n):  # one small matrix product per integration, in cache
        np.matmul(plan.basis_t, ramps[i].reshape(ngroups, plan.npix).astype(plan.work, copy=False), out=coords[i])
    # Non-finite reads (NaN, inf) make their pixel's coordinates non-finite; integer data
    # (uncal) have none.
    if np.issubdtype(ramps.dtype, np.integer):
        usable = np.ones((n, plan.npix), dtype=bool)
    else:
        usable = np.all(np.isfinite(coords), axis=1)
    if groupdq is not None or pixeldq is not None:
        usable &= ~np.any(_flags(ramps, pixeldq, groupdq), axis=1).reshape(n, plan.npix)
    if not usable.all():
        np.copyto(coords, 0.0, where=~usable[:, None, :])
    return coords, usable


def _sums(plan, coords, weights, at_start):
    """One block's share of the normal equations: (right-hand side, sum z conj z, sum z z).

    With z = u + iv the phase factor of a term at a read, the term's (a, b) put (u a + v b) on
    the real part of its group pattern and (-v a + u b) on the imaginary part. So the normal
    equations need only weighted sums over reads of u, v products (from sums of z_m conj(z_n)
    and z_m z_n) and the groups' gram matrix; the right-hand side is Re/Im of sum z Y, Y the
    data's coordinates on the patterns. The four channels share a read time: their weighted
    data are summed first.
    """
    n = coords.shape[0]
    nterms = plan.nterms
    w4 = weights.reshape(n, plan.npos, N_CHANNELS)
    wsum = w4.sum(axis=-1)  # (n, positions)
    wcoords = (coords.reshape(n, plan.rank, plan.npos, N_CHANNELS) * w4[:, None].astype(plan.work)) @ np.ones(
        N_CHANNELS, plan.work)  # (n, rank, positions)
    on_positions = (wcoords @ plan.position_real) + 1j * (wcoords @ plan.position_imag)  # (n, rank, terms)
    total = np.einsum("ik,rk,irk->k", at_start, plan.shown_complex, on_positions)
    z_conj_z = np.sum((at_start[:, :, None] * at_start[:, None, :].conj())
                      * (wsum @ plan.pairs_conj).reshape(n, nterms, nterms), axis=0)
    z_z = np.sum((at_start[:, :, None] * at_start[:, None, :])
                 * (wsum @ plan.pairs).reshape(n, nterms, nterms), axis=0)
    return np.stack([total.real, total.imag]), z_conj_z, z_z


def _solve(plan, sums):
    """Coefficients (a_1.., b_1..) and the normal matrix from the summed normal equations."""
    nterms = plan.nterms
    rhs, a_sum, b_sum = sums
    products = np.block([
        [(a_sum.real + b_sum.real) / 2, (b_sum.imag - a_sum.imag) / 2],
        [(a_sum.imag + b_sum.imag) / 2, (a_sum.real - b_sum.real) / 2],
    ])
    normal = _normal_matrix(products, plan.gram, nterms)[np.ix_(plan.keep, plan.keep)]
    solution = np.zeros(2 * nterms)
    solution[plan.keep] = np.linalg.solve(normal, rhs.ravel()[plan.keep])
    return solution, normal


def _residual_variance(plan, coords, usable, at_start, solution):
    """Each pixel's variance per basis vector once the fitted EMI is removed, (n, pixels); NaN
    where unusable. The EMI's coordinates are Re(sum_k shown_k C_k z_k), C = a - ib."""
    n = coords.shape[0]
    c = solution[:plan.nterms] - 1j * solution[plan.nterms:]
    factors = plan.shown_complex[None, :, :] * (c * at_start)[:, None, :]  # (n, rank, terms)
    variance = np.empty((n, plan.npix))
    for i in range(n):  # per integration, to keep temporaries small
        predicted = (factors[i].real @ plan.position_real.T - factors[i].imag @ plan.position_imag.T)
        residual = coords[i].reshape(plan.rank, plan.npos, N_CHANNELS) - predicted.astype(plan.work)[..., None]
        variance[i] = np.einsum("rpc,rpc->pc", residual, residual).ravel() / plan.rank
    variance[~usable] = np.nan
    return variance


def _weighted_sums(plan, coords, usable, at_start, solution, pooled):
    """A block's share of the normal equations with inverse-variance weights, and the weights.

    The weight of a pixel in an integration is ``1 / pooled`` unless its scatter about the
    ``solution``'s EMI exceeds 25 x ``pooled`` (then 0). Integration by integration, so that
    each one's coordinates are read once while in cache (:func:`_residual_variance` and
    :func:`_sums` in one loop).
    """
    n = coords.shape[0]
    c = solution[:plan.nterms] - 1j * solution[plan.nterms:]
    factors = plan.shown_complex[None, :, :] * (c * at_start)[:, None, :]  # (n, rank, terms)
    inverse = (1.0 / pooled).astype(np.float32)
    limit = (25.0 * plan.rank * pooled).astype(np.float32)
    weights = np.empty((n, plan.npix), np.float32)
    on_positions = np.empty((n, plan.rank, plan.nterms), complex)
    for i in range(n):
        data = coords[i].reshape(plan.rank, plan.npos, N_CHANNELS)
        predicted = (factors[i].real @ plan.position_real.T - factors[i].imag @ plan.position_imag.T)
        residual = data - predicted.astype(plan.work)[..., None]
        power = np.einsum("rpc,rpc->pc", residual, residual).ravel()
        weights[i] = np.where(usable[i] & ~(power > limit), inverse, 0.0)
        wcoords = np.einsum("rpc,pc->rp", data, weights[i].reshape(plan.npos, N_CHANNELS).astype(plan.work))
        on_positions[i] = (wcoords @ plan.position_real) + 1j * (wcoords @ plan.position_imag)
    total = np.einsum("ik,rk,irk->k", at_start, plan.shown_complex, on_positions)
    wsum = weights.reshape(n, plan.npos, N_CHANNELS).sum(axis=-1, dtype=float)
    z_conj_z = np.sum((at_start[:, :, None] * at_start[:, None, :].conj())
                      * (wsum @ plan.pairs_conj).reshape(n, plan.nterms, plan.nterms), axis=0)
    z_z = np.sum((at_start[:, :, None] * at_start[:, None, :])
                 * (wsum @ plan.pairs).reshape(n, plan.nterms, plan.nterms), axis=0)
    return (np.stack([total.real, total.imag]), z_conj_z, z_z), weights


def _fit_blocks(plan, blocks, pixeldq=None, keep_weights=False):
    """Least-squares fit of the EMI harmonics over blocks of integrations (one pass).

    ``blocks`` yields ``(integrations, ramps, groupdq)``: a slice of the exposure's
    integrations, their ramps (n, ngroups, ny, nx) and GROUPDQ (or None).

    A pixel's scatter includes its EMI, which depends on its read phase: weights built from it
    would favour some phases and bias the amplitude low. So the first :data:`PILOT_INTS`
    integrations with usable pixels (the "pilot") are fitted with equal weights (leaving out
    only gross outliers); their residual scatter, once that EMI is removed, gives each pixel's
    variance (pooled over the pilot's integrations and capped below at the typical
    pixel's, so that pixels that happen to scatter little, likely at 3 groups, do not dominate).
    Every block then enters the final fit with inverse-variance weights: bright, hot and
    cosmic-ray pixels get little weight, and an integration scattering 25 times more than the
    pixel's pooled variance (a cosmic ray) none.

    Returns a dict with ``coefficients`` (nfreq, nharmonics, 2) in DN (NaN when no pixel could
    be used; 0 for terms the ramps cannot show), ``weights`` (nints, pixels; only with
    ``keep_weights``), ``npix_used`` (pixel-integrations), ``condition`` (of the normal
    matrix), and the plan's phase factors and clock model for :func:`_model`.
    """
    fit = _Accumulator(plan, pixeldq, keep_weights)
    if plan.rank == 0:  # nothing the ramps can show: the blocks need not be read
        return fit.result()
    for integrations, ramps, groupdq in blocks:
        fit.add(integrations, ramps, groupdq)
    return fit.result()


class _Accumulator:
    """The fit of :func:`_fit_blocks` fed one block at a time, so that several fits (other
    frequencies) can share one pass over a file's blocks."""

    def __init__(self, plan, pixeldq=None, keep_weights=False):
        self.plan, self.pixeldq = plan, pixeldq
        self.fit = {
            "clock": plan.clock, "harmonic_freqs": plan.harmonic_freqs, "patterns": plan.patterns,
            "at_start": plan.at_start, "at_position": plan.at_position,
            "coefficients": np.full((plan.nfreq, plan.nharmonics, 2), np.nan),
            "weights": np.zeros((plan.shape[0], plan.npix)) if keep_weights else None,
            "condition": np.inf, "npix_used": 0,
        }
        self.total, self.pilot_solution, self.pooled = None, None, None

    def add(self, integrations, ramps, groupdq):
        """Add one block: ``integrations`` (a slice of the exposure's), their ramps (n,
        ngroups, ny, nx) and GROUPDQ (or None)."""
        plan = self.plan
        if plan.rank == 0:
            return
        coords, usable = _project(plan, ramps, self.pixeldq, groupdq)
        if not np.any(usable):
            return
        self.fit["npix_used"] += int(usable.sum())
        at_start = plan.at_start[integrations]
        if self.pilot_solution is None:
            pilot = np.flatnonzero(usable.any(axis=1))[:PILOT_INTS]
            power = np.einsum("irp,irp->ip", coords[pilot], coords[pilot])
            with np.errstate(invalid="ignore"):
                equal = (usable[pilot] & ~(power > 25.0 * _typical(power[usable[pilot]]))).astype(np.float32)
            self.pilot_solution, _ = _solve(plan, _sums(plan, coords[pilot], equal, at_start[pilot]))
            variance = _residual_variance(plan, coords[pilot], usable[pilot], at_start[pilot],
                                          self.pilot_solution)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # pixels unusable throughout
                pooled = np.nanmean(variance, axis=0)
            typical = _typical(variance[usable[pilot]])
            self.pooled = np.maximum(np.where(np.isfinite(pooled), pooled, np.inf),
                                     typical if typical > 0 else 1.0)
        block_sums, weights = _weighted_sums(plan, coords, usable, at_start, self.pilot_solution, self.pooled)
        if self.fit["weights"] is not None:
            self.fit["weights"][integrations] = weights
        self.total = block_sums if self.total is None else tuple(a + b for a, b in zip(self.total, block_sums))

    def result(self):
        """The fit's dict (see :func:`_fit_blocks`)."""
        plan, result = self.plan, self.fit
        if self.total is None:
            return result
        solution, normal = _solve(plan, self.total)
        result["coefficients"] = np.stack([solution[:plan.nterms], solution[plan.nterms:]], axis=1).reshape(
            plan.nfreq, plan.nharmonics, 2)
        result["condition"] = float(np.linalg.cond(normal))
        return result


def _blocks_in_memory(ramps, groupdq, block_ints):
    """(integrations, ramps, groupdq) blocks of an array held in memory."""
    for start in range(0, ramps.shape[0], block_ints):
        integrations = slice(start, min(start + block_ints, ramps.shape[0]))
        yield integrations, ramps[integrations], None if groupdq is None else groupdq[integrations]


def _block_ints(shape, block_bytes):
    """Integrations per block so that a block's float32 copy is about ``block_bytes``."""
    per_integration = 4 * int(np.prod(shape[1:]))
    return max(1, int(block_bytes // per_integration))


def _fit(ramps, subarray, readpatt, frequencies, nharmonics, pixeldq, groupdq, *,
         keep_weights=False, block_bytes=BLOCK_BYTES):
    """Fit the EMI of ramps held in memory (see :func:`_fit_blocks`)."""
    ramps = _as_ramps(ramps)
    plan = _plan(ramps.shape, subarray, readpatt, frequencies, nharmonics, ramps.dtype)
    if groupdq is not None and np.shape(groupdq) != ramps.shape:
        raise ValueError(f"groupdq has shape {np.shape(groupdq)}; expected the ramps' {ramps.shape}")
    blocks = _blocks_in_memory(ramps, groupdq, _block_ints(ramps.shape, block_bytes))
    return _fit_blocks(plan, blocks, pixeldq, keep_weights)


def _model(fit, integrations=slice(None), terms=slice(None), dtype=np.float64):
    """Fitted EMI of the chosen terms at every read of some integrations, (n, ngroups,
    positions), DN."""
    coefficients = fit["coefficients"].reshape(-1, 2)[terms]
    coefficients = np.where(np.isfinite(coefficients), coefficients, 0.0)
    # Re(C z h) with C = a - ib and z h = (start) x (group) x (position) factors: one real
    # product of (integration, group) factors with position factors.
    c = coefficients[:, 0] - 1j * coefficients[:, 1]
    factors = (c * fit["at_start"][integrations][:, terms])[:, None, :] * fit["patterns"][None, :, terms]
    position = fit["at_position"][:, terms]
    return (factors.real.astype(dtype) @ position.real.T.astype(dtype)
            - factors.imag.astype(dtype) @ position.imag.T.astype(dtype))


def _subtract_model(fit, ramps, integrations, out):
    """``out[:] = ramps - fitted EMI`` for a block of integrations, one integration at a time.

    The model is built at every pixel (the four channels' columns share a read time, hence a
    value) so that the subtraction runs over contiguous memory, in cache.
    """
    coefficients = np.where(np.isfinite(fit["coefficients"]), fit["coefficients"], 0.0).reshape(-1, 2)
    c = coefficients[:, 0] - 1j * coefficients[:, 1]
    position = np.repeat(fit["at_position"], N_CHANNELS, axis=0)  # (pixels, terms)
    work = np.dtype(out.dtype.kind + str(out.dtype.itemsize))  # native byte order
    # Re(F P) = [Re F, -Im F] @ [Re P; Im P]: one real product per integration writes the model in
    # a single pass over the pixels
    stacked_position = np.ascontiguousarray(np.concatenate([position.real.T, position.imag.T]), dtype=work)
    ngroups = ramps.shape[1]
    model = np.empty((ngroups, stacked_position.shape[1]), dtype=work)
    for index, i in enumerate(range(integrations.start, integrations.stop)):
        factors = c * fit["at_start"][i] * fit["patterns"]  # (groups, terms)
        stacked_factors = np.concatenate([factors.real, -factors.imag], axis=1).astype(work)
        np.matmul(stacked_factors, stacked_position, out=model)
        np.subtract(ramps[index].reshape(ngroups, -1), model, out=out[index].reshape(ngroups, -1),
                    casting="unsafe")


def correct(ramps, subarray, readpatt="FASTR1", frequencies=(390.625,), *, nharmonics=5,
            pixeldq=None, groupdq=None):
    """Ramps with the EMI of the given frequencies fitted and subtracted.

    All frequencies are fitted together (one least-squares problem) from what changes between
    groups, then the full EMI of each read is subtracted. Works from 3 groups up.

    Parameters
    ----------
    ramps : numpy.ndarray, shape (nints, ngroups, ny, nx)
        Raw or DN ramps (uint16 uncal data is fine), DN.
    subarray : str
        SUBARRAY keyword, e.g. "SLITLESSPRISM"; sets the readout clocks and the expected size.
    readpatt : str
        READPATT keyword: FAST, FASTR1, SLOW or SLOWR1.
    frequencies : sequence of float
        EMI frequencies to remove, Hz (390.625 and 10.039216 are the known MIRI ones).
    nharmonics : int
        Harmonics of each frequency in the waveform model (the waveform is not a sine).
    pixeldq : numpy.ndarray, shape (ny, nx), optional
        PIXELDQ; DO_NOT_USE pixels are left out of the fit.
    groupdq : numpy.ndarray, shape (nints, ngroups, ny, nx), optional
        GROUPDQ; pixels with a DO_NOT_USE or SATURATED read are left out of the fit, and those
        reads are returned unchanged.

    Returns
    -------
    numpy.ndarray, shape (nints, ngroups, ny, nx)
        New array in DN (float32 unless the input is float64). NaN and inf reads stay as they
        were; the input is not modified. If no pixel can be used the ramps come back unchanged.

    Raises
    ------
    ValueError
        Unknown subarray or read pattern, a shape that does not match the subarray, fewer than
        3 groups, or bad frequencies.

    Notes
    -----
    Measured with ``benchmarks/bench_emi.py`` on the emi_tso twin (SLITLESSPRISM, the flight
    390.625 Hz waveform, 4.87 DN fundamental, 4 integrations, 3 seeds), rms of the waveform left
    (harmonics 1-4), mean [range] at 3 / 5 / 7 / 8 / 10 / 20 groups: ours 3.3 [2.0-4.1] / 0.7 /
    0.3 / 0.4 / 0.3 / 0.25 %; jwst 3.0 EmiCorrStep joint, given the true waveform as its EMICORR
    reference, 2.9 [2.7-3.1] / 1.1 / 1.2 / 1.6 / 1.5 / 1.5 %; sequential 100 / 105 / 81 / 60 /
    21 / 3 %. At exactly 8 groups the 390 Hz phase repeats every 8 frames, so each pixel sees
    each EMI phase once; this fit does not mind (it uses the phase spread within a frame). At 3
    groups each pixel gives one number per integration beyond its line and the fit is
    noise-limited (about 0.2 DN rms with 2 integrations, 0.09 DN with 4, 0.06 DN with 8).
    """
    ramps = _as_ramps(ramps)
    dtype = np.float64 if ramps.dtype == np.float64 else np.float32
    fit = _fit(ramps, subarray, readpatt, frequencies, nharmonics, pixeldq, groupdq)
    if fit["npix_used"] == 0:
        return ramps.astype(dtype, copy=True)
    nints, ngroups, ny, nx = ramps.shape
    corrected = np.empty(ramps.shape, dtype)
    block_ints = _block_ints(ramps.shape, BLOCK_BYTES)
    for start in range(0, nints, block_ints):
        integrations = slice(start, min(start + block_ints, nints))
        _subtract_model(fit, ramps[integrations], integrations, corrected[integrations])
        if groupdq is not None:
            flagged = _flags(ramps[integrations], None, groupdq[integrations])
            corrected[integrations][flagged] = ramps[integrations][flagged]
    return corrected


def measure(ramps, subarray, readpatt="FASTR1", frequency=390.625, *, nharmonics=5, nbins=64,
            pixeldq=None, groupdq=None):
    """Amplitude, phase and phase-folded waveform of one EMI frequency in ramps.

    The waveform is fitted to the group differences (each pixel's straight line removed, see
    the module notes). The phase-folded data are each read minus its pixel's straight line
    fitted *after* removing the fitted EMI, averaged in phase bins: the EMI waveform plus noise.

    Parameters
    ----------
    ramps : numpy.ndarray, shape (nints, ngroups, ny, nx)
        Ramps, DN.
    subarray, readpatt : str
        SUBARRAY and READPATT keywords.
    frequency : float
        EMI frequency, Hz.
    nharmonics : int
        Harmonics in the waveform model.
    nbins : int
        Phase bins of the folded data.
    pixeldq, groupdq : numpy.ndarray, optional
        As in :func:`correct`.

    Returns
    -------
    dict
        ``frequency`` (Hz); ``amplitude`` (DN, semi-amplitude of the fundamental) and
        ``phase`` (cycles in [0, 1)) such that the fundamental is
        ``amplitude * cos(2 pi (frequency * t - phase))`` with ``t`` from
        :func:`pixel_read_times`; ``rms`` and ``peak_to_peak`` of the fitted waveform (DN);
        ``coefficients`` (nharmonics, 2) cosine/sine amplitudes (DN); ``phase_grid`` (nbins
        bin centres, cycles), ``waveform`` (fitted waveform there, DN), ``folded`` (folded
        data, DN; NaN in empty bins); ``npix_used`` (pixel-integrations in the fit);
        ``condition`` (condition number of the fit's normal matrix: large means the harmonics
        are nearly degenerate with straight lines for this number of groups).
        Amplitudes are NaN when no pixel could be used.
    """
    ramps = _as_ramps(ramps)
    fit = _fit(ramps, subarray, readpatt, [frequency], nharmonics, pixeldq, groupdq, keep_weights=True)
    coefficients = fit["coefficients"][0]
    nints, ngroups, ny, nx = ramps.shape
    nx4 = nx // N_CHANNELS
    phase_grid = (np.arange(nbins) + 0.5) / nbins
    fine = np.arange(1024) / 1024
    shape = waveform(fine, coefficients)
    in_frame, frame_clocks, _, starts = fit["clock"]
    folded_sum = np.zeros(nbins)
    folded_weight = np.zeros(nbins)
    line, _, _ = _group_basis(ngroups, frame_clocks, fit["harmonic_freqs"][:1])
    group_clocks = np.arange(ngroups, dtype=np.int64) * frame_clocks
    model = _model(fit) if fit["npix_used"] else None
    for i in range(nints if fit["npix_used"] else 0):
        weights = fit["weights"][i]
        reads = ramps[i].reshape(ngroups, ny * nx).astype(float)
        reads[:, weights == 0] = 0.0
        emi_reads = np.repeat(model[i], N_CHANNELS, axis=1)
        # Each read minus its pixel's line fitted without the EMI: the EMI plus noise.
        folded = reads - line @ (line.T @ (reads - emi_reads))
        wsum = weights.reshape(ny * nx4, N_CHANNELS).sum(axis=1)
        wdata = (folded * weights).reshape(ngroups, ny * nx4, N_CHANNELS).sum(axis=2)
        clocks = starts[i] + group_clocks[:, None] + in_frame.ravel()[None, :]
        bins = (np.mod(clocks * PIXEL_CLOCK_S * frequency, 1.0) * nbins).astype(int) % nbins
        folded_sum += np.bincount(bins.ravel(), weights=wdata.ravel(), minlength=nbins)
        folded_weight += np.bincount(bins.ravel(), weights=np.broadcast_to(wsum, bins.shape).ravel(),
                                     minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        folded = np.where(folded_weight > 0, folded_sum / folded_weight, np.nan)
    a, b = coefficients[0]
    return {
        "frequency": float(frequency),
        "amplitude": float(np.hypot(a, b)),
        "phase": float(np.mod(np.arctan2(b, a) / (2 * np.pi), 1.0)) if np.isfinite(a) else np.nan,
        "rms": float(np.sqrt(np.mean(shape**2))),
        "peak_to_peak": float(np.ptp(shape)),
        "coefficients": coefficients,
        "phase_grid": phase_grid,
        "waveform": waveform(phase_grid, coefficients),
        "folded": folded,
        "npix_used": fit["npix_used"],
        "condition": fit["condition"],
    }


def measure_blocks(blocks, shape, subarray, readpatt="FASTR1", frequencies=(390.625,), *, nharmonics=5,
                   pixeldq=None, dtype=np.float32):
    """Amplitude and phase of several EMI frequencies, each fitted on its own, in one pass over
    blocks of integrations (a file read a chunk at a time, :func:`lrs_helpers.io.ramp_chunks`).

    Each frequency gets the fit of :func:`measure` (the same numbers), without the phase-folded
    data; the data are read once for all of them.

    Parameters
    ----------
    blocks : iterable of (slice, numpy.ndarray, numpy.ndarray or None)
        ``(integrations, ramps, groupdq)``: a slice of the exposure's integrations, their ramps
        (n, ngroups, ny, nx) in DN and GROUPDQ (or None), in order.
    shape : tuple of int
        Shape of the whole exposure, (nints, ngroups, ny, nx).
    subarray, readpatt : str
        SUBARRAY and READPATT keywords.
    frequencies : sequence of float
        EMI frequencies, Hz, each fitted separately.
    nharmonics : int or sequence of int
        Harmonics in the waveform model: one number for all, or one per frequency.
    pixeldq : numpy.ndarray, shape (ny, nx), optional
        PIXELDQ; DO_NOT_USE pixels are left out.
    dtype : numpy.dtype
        Working precision: float64 for float64 ramps, else float32 (as :func:`measure`).

    Returns
    -------
    list of dict
        One per frequency: ``frequency`` (Hz), ``amplitude`` (DN, semi-amplitude of the
        fundamental), ``phase`` (cycles), ``coefficients`` (nharmonics, 2) DN, ``npix_used``
        and ``condition``, as in :func:`measure`; NaN amplitudes when no pixel could be used or
        the frequency cannot be seen in these ramps.
    """
    frequencies = np.atleast_1d(np.asarray(frequencies, dtype=float))
    harmonics = np.broadcast_to(np.asarray(nharmonics, dtype=int), frequencies.shape)
    fits = [_Accumulator(_plan(shape, subarray, readpatt, [f], int(n), dtype), pixeldq)
            for f, n in zip(frequencies, harmonics)]
    if any(fit.plan.rank for fit in fits):
        for integrations, ramps, groupdq in blocks:
            for fit in fits:
                fit.add(integrations, ramps, groupdq)
    found = []
    for frequency, fit in zip(frequencies, fits):
        result = fit.result()
        a, b = result["coefficients"][0][0]
        found.append({"frequency": float(frequency), "amplitude": float(np.hypot(a, b)),
                      "phase": float(np.mod(np.arctan2(b, a) / (2 * np.pi), 1.0)) if np.isfinite(a) else np.nan,
                      "coefficients": result["coefficients"][0], "npix_used": result["npix_used"],
                      "condition": result["condition"]})
    return found


def periodogram(ramps, subarray, readpatt="FASTR1", *, integration=0, min_frequency=1.0,
                max_frequency=1000.0, samples_per_peak=5):
    """Lomb-Scargle power of the time-ordered pixel stream of one integration.

    Each pixel's straight line over the groups is removed (bias and source), the four channels
    read at the same instant are combined by their median, and the values are ordered by read
    time (:func:`pixel_read_times`): a time series sampled every 10 us within a frame.

    Parameters
    ----------
    ramps : numpy.ndarray, shape (nints, ngroups, ny, nx)
        Ramps, DN.
    subarray, readpatt : str
        SUBARRAY and READPATT keywords.
    integration : int
        Which integration to use.
    min_frequency, max_frequency : float
        Frequency range, Hz.
    samples_per_peak : int
        Frequency grid oversampling (astropy ``autofrequency``).

    Returns
    -------
    frequency : numpy.ndarray
        Hz.
    power : numpy.ndarray
        Lomb-Scargle power ("standard" normalisation, 0..1).
    """
    ramps = _as_ramps(ramps)
    nints, ngroups, ny, nx = ramps.shape
    if not -nints <= integration < nints:
        raise ValueError(f"integration {integration} is out of range for {nints} integrations")
    in_frame, frame_clocks, reset_clocks = _clock_model(ny, nx, subarray, readpatt)
    start = _integration_starts(nints, ngroups, frame_clocks, reset_clocks)[integration]
    reads = ramps[integration].reshape(ngroups, ny * nx).astype(float)
    reads[:, ~np.all(np.isfinite(reads), axis=0)] = np.nan
    g = np.arange(ngroups) - (ngroups - 1) / 2
    slope = np.einsum("g,gp->p", g, reads) / np.sum(g**2)
    residual = reads - reads.mean(axis=0) - np.outer(g, slope)
    stream = np.nanmedian(residual.reshape(ngroups, ny * (nx // N_CHANNELS), N_CHANNELS), axis=2)
    times = (start + np.arange(ngroups)[:, None] * frame_clocks + in_frame.ravel()[None, :]) * PIXEL_CLOCK_S
    good = np.isfinite(stream)
    if good.sum() < 3:
        raise ValueError("fewer than 3 finite pixel reads: no periodogram can be formed")
    ls = LombScargle(times[good], stream[good])
    frequency, power = ls.autopower(
        minimum_frequency=min_frequency, maximum_frequency=max_frequency,
        samples_per_peak=samples_per_peak, method="fast",
    )
    return frequency, power


def rate_images(ramps, group_time=None):
    """Per-integration slopes of ramps by an ordinary least-squares line over all groups.

    Parameters
    ----------
    ramps : numpy.ndarray, shape (nints, ngroups, ny, nx)
        Ramps, DN.
    group_time : float, optional
        Group time (TGROUP), s; without it the slopes are in DN/group.

    Returns
    -------
    numpy.ndarray of float64, shape (nints, ny, nx)
        Slopes, DN/s (or DN/group); NaN for pixels with a non-finite read.
    """
    ramps = np.asarray(ramps)
    if ramps.ndim != 4 or ramps.shape[1] < 2:
        raise ValueError(f"ramps must be (nints, ngroups >= 2, ny, nx); got shape {ramps.shape}")
    g = np.arange(ramps.shape[1]) - (ramps.shape[1] - 1) / 2
    slopes = np.einsum("g,igyx->iyx", g, ramps.astype(float)) / np.sum(g**2)
    return slopes / group_time if group_time else slopes


def stripe_rms(rates, smooth_rows=31):
    """How striped rate images are: rms of the row-median profile about its running median.

    For each image, the median over columns of every row (robust to the spectral trace, which
    covers a few columns) is compared with its running median over ``smooth_rows`` rows (which
    follows the smooth background and spectrum but not the 390 Hz stripes, whose period is
    about 9 rows in SLITLESSPRISM); the rms of the difference is the stripe amplitude.

    Parameters
    ----------
    rates : numpy.ndarray, shape (ny, nx) or (nints, ny, nx)
        Rate image(s), any units.
    smooth_rows : int
        Width of the running median, rows.

    Returns
    -------
    float
        Stripe rms in the units of ``rates``; for several integrations the quadratic mean over
        them (per-integration images, as in rateints: EMI stripes shift between integrations
        and partly average out in a mean image).
    """
    rates = np.asarray(rates, dtype=float)
    if rates.ndim == 2:
        rates = rates[None]
    if rates.ndim != 3:
        raise ValueError(f"rates must be 2-D or 3-D; got shape {rates.shape}")
    squares = []
    for image in rates:
        rows = np.nanmedian(image, axis=1)
        rows = rows[np.isfinite(rows)]
        if rows.size == 0:
            continue
        squares.append(np.mean((rows - median_filter(rows, size=smooth_rows, mode="nearest")) ** 2))
    return float(np.sqrt(np.mean(squares))) if squares else np.nan


def fit_periodic(times, values, frequency, nharmonics=1):
    """Ordinary least-squares harmonics of a periodic signal sampled at known times.

    A plain check for arrays that hold only EMI (and noise), e.g. corrected minus EMI-free
    ramps: no straight lines are removed, a constant is fitted alongside.

    Parameters
    ----------
    times : array_like
        Sample times, s (e.g. :func:`pixel_read_times`).
    values : array_like, same shape
        Samples, DN; non-finite samples are ignored.
    frequency : float
        Hz.
    nharmonics : int
        Harmonics to fit.

    Returns
    -------
    numpy.ndarray, shape (nharmonics, 2)
        Cosine and sine amplitudes, DN (the convention of :func:`emi_signal`).
    """
    times = np.asarray(times, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    if times.shape != values.shape:
        raise ValueError(f"times and values differ in size: {times.size} and {values.size}")
    nterms = 1 + 2 * int(nharmonics)
    # Normal equations summed over blocks of samples: the harmonics are well conditioned on
    # many samples, and no design matrix of the data's size is ever held.
    normal, rhs = np.zeros((nterms, nterms)), np.zeros(nterms)
    for start in range(0, times.size, _FIT_SAMPLES):
        block_times, block_values = times[start:start + _FIT_SAMPLES], values[start:start + _FIT_SAMPLES]
        good = np.isfinite(block_values) & np.isfinite(block_times)
        cycles = np.mod(block_times[good] * frequency, 1.0)
        columns = [np.ones(cycles.size)]
        for k in range(1, int(nharmonics) + 1):
            angle = 2 * np.pi * np.mod(k * cycles, 1.0)
            columns += [np.cos(angle), np.sin(angle)]
        design = np.stack(columns, axis=1)
        normal += design.T @ design
        rhs += design.T @ block_values[good]
    solution = np.linalg.lstsq(normal, rhs, rcond=None)[0]
    return solution[1:].reshape(-1, 2)


#: samples per block of :func:`fit_periodic`'s normal equations (a 1M x 11 design is 88 MB)
_FIT_SAMPLES = 1_000_000


# --------------------------------------------------------------------------------------------
# Edges: products, the jwst step, widgets
# --------------------------------------------------------------------------------------------


def _open_ramps(path_or_model):
    """Open an uncal/ramp product (checked by lrs_helpers.io) and return it with its facts."""
    model = open_product(path_or_model, levels=("uncal", "ramp"))
    name = model.meta.filename or "<model>"
    subarray = model.meta.subarray.name
    readpatt = model.meta.exposure.readpatt
    try:
        _clock_model(*model.data.shape[2:], subarray, readpatt)
    except ValueError as error:
        raise LRSInputError(f"{name}: {error}") from None
    return model, subarray, readpatt


def to_ramp_model(path_or_model):
    """A new float32 RampModel (DN) from an uncal or ramp product, for EMI correction.

    Parameters
    ----------
    path_or_model : path-like or DataModel
        ``*_uncal.fits`` (Level1bModel, uint16) or ``*_ramp.fits`` (RampModel).

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        New model with the input's metadata, SCI as float32, PIXELDQ/GROUPDQ (zero when the
        input has none, as in uncal files).
    """
    from stdatamodels.jwst import datamodels

    model, _, _ = _open_ramps(path_or_model)
    ny, nx = model.data.shape[2:]
    pixeldq = getattr(model, "pixeldq", None)
    groupdq = getattr(model, "groupdq", None)
    ramp = datamodels.RampModel(
        data=np.asarray(model.data, dtype=np.float32),
        pixeldq=np.zeros((ny, nx), np.uint32) if pixeldq is None or pixeldq.size == 0 else pixeldq.copy(),
        groupdq=np.zeros(model.data.shape, np.uint8) if groupdq is None or groupdq.size == 0 else groupdq.copy(),
    )
    ramp.update(model)
    ramp.meta.filename = model.meta.filename
    return ramp


def _progress(total, label, enabled):
    """A callback drawing a one-line progress bar on stderr (when ``enabled``)."""
    def update(done):
        if not enabled:
            return
        filled = int(30 * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} integrations")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return update


def ramp_model_from_array(ramps, subarray="SLITLESSPRISM", readpatt="FASTR1"):
    """A minimal MIRI RampModel around ramps held in memory, e.g. to run EmiCorrStep on them.

    Parameters
    ----------
    ramps : numpy.ndarray, shape (nints, ngroups, ny, nx)
        DN (stored as float32 in the model).
    subarray, readpatt : str
        SUBARRAY and READPATT; the frame must have the subarray's size.

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        MIRIMAGE, MIR_LRS-SLITLESS, zero PIXELDQ and GROUPDQ.
    """
    from stdatamodels.jwst import datamodels

    ramps = _as_ramps(ramps)
    nints, ngroups, ny, nx = ramps.shape
    _clock_model(ny, nx, subarray, readpatt)
    model = datamodels.RampModel(data=ramps.astype(np.float32), pixeldq=np.zeros((ny, nx), np.uint32),
                                 groupdq=np.zeros(ramps.shape, np.uint8))
    model.meta.instrument.name, model.meta.instrument.detector = "MIRI", "MIRIMAGE"
    model.meta.exposure.type, model.meta.exposure.readpatt = "MIR_LRS-SLITLESS", readpatt.upper()
    model.meta.exposure.nints, model.meta.exposure.ngroups = nints, ngroups
    model.meta.exposure.nsamples = READ_PATTERNS[readpatt.upper()][0]
    model.meta.subarray.name = subarray.upper()
    model.meta.subarray.xsize, model.meta.subarray.ysize = nx, ny
    model.meta.subarray.xstart = 1
    model.meta.subarray.ystart = 529 if subarray.upper() == "SLITLESSPRISM" else 1
    return model


def correct_file(path, out_path=None, *, frequencies=(390.625, 10.039216), nharmonics=5, overwrite=False,
                 chunk_bytes=BLOCK_BYTES, progress=None):
    """Remove EMI from an uncal/ramp product and write a new ramp product, in bounded memory.

    Whole TSO segments (gigabytes) are streamed: the integrations are read ``chunk_bytes`` at a
    time (their float32 size) in a first pass that accumulates the fit's normal equations (the
    first chunk also sets the pixel weights, see :func:`correct`), and a second pass that
    subtracts the fitted EMI and writes each chunk to the output. No array of the file's size
    is ever held: measured on a 2.06 GB uncal (1000 x 36 x 416 x 72) with 256 MB chunks, the
    peak resident memory was 622 MB, about 2 chunks plus the libraries
    (``benchmarks/bench_emi_memory.py``); 678-686 MB on each of four 2.16 GB segments
    (``benchmarks/bench_tso.py``). BLAS runs on one thread here (:func:`blas_threads`).

    Parameters
    ----------
    path : path-like
        ``*_uncal.fits`` or ``*_ramp.fits`` of a MIRI subarray exposure.
    out_path : path-like, optional
        Output file; default beside the input, ``<root>_emicorr_ramp.fits``. Never the input.
    frequencies : sequence of float
        EMI frequencies to remove, Hz.
    nharmonics : int
        Harmonics per frequency.
    overwrite : bool
        Replace an existing ``out_path`` (never the input file).
    chunk_bytes : int
        Size of one chunk of integrations as float32, bytes (at least one integration).
    progress : bool, optional
        Draw a progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    pathlib.Path
        The written RampModel (SCI float32 DN, PIXELDQ and GROUPDQ from the input or zero,
        INT_TIMES, ``S_MIREMI = 'COMPLETE'``), written to a temporary name and renamed; its
        provenance keywords record the parameters and the fitted 390 Hz amplitude.
    """
    from stdatamodels.jwst import datamodels

    path = Path(path)
    check_product(path, levels=("uncal", "ramp"))
    if out_path is None:
        root = path.name.split("_uncal.fits")[0].split("_ramp.fits")[0].removesuffix(".fits")
        out_path = path.with_name(f"{root}_emicorr_ramp.fits")
    out_path = Path(out_path)
    if out_path.exists():
        if os.path.samefile(out_path, path):
            raise FileExistsError(f"{out_path}: this is the input file; expected a new path. Nothing in "
                                  "lrs_helpers writes over its input: choose another name.")
        if not overwrite:
            raise FileExistsError(f"{out_path}: file exists; expected a new path. Pass overwrite=True "
                                  "to replace it, or choose another name.")
    chunks = IntegrationChunks(path)
    shape, names = chunks.shape, chunks.extensions
    # the input's metadata from a copy holding only its first integration
    model = open_metadata(path)
    subarray, readpatt = model.meta.subarray.name, model.meta.exposure.readpatt
    try:
        plan = _plan(shape, subarray, readpatt, frequencies, nharmonics, np.float32)
    except ValueError as error:
        raise LRSInputError(f"{path}: {error}") from None
    if shape[1] < 3:
        raise LRSInputError(f"{path}: EMI fitting needs at least 3 groups per integration; got {shape[1]}")
    nints, ngroups, ny, nx = shape
    pixeldq = np.asarray(model.pixeldq).copy() if "PIXELDQ" in names else None
    # The output's metadata and small arrays, from a one-integration template.
    template = datamodels.RampModel(
        data=np.zeros((1, ngroups, ny, nx), np.float32),
        pixeldq=np.zeros((ny, nx), np.uint32) if pixeldq is None else pixeldq,
        groupdq=np.zeros((1, ngroups, ny, nx), np.uint8))
    template.update(model)
    if "INT_TIMES" in names:
        template.int_times = np.asarray(model.int_times).copy()
    model.close()
    template.meta.cal_step.emicorr = "COMPLETE"
    template.meta.filename = out_path.name

    block_ints = _block_ints(shape, chunk_bytes)
    show = sys.stderr.isatty() if progress is None else bool(progress)

    def blocks(hdul, label):
        update = _progress(nints, label, show)
        for start in range(0, nints, block_ints):
            integrations = slice(start, min(start + block_ints, nints))
            groupdq = np.asarray(hdul["GROUPDQ"].section[integrations]) if "GROUPDQ" in names else None
            yield integrations, read_integrations(hdul["SCI"], integrations), groupdq
            update(integrations.stop)

    with blas_threads(), fits.open(path, memmap=False, do_not_scale_image_data=True) as hdul:
        fit = _fit_blocks(plan, blocks(hdul, "EMI fit     "), pixeldq)
    buffer = io.BytesIO()
    template.to_fits(buffer)
    buffer.seek(0)
    tmp = scratch_file(out_path)  # beside the target, named so a killed run's copy is cleaned
    try:
        with blas_threads(), fits.open(buffer) as parts, \
                fits.open(path, memmap=False, do_not_scale_image_data=True) as hdul:
            primary = parts[0].header.copy()
            amplitudes = {f"{f:g}": round(float(np.hypot(*c[0])), 4) for f, c in
                          zip(np.atleast_1d(frequencies), fit["coefficients"])}
            record_provenance(primary, correct_file, {
                "input": path.name, "frequencies": [float(f) for f in np.atleast_1d(frequencies)],
                "nharmonics": nharmonics, "fitted_amplitude_dn": amplitudes})
            fits.PrimaryHDU(header=primary).writeto(tmp, overwrite=True)
            for part in parts[1:]:
                if part.name == "SCI":
                    header = part.header.copy()
                    header["NAXIS4"] = nints
                    stream = fits.StreamingHDU(str(tmp), header)
                    for integrations, ramps, groupdq in blocks(hdul, "EMI subtract"):
                        # big-endian, as FITS stores it, so that writing needs no byte-swapped copy
                        corrected = np.empty(ramps.shape, ">f4")
                        _subtract_model(fit, ramps, integrations, corrected)
                        if groupdq is not None:
                            flagged = _flags(ramps, None, groupdq)
                            corrected[flagged] = ramps[flagged]
                        del ramps
                        stream.write(corrected)
                    stream.close()
                elif part.name == "GROUPDQ":
                    header = part.header.copy()
                    header["NAXIS4"] = nints
                    stream = fits.StreamingHDU(str(tmp), header)
                    for start in range(0, nints, block_ints):
                        integrations = slice(start, min(start + block_ints, nints))
                        stream.write(np.asarray(hdul["GROUPDQ"].section[integrations], np.uint8)
                                     if "GROUPDQ" in names
                                     else np.zeros((integrations.stop - start, ngroups, ny, nx), np.uint8))
                    stream.close()
                else:
                    with fits.open(tmp, mode="append") as target:
                        target.append(part.copy())
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        publish(tmp, out_path)
    except OSError as error:
        if isinstance(error, LRSOutputError):
            raise
        raise output_error(out_path, error) from error
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def write_emicorr_reference(path, coefficients=None, frequency=390.625, *, subarray="SLITLESSPRISM",
                            nbins=None, overwrite=False):
    """Write an EMICORR reference file (jwst ``EmiModel``, ASDF) holding one EMI waveform.

    The CRDS EMICORR references are not available offline; this builds one in the same format
    (the one jwst's ``mk_reffile`` writes) so that EmiCorrStep's default ``algorithm='joint'``
    can run: ``frequencies.Hz390.phase_amplitudes`` is one period of the waveform sampled at
    bin centres ``(i + 0.5) / nbins``, and ``subarray_cases`` names the subarray's clocks and the
    frequency for FAST and SLOW (MIRIMAGE) readouts.

    Parameters
    ----------
    path : path-like
        Target file, ``*.asdf`` (written to a temporary name, then renamed).
    coefficients : array_like, shape (nharmonics, 2), optional
        Waveform as in :func:`emi_signal`, DN; default the flight-measured SLITLESSPRISM
        waveform (:func:`flight_waveform`).
    frequency : float
        Hz; named ``Hz390`` or ``Hz10`` when it is one of the known MIRI frequencies.
    subarray : str
        Subarray case to write (its clocks from :data:`SUBARRAY_CLOCKS`).
    nbins : int, optional
        Samples per period; default one per pixel clock in a period (256 at 390.625 Hz).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from stdatamodels.jwst import datamodels

    path = Path(path)
    if path.suffix != ".asdf":
        raise ValueError(f"{path}: an EMICORR reference is an ASDF file; expected a name ending in .asdf")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: file exists; pass overwrite=True or choose another name")
    if subarray not in SUBARRAY_CLOCKS:
        raise ValueError(f"unknown subarray case {subarray!r}; expected one of {sorted(SUBARRAY_CLOCKS)}")
    coefficients = flight_waveform() if coefficients is None else np.asarray(coefficients, dtype=float)
    nbins = int(nbins or round(1.0 / frequency / PIXEL_CLOCK_S))
    names = {value: key for key, value in EMI_FREQUENCIES_HZ.items()}
    name = names.get(frequency, f"Hz{frequency:g}".replace(".", "p"))
    rowclocks, frameclocks = SUBARRAY_CLOCKS[subarray]
    model = datamodels.EmiModel()
    model.frequencies = {name: {"frequency": float(frequency),
                                "phase_amplitudes": waveform((np.arange(nbins) + 0.5) / nbins, coefficients)}}
    model.subarray_cases = {subarray: {"rowclocks": rowclocks, "frameclocks": frameclocks,
                                       "freqs": {"FAST": [name], "SLOW": {"MIRIMAGE": [name]}}}}
    model.meta.reftype = "emicorr"
    model.meta.author = "lrs_helpers"
    model.meta.description = f"EMI waveform at {frequency} Hz ({subarray}), built by lrs_helpers.emi"
    model.meta.pedigree = "DUMMY"
    model.meta.useafter = "2022-01-01T00:00:00"
    # scratch beside the target (umask permissions, cleaned if the process is killed), then renamed
    tmp = scratch_file(path)
    try:
        try:
            model.to_asdf(str(tmp))
        except OSError as error:
            raise output_error(path, error) from error
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def run_jwst_emicorr(path_or_model, algorithm="joint", *, reference=None, frequencies=(390.625,),
                     **step_params):
    """The jwst EmiCorrStep on an uncal/ramp product, offline.

    Parameters
    ----------
    path_or_model : path-like or DataModel
        Uncal or ramp product (converted with :func:`to_ramp_model`; the input is not changed).
    algorithm : {"joint", "sequential"}
        "joint" (jwst 3.0's default) fits the amplitude and phase of the waveform in
        ``reference``; "sequential" builds each waveform from the data
        (``onthefly_corr_freq=frequencies``), which is what jwst falls back to without an
        EMICORR reference.
    reference : path-like, optional
        EMICORR reference file for "joint" (e.g. from :func:`write_emicorr_reference`).
    frequencies : sequence of float
        Hz, for "sequential".
    **step_params
        Other EmiCorrStep parameters.

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        The step's output.
    """
    from jwst.emicorr import EmiCorrStep

    if algorithm == "joint":
        if reference is None:
            raise ValueError("algorithm='joint' needs an EMICORR reference file (reference=...); "
                             "write one with emi.write_emicorr_reference")
        params = {"override_emicorr": str(reference)}
    elif algorithm == "sequential":
        params = {"onthefly_corr_freq": [float(f) for f in frequencies]}
    else:
        raise ValueError(f"algorithm must be 'joint' or 'sequential', not {algorithm!r}")
    return run_step(EmiCorrStep, to_ramp_model(path_or_model), skip=False, algorithm=algorithm,
                    **params, **step_params)


def simulated_ramps(ngroups, nints=2, seed=0, *, coefficients=None, frequency=390.625):
    """Small synthetic SLITLESSPRISM ramps with EMI, for the explorer and examples.

    Parameters
    ----------
    ngroups, nints : int
        Groups and integrations (FASTR1 clocks).
    seed : int
        Random seed.
    coefficients : array_like, shape (nharmonics, 2), optional
        EMI waveform (DN, as in :func:`emi_signal`); default the flight-measured one
        (:func:`flight_waveform` at phase offset 0.3).

    Returns
    -------
    ramps, clean : numpy.ndarray
        float64 (nints, ngroups, 416, 72) DN with and without the EMI: 50 DN/group sky, 4.17 DN
        read noise per read, a fixed bias pattern, no source.
    """
    rng = np.random.default_rng(seed)
    ny, nx = SUBARRAY_SHAPES["SLITLESSPRISM"]
    coefficients = flight_waveform(0.3) if coefficients is None else coefficients
    clean = (12310.0 + rng.normal(0, 150, (ny, nx)) + 8.0 * np.arange(ngroups)[None, :, None, None]
             + rng.normal(0, 5.9 / np.sqrt(2), (nints, ngroups, ny, nx)))
    times = pixel_read_times(nints, ngroups, ny, nx)
    return clean + emi_signal(times, frequency, coefficients), clean


def explorer():
    """Widgets: injected EMI amplitude, number of groups and assumed frequency -> residual.

    Builds small synthetic SLITLESSPRISM ramps (2 integrations) with a 390.625 Hz EMI of the
    chosen amplitude, corrects them assuming the chosen frequency, and shows the row profile
    of the rate image (EMI stripes) before and after, with the residual amplitude.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    output = widgets.Output()

    def update(amplitude, ngroups, frequency):
        flight = flight_waveform(0.3)
        ramps, clean = simulated_ramps(ngroups, coefficients=flight * amplitude / np.hypot(*flight[0]))
        corrected = correct(ramps, "SLITLESSPRISM", "FASTR1", (frequency,))
        times = pixel_read_times(*ramps.shape)
        left = np.hypot(*fit_periodic(times, corrected - clean, 390.625)[0])
        truth = rate_images(clean)[0]
        with output:
            output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(8, 3.2))
            for data, label in ((ramps, "before"), (corrected, "after")):
                ax.plot(np.median(rate_images(data)[0] - truth, axis=1), label=label, lw=1)
            ax.set_xlabel("row")
            ax.set_ylabel("row median of rate error (DN/group)")
            share = f"{100 * left / amplitude:.1f}%" if amplitude > 0 else "n/a"
            ax.set_title(f"{ngroups} groups, {amplitude:.1f} DN EMI, corrected at {frequency:.3f} Hz: "
                         f"{left:.3f} DN left ({share})")
            ax.legend(loc="upper right")
            plt.show()

    controls = widgets.interactive(
        update,
        amplitude=widgets.FloatSlider(value=5.0, min=0.0, max=10.0, step=0.5, description="EMI (DN)"),
        ngroups=widgets.IntSlider(value=8, min=3, max=20, description="groups"),
        frequency=widgets.FloatSlider(value=390.625, min=390.0, max=391.25, step=0.005,
                                      readout_format=".3f", description="assumed Hz"),
    )
    return widgets.VBox([controls, output])
