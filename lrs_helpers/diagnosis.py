"""Diagnose any MIRI LRS product: run every known-issue check that applies to it.

:func:`diagnose` opens a product (uncal, ramp, rate, rateints, cal, calints, s2d, x1d, x1dints
or a target-acquisition image) through :func:`lrs_helpers.io.open_product`, runs the checks that
apply to its level and mode, and returns a :class:`Report`: one :class:`Finding` per check, with
a severity, a one-line message, the measured numbers with their units and the walkthrough
notebook to read. Each check is a small function that calls the helper module of its issue; the
maths lives there, not here.

* ``emi``: uncal / ramp of a subarray (not FULL) -> :func:`lrs_helpers.emi.measure_blocks`;
* ``jump_peak_flags``: uncal / ramp with >= 5 groups and >= 2 integrations ->
  :func:`lrs_helpers.jumps.detect_jumps`;
* ``slitless_background``: slitless rate, rateints, cal, calints, crf, crfints ->
  :func:`lrs_helpers.background.edge_background`;
* ``dropouts``: cal, calints, s2d, x1d, x1dints -> :func:`lrs_helpers.jumps.find_dropouts`;
* ``foldover``: slitless cal, calints, crf, crfints, x1d, x1dints -> :mod:`lrs_helpers.foldover`;
* ``err_vs_scatter``: x1dints -> :func:`lrs_helpers.errors.read_spectra` and
  :func:`lrs_helpers.errors.measure_factor`;
* ``nod_disparity``: a pair of slit x1d nods -> :func:`lrs_helpers.pathloss.nod_ratio`;
* ``pointing``: TA image (MIR_TACQ / MIR_TACONFIRM, rate or cal) -> :func:`lrs_helpers.pointing.ta_centroid`;
* ``ta_exposure_time``: TA image -> :func:`lrs_helpers.pointing.ta_exposure_time` (FASTGRPAVG rates).

Severities (:data:`SEVERITIES`, mildest first):

``ok``
    The check ran and found nothing beyond its threshold.
``info``
    Something worth knowing that needs no action (e.g. the fold-over rows are present, for a
    source whose colour the calibration handles).
``warning``
    The known issue is present above its threshold: results are affected; the notebook shows
    the workaround.
``problem``
    The issue is large: a flux or a transit depth biased by 10 % or more
    (:data:`PROBLEM_FRACTION`), or errors off by a factor of 2.
``failed``
    The check could not run on this product (the message says why).

A report's :attr:`Report.exit_code` is 2 when a check failed, 1 when any finding is a warning or
a problem, else 0 (the ``lrs-helpers diagnose`` exit code).

TSO products are read a chunk of integrations at a time, never whole: ramps (uncal, ramp)
through :class:`lrs_helpers.io.IntegrationChunks`, images (rateints, calints, crfints) through
:class:`lrs_helpers.io.CubeChunks`, x1dints spectra a chunk of table rows at a time
(:func:`lrs_helpers.io.read_table_columns`), each check keeping only what its finding needs
(``benchmarks/bench_tso.py`` measures time and memory on 2 GB segments);
:func:`diagnose_files` runs many files at once on Dask workers (``scheduler``). The other
levels (rate, cal, s2d, x1d, TA images: one image or spectrum each) are opened whole, as
datamodels.

Nod pairs: the nod check needs both nods' x1d products. Give the second one as ``partner``;
without it, :func:`diagnose` looks in the same folder for the file whose name differs only in
the exposure number (``..._00001_mirimage_x1d.fits`` <-> ``..._00002_...``), as jwst names the
two nods of an ALONG-SLIT-NOD pattern. :func:`diagnose_files` pairs the slit x1d files it is
given in the same way.
"""

import base64
import contextlib
import html
import io as _bytes_io
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure

from . import (__version__, background, emi, errors, foldover, instrument, io, jumps, pathloss, pointing,
               scattered_light, segments)
from .io import output_error, publish, scratch_file

#: median absolute deviation -> standard deviation, for normal noise
_MAD_TO_SIGMA = 1.482602218505602

#: Severities, mildest first (see the module notes).
SEVERITIES = ("ok", "info", "warning", "problem", "failed")
#: Severities that make a report (and the command line) exit with code 1.
ACTION_SEVERITIES = ("warning", "problem")

# --- thresholds, with where they come from -------------------------------------------------
#: EMI: a 390 Hz semi-amplitude at or above this (DN) is reported. jwst's EmiCorrStep leaves
#: 0.73 DN of the twin's 3.5 DN in 10 SLITLESSPRISM groups (notebook 03), so an amplitude below
#: 0.5 DN is less than what the pipeline's own correction leaves behind; the fit's noise floor on
#: EMI-free ramps is ~0.01 DN (amplitudes measured at off frequencies, see EMI_NULL_FREQUENCIES_HZ).
EMI_THRESHOLD_DN = 0.5
#: ... and it must stand this many times above the amplitude found at frequencies with no EMI.
EMI_MIN_SIGNIFICANCE = 5.0
#: Frequencies (Hz) with no MIRI EMI line, not harmonics of 390.625 or 10.039216 Hz: the
#: amplitudes measured there estimate the fit's noise floor on the product itself.
EMI_NULL_FREQUENCIES_HZ = (271.3, 347.9, 419.3, 457.1)
#: Jump flags on the trace peak: a peak pixel flagged in at least this fraction of the
#: integrations, and in at least JUMP_MIN_INTEGRATIONS of them (all of them when there are
#: fewer), is a systematic false flag, not a cosmic ray: cosmic rays (with the neighbours the
#: jump step flags around them) touch a given pixel in a few per cent of integrations at most.
#: On the 3-integration jump twin, "2 of 3" also caught one pixel hit in two integrations.
JUMP_MIN_INTEGRATION_FRACTION = 0.5
JUMP_MIN_INTEGRATIONS = 3
#: Slitless background: the edge level must be this many standard errors from zero ...
BACKGROUND_MIN_SIGNIFICANCE = 5.0
#: ... and at least this fraction of the aperture signal (5-12 um) to be a warning: 1 % of the
#: signal dilutes a transit depth by 1 % of itself, the level of the best LRS TSO precision.
BACKGROUND_WARNING_FRACTION = 0.01
#: Extraction aperture of the CRDS EXTRACT1D reference for MIR_LRS-SLITLESS (xstart 30, xstop 41,
#: jwst_miri_extract1d_0005.json), 0-based, stop excluded.
SLITLESS_APERTURE = (30, 42)
#: Wavelengths (um) over which aperture signal and background are compared, and over which the
#: ERR factor is summarised: the well-calibrated part of the band.
BAND_UM = (5.0, 12.0)
#: Any bias of this fraction or more is a "problem" rather than a "warning".
PROBLEM_FRACTION = 0.10
#: ERR against scatter: spectra needed (from 3 on they are detrended in time with a running
#: median, which needs 3).
ERR_MIN_SPECTRA = 2
#: ... and the first this many consecutive spectra are enough: the factor of a 16-wavelength
#: block is then known to about 1/sqrt(2 x 2048 x 16) = 0.4%, fifty times finer than
#: ERR_TOLERANCE; more only costs memory and time (the bootstrap and the running median of
#: 19225 integrations, a 1 GB x1dints, take 1.2 GB and 35 s; 2048 take ~0.1 GB and ~4 s).
ERR_MAX_SPECTRA = 2048
#: ERR factor (measured / reported) further than this from 1 is reported. With its true errors
#: put back, the slitless twin (24 integrations, transit, drifting sky) gives 1.08-1.10 (three
#: bootstrap seeds): the detrended bootstrap's own bias; the twin's injected factor is 1.16-2.0
#: (median 1.47 over 5-12 um).
ERR_TOLERANCE = 0.2
#: ... and it must be this many standard errors from 1.
ERR_MIN_SIGNIFICANCE = 5.0
#: Colour fit range (um) for the fold-over check: red of the fold rows, where the LRS
#: calibration is best.
COLOUR_RANGE_UM = (5.5, 10.0)
#: Nod disparity and pointing: 2 % is the nod-to-nod repeatability of LRS slit spectra
#: (:data:`lrs_helpers.pathloss.DEFAULT_REPEATABILITY`).
NOD_TOLERANCE = 0.02
#: Pointing: a flux loss at 10 um (the wavelength of the largest loss, notebook 08) above the
#: nod repeatability is reported.
POINTING_LOSS_TOLERANCE = 0.02
POINTING_WAVELENGTH_UM = 10.0

#: Usable data: a product with less than this share of usable values (finite, not DO_NOT_USE,
#: not all zero) in its science region is a "problem", below USABLE_WARNING a "warning".
USABLE_PROBLEM = 0.10
USABLE_WARNING = 0.50
#: Ramps: a pixel saturated in its first group carries no slope at all.
SATURATED_PROBLEM = 0.50
#: Background left in a slitless x1d/x1dints: a point source's F_nu falls to the red (the flux
#: standards as lambda**-1.92: 11-12 um / 5.5-6.5 um = 0.29), the sky's rises steeply; a ratio
#: above 1 means the sky dominates the red end.
SKY_SHAPE_RATIO = 1.0
SKY_SHAPE_BANDS_UM = ((5.5, 6.5), (11.0, 12.0))
#: Scattered light in a slit s2d: a smooth level between the traces of more than this share of
#: the extracted 5-12 um flux is reported (the LRS slit's absolute calibration is good to ~2-3%).
SCATTERED_LIGHT_FRACTION = 0.02

NOTEBOOKS = {
    "usable": "00_overview.ipynb",
    "x1d_background": "04_slitless_background.ipynb",
    "err_vs_scatter_pixels": "07_error_estimates.ipynb",
    "scattered_light": "01_scattered_light.ipynb",
    "emi": "03_emi_pattern_noise.ipynb",
    "jump_peak_flags": "05_jump_dropouts.ipynb",
    "dropouts": "05_jump_dropouts.ipynb",
    "slitless_background": "04_slitless_background.ipynb",
    "foldover": "02_foldover_blue_limit.ipynb",
    "err_vs_scatter": "07_error_estimates.ipynb",
    "nod_disparity": "06_pathloss_nods.ipynb",
    "pointing": "08_fgs_offset.ipynb",
    "ta_exposure_time": "09_ta_fastgrpavg.ipynb",
    "applicability": "00_overview.ipynb",
}

_NOD_NAME = re.compile(r"^(?P<head>.+_)(?P<exposure>\d{5})(?P<tail>(-seg\d{3})?_mirimage_x1d\.fits)$",
                       re.IGNORECASE)


@dataclass
class Finding:
    """The result of one check.

    Attributes
    ----------
    check : str
        Name of the check (see the module notes).
    severity : str
        One of :data:`SEVERITIES`.
    message : str
        One line: what was found and what to do.
    measured : dict of str -> (value, unit)
        Measured numbers; unit ``""`` for dimensionless values.
    notebook : str
        The walkthrough that explains the issue and its workaround.
    details : dict
        What the check found, for programs (e.g. ``pixels`` of the jump check, the ``table`` of
        dropouts); not shown in the table.
    draw : callable, optional
        ``draw(figure)`` adds this finding's plot to a matplotlib Figure (used by
        :meth:`Report.to_html`).
    """

    check: str
    severity: str
    message: str
    measured: dict = field(default_factory=dict)
    notebook: str = ""
    details: dict = field(default_factory=dict, repr=False, compare=False)
    draw: Callable = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if not self.notebook:
            self.notebook = NOTEBOOKS.get(self.check, "")

    def numbers(self):
        """The measured numbers as one line of text, e.g. ``amplitude = 3.49 DN; phase = 0.1``."""
        return "; ".join(f"{name} = {_format(value)}{f' {unit}' if unit else ''}"
                         for name, (value, unit) in self.measured.items())


@dataclass(repr=False)
class Report:
    """Findings of :func:`diagnose` on one product (or one nod pair).

    Attributes
    ----------
    path : pathlib.Path
        The product diagnosed.
    kind : str
        Product level, exposure type and subarray, e.g. ``"x1dints MIR_LRS-SLITLESS SLITLESSPRISM"``.
    findings : list of Finding
        One per check that applied, in the order they ran.
    partner : pathlib.Path or None
        The other nod's x1d, when a nod pair was diagnosed.
    """

    path: Path
    kind: str
    findings: list
    partner: Path = None

    @property
    def worst(self):
        """The most severe severity among the findings (``"ok"`` when there are none)."""
        return max((f.severity for f in self.findings), key=SEVERITIES.index, default="ok")

    @property
    def exit_code(self):
        """2 when a check failed, 1 when a warning or problem was found, 0 otherwise."""
        if any(f.severity == "failed" for f in self.findings):
            return 2
        return 1 if any(f.severity in ACTION_SEVERITIES for f in self.findings) else 0

    def __getitem__(self, check):
        """The finding of a check by name (KeyError when that check did not run)."""
        for finding in self.findings:
            if finding.check == check:
                return finding
        raise KeyError(f"no {check!r} finding in the report of {self.path.name}; it has "
                       f"{[f.check for f in self.findings]}")

    def __contains__(self, check):
        return any(f.check == check for f in self.findings)

    def title(self):
        names = self.path.name + (f" + {self.partner.name}" if self.partner else "")
        return f"{names} ({self.kind})"

    def __str__(self):
        lines = [self.title()]
        width = max((len(f.check) for f in self.findings), default=0)
        for finding in self.findings:
            lines.append(f"  {finding.severity:8s} {finding.check:{width}s}  {finding.message}")
            if finding.measured:
                lines.append(f"  {'':8s} {'':{width}s}  [{finding.numbers()}]")
            if finding.severity in ACTION_SEVERITIES:
                lines.append(f"  {'':8s} {'':{width}s}  read notebooks/{finding.notebook}")
        return "\n".join(lines)

    def __repr__(self):
        # file names only, so notebook outputs are the same on every machine
        counts = {}
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if s in counts)
        return f"<Report {self.title()}: {summary}>"

    def _repr_html_(self):
        return _report_html(self, with_plots=False)

    def to_html(self, path):
        """Write a standalone HTML page of this report, with its plots as embedded PNG images.

        Parameters
        ----------
        path : str or path-like
            Target ``.html`` file; written to a temporary name in its folder, then renamed.

        Returns
        -------
        pathlib.Path
            The written page.
        """
        return write_html([self], path)


def _format(value):
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"  # nan, inf as such
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Shared readers
# ---------------------------------------------------------------------------------------------
def _mode(model):
    """LRS mode from EXP_TYPE: "slit", "slitless" or "ta" (target acquisition)."""
    exp_type = str(model.meta.exposure.type or "").upper()
    if exp_type in ("MIR_TACQ", "MIR_TACONFIRM"):
        return "ta"
    return "slitless" if exp_type == "MIR_LRS-SLITLESS" else "slit"


#: what a finding says about where its wavelengths came from
WAVELENGTHS_FROM_PRODUCT = "the product's WAVELENGTH extension"
WAVELENGTHS_FROM_INSTRUMENT = "the in-flight solution (lrs_helpers.instrument): the product has none"


def _row_wavelengths(model, mode):
    """Wavelength (um) of each row of a 2-D/3-D product, and where it came from.

    Its WAVELENGTH extension where that holds wavelengths, else the in-flight solution of
    :mod:`lrs_helpers.instrument` (SPECWCS 0005 / 0006). Returns ``(wavelength, source)`` with
    ``source`` one of :data:`WAVELENGTHS_FROM_PRODUCT`, :data:`WAVELENGTHS_FROM_INSTRUMENT`.
    """
    ny = np.shape(model.data)[-2]
    wave = np.asarray(model.wavelength, float) if "wavelength" in model.instance else np.empty(0)
    wave = np.where(wave > 0, wave, np.nan)  # 0 marks pixels without a wavelength (no WCS yet)
    if np.isfinite(wave).any():
        with _quiet():
            return np.nanmedian(wave.reshape(-1, *wave.shape[-2:])[0], axis=1), WAVELENGTHS_FROM_PRODUCT
    first_row = int(model.meta.subarray.ystart or 1) - 1 if mode == "slit" else 0
    return instrument.wavelength_at_row(mode, first_row + np.arange(ny)), WAVELENGTHS_FROM_INSTRUMENT


def _image_chunks(model, source=None):
    """The images to check, a chunk of integrations at a time: ``source`` when given (a file
    streamed by :class:`lrs_helpers.io.CubeChunks`), else the model's arrays in memory (a 2-D
    image is one integration)."""
    if source is not None:
        return source
    arrays = {"SCI": model.data}
    for name in ("dq", "err"):
        if name in model.instance and np.size(getattr(model, name)):
            arrays[name.upper()] = getattr(model, name)
    return io.CubeChunks.in_memory(arrays)


def _spectra_source(model, source=None):
    """What :func:`lrs_helpers.errors.read_spectra` reads: the file (``source``, read a chunk of
    table rows at a time, only the columns needed) or the open model."""
    return model if source is None else source


def _band(wave):
    with np.errstate(invalid="ignore"):
        return (wave >= BAND_UM[0]) & (wave <= BAND_UM[1])


@contextlib.contextmanager
def _quiet():
    """Silence numpy's all-NaN / empty-slice warnings (NaN rows are expected in LRS products)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ---------------------------------------------------------------------------------------------
# Checks: each takes the opened model (and what it needs) and returns one Finding
# ---------------------------------------------------------------------------------------------
def _ramp_chunks(model, chunks):
    """The ramps to check, a chunk of integrations at a time: ``chunks`` when given (a file
    streamed by :class:`lrs_helpers.io.IntegrationChunks`), else the model's arrays in memory."""
    if chunks is not None:
        return chunks
    arrays = {name: np.asarray(getattr(model, name)) for name in ("groupdq", "pixeldq")
              if name in model.instance and np.size(getattr(model, name))}
    return io.IntegrationChunks.in_memory(np.asarray(model.data), arrays.get("groupdq"), arrays.get("pixeldq"))


def _first_integrations(chunks, count):
    """(ramps, groupdq) of the first ``count`` integrations at most (one chunk read)."""
    stream = iter(chunks)
    try:
        _, ramps, groupdq = next(stream)
    finally:
        stream.close()
    return ramps[:count], None if groupdq is None else groupdq[:count]


class _SharedPass:
    """The chunks of a ramp file, whose every pass also feeds observers, each chunk once.

    :func:`diagnose` hands this to the EMI check in place of the file's chunks: while the EMI
    fit reads the file, the usability counts and the jump detection (:class:`_RampUsage`,
    :class:`_PeakJumps`) see the same chunks, so the file is read once for the three checks.
    :meth:`finish` reads what no pass reached (all of it when there is no EMI check, e.g. on
    FULL frames, or the rest when the fit stopped). An observer that raises is left out of the
    chunks after, and its error kept in :attr:`errors`.
    """

    def __init__(self, chunks, observers):
        self.chunks, self.observers, self.errors = chunks, observers, {}
        self.shape, self.dtype, self.pixeldq = chunks.shape, chunks.dtype, chunks.pixeldq
        self._seen = set()

    def slices(self):
        return self.chunks.slices()

    def _observe(self, chunk):
        if chunk[0].start in self._seen:
            return
        self._seen.add(chunk[0].start)
        for name, observer in self.observers.items():
            if name not in self.errors:
                try:
                    observer(*chunk)
                except Exception as error:  # that check fails, the others go on
                    self.errors[name] = error

    def __iter__(self):
        for chunk in self.chunks:
            self._observe(chunk)
            yield chunk
            del chunk  # not held while the next chunk is read

    def finish(self):
        """Feed the observers every chunk no pass has reached yet (reading only those)."""
        for chunk in self.chunks.read([s for s in self.slices() if s.start not in self._seen]):
            self._observe(chunk)


def _failed(name, error):
    return Finding(name, "failed", f"the check could not run ({type(error).__name__}: {error}).")


def _ramp_findings(model, mode, chunks):
    """The checks of an uncal/ramp file (usable, emi, jump_peak_flags) in one pass over it.

    The EMI fit drives the pass (:class:`_SharedPass`); the other two checks accumulate over
    the same chunks. The file is read once, plus its first chunk a second time for the EMI
    plot, only when the plot is drawn; before, each check read the file itself (three passes
    and two first chunks). The findings are those of :func:`check_usable`,
    :func:`check_emi` and :func:`check_jump_peak_flags` run one after the other.
    """
    nints, ngroups = chunks.shape[:2]
    observers = {"usable": _RampUsage()}
    if ngroups >= 5 and nints >= 2:
        observers["jump_peak_flags"] = _PeakJumps(model.meta.exposure.group_time, chunks.shape)
    shared = _SharedPass(chunks, observers)
    findings = {}
    if str(model.meta.subarray.name or "") != "FULL":
        try:
            findings["emi"] = check_emi(model, shared)
        except Exception as error:  # one check's failure must not end the report
            findings["emi"] = _failed("emi", error)
    shared.finish()
    for name, observer in observers.items():
        if name in shared.errors:
            findings[name] = _failed(name, shared.errors[name])
        else:
            try:
                findings[name] = (observer.finding(chunks.shape) if name == "usable"
                                  else observer.finding(model, mode))
            except Exception as error:
                findings[name] = _failed(name, error)
    if findings["usable"].severity == "problem":
        return [findings["usable"]]  # nothing else can be judged on a product without data
    return [findings[name] for name in ("usable", "emi", "jump_peak_flags") if name in findings]


#: Integrations phase-folded for the EMI plot, and whose median rate image locates the trace
#: peaks for the jump check: the source stays put within a segment, so a few suffice.
FIRST_INTS = 16


def check_emi(model, chunks=None):
    """390 Hz EMI amplitude in subarray ramps (:func:`lrs_helpers.emi.measure_blocks`).

    The amplitude of the fundamental is compared with :data:`EMI_THRESHOLD_DN` and with the
    noise floor: the amplitudes the same fit finds at :data:`EMI_NULL_FREQUENCIES_HZ`. All
    frequencies are fitted in one pass over the ramps (``chunks``, an
    :class:`lrs_helpers.io.IntegrationChunks`, streams a file; default the model's arrays); the
    phase-folded data of the plot are made from the first :data:`FIRST_INTS` integrations, only
    when the plot is drawn.
    """
    chunks = _ramp_chunks(model, chunks)
    subarray, readpatt = model.meta.subarray.name, model.meta.exposure.readpatt
    frequencies = [emi.EMI_FREQUENCIES_HZ["Hz390"], emi.EMI_FREQUENCIES_HZ["Hz10"], *EMI_NULL_FREQUENCIES_HZ]
    # the off-line frequencies only estimate the noise floor: their fundamental alone
    harmonics = [5, 5] + [1] * len(EMI_NULL_FREQUENCIES_HZ)
    dtype = np.float64 if chunks.dtype == np.float64 else np.float32
    with emi.blas_threads():
        found, slow, *nulls = emi.measure_blocks(chunks, chunks.shape, subarray, readpatt, frequencies,
                                                 nharmonics=harmonics, pixeldq=chunks.pixeldq, dtype=dtype)
    # frequencies whose phase hardly moves from frame to frame are not fitted (NaN): skipped
    with _quiet():
        floor = float(np.sqrt(np.nanmean([null["amplitude"] ** 2 for null in nulls])))
    amplitude = found["amplitude"]
    significance = amplitude / floor if floor > 0 else math.inf  # NaN floor: amplitude decides
    phase_grid = (np.arange(64) + 0.5) / 64
    shape = emi.waveform(np.arange(1024) / 1024, found["coefficients"])
    measured = {"amplitude_390Hz": (amplitude, "DN"), "phase_390Hz": (found["phase"], "cycle"),
                "peak_to_peak_390Hz": (float(np.ptp(shape)), "DN"),
                "amplitude_10Hz": (slow["amplitude"], "DN"), "noise_floor": (floor, "DN"),
                "threshold": (EMI_THRESHOLD_DN, "DN")}
    if amplitude >= EMI_THRESHOLD_DN and not significance < EMI_MIN_SIGNIFICANCE:
        severity = "warning"
        message = (f"390 Hz EMI of {amplitude:.2f} DN (semi-amplitude) in the ramps: it stripes the "
                   f"rate images; correct it before ramp fitting (emi.correct_file or jwst emicorr).")
    else:
        severity = "ok"
        message = f"no 390 Hz EMI above {EMI_THRESHOLD_DN} DN ({amplitude:.3f} DN measured)."

    def draw(figure):
        ramps, groupdq = _first_integrations(chunks, FIRST_INTS)
        folded = emi.measure(ramps, subarray, readpatt, found["frequency"], groupdq=groupdq,
                             pixeldq=chunks.pixeldq)["folded"]
        ax = figure.add_subplot()
        ax.plot(phase_grid, folded, ".", label=f"ramps of the first {len(ramps)} integrations, phase-folded")
        ax.plot(phase_grid, emi.waveform(phase_grid, found["coefficients"]), "-",
                label="fitted 390 Hz waveform (all integrations)")
        ax.set(xlabel="390.625 Hz phase (cycle)", ylabel="DN", title="EMI")
        ax.legend(fontsize=8)

    return Finding("emi", severity, message, measured, draw=draw)


def check_jump_peak_flags(model, mode, chunks=None):
    """Trace-peak pixels the default jump step would flag in most integrations.

    Runs :func:`lrs_helpers.jumps.detect_jumps` (stcal, default 4 sigma threshold, typical MIRI
    gain and read noise of :mod:`lrs_helpers.pipeline`) on the ramps, finds the trace peak of
    every row (:func:`lrs_helpers.jumps.trace_peak_columns` on the median rate image of the
    first :data:`FIRST_INTS` integrations: the source stays put within a segment) and counts
    the peak pixels flagged in most integrations (:data:`JUMP_MIN_INTEGRATION_FRACTION`,
    :data:`JUMP_MIN_INTEGRATIONS`): those become the dropouts of the calints and x1d. The
    ramps are used as they are (as :func:`lrs_helpers.jumps.ramp_model_from_uncal` does): on a
    raw uncal, saturated or non-linear pixels the pipeline would treat first can add flags. The
    first and last group are left out, as MIRI's detector1 does (rscd / firstframe, lastframe).

    Only the columns of the trace peaks, with one column on each side (the neighbours the jump
    step may flag them from), go through jump detection, a chunk of integrations at a time
    (``chunks``, see :func:`check_emi`). Each chunk is one stcal call: with many integrations
    stcal takes each pixel's difference statistics over the integrations of the call, so on a
    file of several chunks the flags can differ slightly from one call on the whole exposure.
    """
    chunks = _ramp_chunks(model, chunks)
    peak_jumps = _PeakJumps(model.meta.exposure.group_time, chunks.shape)
    for chunk in chunks:
        peak_jumps(*chunk)
    return peak_jumps.finding(model, mode)


class _PeakJumps:
    """Jump flags on the trace peaks, fed a chunk of ramps at a time (the first chunk first):
    the work of :func:`check_jump_peak_flags`, which :func:`diagnose` shares with the other
    ramp checks in one pass over the file."""

    def __init__(self, group_time, shape):
        self.group_time, self.shape = group_time, shape
        self.rate = None

    def __call__(self, integrations, ramps, groupdq):
        ngroups, nx = self.shape[1], self.shape[3]
        if self.rate is None:  # the first chunk: where the trace peaks are
            with _quiet():
                self.rate = np.nanmedian(emi.rate_images(ramps[:FIRST_INTS], self.group_time), axis=0)
            self.peaks = jumps.trace_peak_columns(self.rate, np.isfinite(self.rate))
            self.rows = np.flatnonzero(self.peaks >= 0)
            self.flagged_ints = np.zeros(self.rows.size, int)
            if self.rows.size:
                self.columns = slice(max(int(self.peaks[self.rows].min()) - 1, 0),
                                     min(int(self.peaks[self.rows].max()) + 2, nx))
        if not self.rows.size:
            return
        columns, rows, peaks = self.columns, self.rows, self.peaks
        band = np.asarray(ramps[..., columns], dtype=np.float32)
        band_dq = (np.zeros(band.shape, np.uint8) if groupdq is None
                   else np.array(groupdq[..., columns], dtype=np.uint8))
        if ngroups > 4:  # jwst flags them only when enough groups remain
            band_dq[:, [0, -1]] |= jumps.DO_NOT_USE
        flags = jumps.detect_jumps(band, instrument.GAIN_E_PER_DN, instrument.FAST_CDS_READNOISE_DN,
                                   groupdq=band_dq)
        self.flagged_ints += flags[:, :, rows, peaks[rows] - columns.start].any(axis=1).sum(axis=0)

    def finding(self, model, mode):
        """The finding, once every chunk has been seen."""
        nints = self.shape[0]
        rate, peaks, rows, flagged_ints = self.rate, self.peaks, self.rows, self.flagged_ints
        needed = max(min(nints, JUMP_MIN_INTEGRATIONS), math.ceil(JUMP_MIN_INTEGRATION_FRACTION * nints))
        hit = rows[flagged_ints >= needed]
        row_wave, wave_source = _row_wavelengths(model, mode)
        wave = row_wave[hit]
        measured = {"peak_pixels_flagged": (int(hit.size), ""),
                    "integrations_needed": (needed, f"of {nints}"),
                    "threshold": (jumps.DEFAULT_REJECTION_THRESHOLD, "sigma")}
        if hit.size:
            measured["rows"] = ([int(hit.min()), int(hit.max())], "")
            if np.isfinite(wave).any():
                measured["wavelength_range"] = ([float(np.nanmin(wave)), float(np.nanmax(wave))], "um")
                measured["wavelengths_from"] = (wave_source, "")
            severity = "warning"
            message = (f"{hit.size} trace-peak pixels are flagged as jumps in >= {needed} of {nints} "
                       f"integrations at the default threshold: the bright peak will drop out; rerun "
                       f"jump with a higher rejection_threshold (jumps.rerun_jump).")
        else:
            severity = "ok"
            message = "no trace-peak pixel is flagged as a jump in most integrations."

        def draw(figure):
            ax = figure.add_subplot()
            ax.plot(rows, rate[rows, peaks[rows]], "-", color="0.4", lw=0.8, label="peak rate (median)")
            ax.plot(hit, rate[hit, peaks[hit]], "o", color="C3", ms=4, label="flagged in most integrations")
            ax.set(xlabel="row", ylabel="DN/s", yscale="log", title="jump flags on the trace peak")
            ax.legend(fontsize=8)

        return Finding("jump_peak_flags", severity, message, measured,
                       details={"pixels": np.stack([hit, peaks[hit]], axis=1)}, draw=draw)


def check_slitless_background(model, source=None):
    """Sky level left in slitless frames (:func:`lrs_helpers.background.edge_background`).

    The edge model is summed over the CRDS extraction aperture and compared with the aperture's
    signal, row by row over 5-12 um (median over rows and integrations): the share of the
    extracted flux that is background the pipeline did not subtract.

    The images are read a chunk of integrations at a time (``source``, an
    :class:`lrs_helpers.io.CubeChunks`; default the model's arrays) and modelled chunk by chunk,
    in float64; only the per-row aperture ratios and edge levels (integrations x rows) are
    kept. The background's fixed column structure (:func:`lrs_helpers.background.survey_columns`)
    is surveyed on each chunk: a file of one chunk (up to ~140 SLITLESSPRISM integrations, every
    twin) gives the figures of the whole cube at once; a longer one surveys each ~140
    integrations, more than the 64 :func:`lrs_helpers.background.subtract_rateints` surveys.
    """
    cube = _image_chunks(model, source)
    unit = _flux_unit(model)
    row_wave, wave_source = _row_wavelengths(model, "slitless")
    band = _band(row_wave)
    aperture = slice(*SLITLESS_APERTURE)
    shares, edges, profile = [], [], None
    for _, arrays in cube.read(("SCI", "DQ")):
        sci = np.asarray(arrays["SCI"], float)
        with _quiet():
            sky = background.edge_background(sci, arrays["DQ"])
            sky_ap = sky[:, band, aperture].sum(axis=-1)
            signal_ap = np.nansum(sci[:, band, aperture], axis=-1)
            shares.append(sky_ap / np.where(signal_ap > 0, signal_ap, np.nan))
            edges.append(sky[:, band, SLITLESS_APERTURE[0]])
            if profile is None:  # the plot's profile: the first integration
                profile = np.nanmedian(sci[0][band], axis=0)
        del sci, sky
    with _quiet():
        fraction = float(np.nanmedian(np.concatenate(shares)))
        level = np.concatenate(edges)
        level_mean = float(np.nanmean(level))
        # standard error from the scatter of the per-row levels (the sky's own change along the
        # rows adds to it, so this errs on the side of "not significant")
        error = float(np.nanstd(level) / np.sqrt(max(np.isfinite(level).sum(), 1)))
    if not np.isfinite(level_mean):
        return Finding("slitless_background", "failed", "no usable edge pixel in the 5-12 um rows: "
                       "the edge background cannot be measured.")
    significance = abs(level_mean) / error if error > 0 else (math.inf if level_mean else 0.0)
    measured = {"background_fraction": (fraction, "of the aperture signal, 5-12 um"),
                "background_level": (float(np.nanmedian(level)), f"{unit} per pixel"),
                "significance": (significance, "sigma"),
                "wavelengths_from": (wave_source, "")}
    if significance < BACKGROUND_MIN_SIGNIFICANCE:
        severity, message = "ok", "no background left at the subarray edges."
    else:
        severity = ("problem" if fraction >= PROBLEM_FRACTION else
                    "warning" if fraction >= BACKGROUND_WARNING_FRACTION else "info")
        message = (f"unsubtracted sky: {100 * fraction:.1f}% of the signal in the extraction aperture "
                   f"(5-12 um) is background; subtract it (background.subtract_rateints or an "
                   f"extract_1d reference with background regions).")

    def draw(figure):
        ax = figure.add_subplot()
        ax.step(np.arange(profile.size), profile, where="mid", color="k", label="integration 1, 5-12 um")
        ax.axhline(float(np.nanmedian(level)), color="C3", ls="--", label="edge background")
        ax.axvspan(SLITLESS_APERTURE[0] - 0.5, SLITLESS_APERTURE[1] - 0.5, color="C1", alpha=0.2,
                   label="aperture")
        floor = float(np.nanmedian(level))
        ax.set(xlabel="column", ylabel=unit, yscale="log", title="across a row")
        if floor > 0:
            ax.set_ylim(bottom=floor / 3)
        ax.legend(fontsize=8)

    return Finding("slitless_background", severity, message, measured, draw=draw)


def _peak_losses(model, source):
    """:func:`lrs_helpers.jumps.classify_peak_losses` of a product read in chunks.

    Spectra (``source`` a file path): the four columns the classification uses, a chunk of
    table rows at a time. Images (``source`` an :class:`lrs_helpers.io.CubeChunks`): two passes.
    The first takes the median image of each chunk's usable pixels; the trace peaks come from
    the median of those (of one chunk, for files of up to ~140 SLITLESSPRISM integrations: the
    same peaks as the median of every integration; for longer files the median of chunk
    medians, which locates a steady trace as well). The second keeps the columns the trace-core
    boxes cover (the peaks' range, 3 columns either side: about 10 of 72) of every integration,
    in float64, which is all the classification reads.
    """
    if isinstance(source, (str, os.PathLike)):
        tables = io.read_table_columns(source, ("WAVELENGTH", "FLUX", "NPIXELS", "DQ"))
        missing = {"WAVELENGTH", "FLUX", "NPIXELS", "DQ"} - set(tables[0] if tables else ())
        if missing:
            raise io.LRSInputError(f"{source}: the spectrum table has no {', '.join(sorted(missing))} "
                                   "column(s); expected an x1dints EXTRACT1D table as extract_1d writes it.")
        if tables[0]["FLUX"].ndim == 2:  # one table, a row per integration
            columns = tables[0]
        else:  # the older layout: a table per integration
            columns = {name: np.stack([table[name] for table in tables]) for name in tables[0]}
        return jumps._loss_table(jumps._spectrum_losses(
            *(np.asarray(columns[name], float) for name in ("WAVELENGTH", "FLUX", "NPIXELS")),
            columns["DQ"].astype(np.uint32)))
    if not jumps._dispersion_along_rows(model):  # not LRS: read whole, as jumps does
        return jumps.classify_peak_losses(source.path)
    half_width = 3
    _, _, wave = jumps._image_planes(model)  # the model holds one integration: its wavelengths only
    nints, ny, nx = source.shape
    peaks = None
    if nints > 1:
        medians = []
        for _, arrays in source.read(("SCI", "DQ")):
            usable = np.isfinite(arrays["SCI"]) & ((arrays["DQ"] & instrument.DQ["DO_NOT_USE"]) == 0)
            with _quiet():
                medians.append(np.nanmedian(np.where(usable, np.asarray(arrays["SCI"], float), np.nan), axis=0))
        with _quiet():
            stack = medians[0] if len(medians) == 1 else np.nanmedian(medians, axis=0)
        peaks = jumps.trace_peak_columns(stack, np.isfinite(stack))
    found = peaks[peaks >= 0] if peaks is not None else np.zeros(0, int)
    columns = (slice(max(int(found.min()) - half_width, 0), min(int(found.max()) + half_width + 1, nx))
               if found.size else slice(0, nx))
    width = len(range(*columns.indices(nx)))
    data = np.empty((nints, ny, width))
    dq = np.empty((nints, ny, width), np.uint32)
    for integrations, arrays in source.read(("SCI", "DQ")):
        data[integrations] = arrays["SCI"][..., columns]
        dq[integrations] = arrays["DQ"][..., columns]
    band_peaks = None if peaks is None else np.where(peaks >= 0, peaks - columns.start, -1)
    rows = jumps._image_losses(data, dq, wave[:, columns], half_width, peaks=band_peaks)
    # peak columns back on the detector
    return jumps._loss_table([(*row[:3], row[3] + columns.start, *row[4:]) for row in rows])


def check_dropouts(model, source=None):
    """Trace-peak dropouts, told apart from every other lost peak (:func:`lrs_helpers.jumps.classify_peak_losses`).

    A dropout is a peak pixel the jump step dropped (DO_NOT_USE with JUMP_DET) in a 2-D product,
    or a spectrum point short of box pixels in some integrations only. Bad pixels, saturation,
    reference pixels, rows outside the calibrated range, points NaN or short in every
    integration and flagged points that keep their whole box are counted apart, never as dropouts.

    ``source``: an :class:`lrs_helpers.io.CubeChunks` (rateints, calints) or an x1dints path,
    read in chunks (:func:`_peak_losses`); default the model's arrays.
    """
    losses = jumps.classify_peak_losses(model) if source is None else _peak_losses(model, source)
    is_dropout = np.isin(np.asarray(losses["cause"]), jumps.DROPOUT_CAUSES)
    table = losses[is_dropout]
    others = {str(cause): int(count) for cause, count in
              zip(*np.unique(np.asarray(losses["cause"][~is_dropout], dtype=str), return_counts=True))}
    measured = {"dropouts": (len(table), "")}
    for cause, count in others.items():
        measured[f"not_dropouts_{cause}"] = (count, "")
    note = ("; not dropouts: " + ", ".join(f"{count} {cause.replace('_', ' ')}" for cause, count in others.items())
            if others else "")
    if len(table) == 0:
        return Finding("dropouts", "ok", f"no dropout at the trace peak{note}.", measured,
                       details={"table": table, "other_losses": losses[~is_dropout]})
    with _quiet():
        lost = np.asarray(table["lost_fraction"], float)
        worst = float(np.nanmax(lost)) if np.isfinite(lost).any() else math.nan
    wave = np.asarray(table["wavelength"], float)
    measured.update({
        "integrations": (len(set(table["integration"])), ""),
        "wavelength_range": ([float(np.nanmin(wave)), float(np.nanmax(wave))], "um"),
        "largest_lost_fraction": (worst, ""),
    })
    severity = "problem" if worst >= PROBLEM_FRACTION else "warning"
    message = (f"{len(table)} jump-step dropouts at the trace peak ({np.nanmin(wave):.2f}-{np.nanmax(wave):.2f} um), "
               f"up to {100 * worst:.0f}% of the flux lost there (measured against the other integrations"
               f" or neighbouring rows){note}: rerun jump and ramp_fit with the setting jumps.sweep_jump_settings "
               f"recommends, or fill them (jumps.repair_spectrum).")

    def draw(figure):
        ax = figure.add_subplot()
        ax.plot(wave, 100 * lost, "o", color="C3", ms=4)
        ax.set(xlabel="wavelength (um)", ylabel="flux lost (%)", title="dropouts")

    return Finding("dropouts", severity, message, measured,
                   details={"table": table, "other_losses": losses[~is_dropout]}, draw=draw)


def _flux_unit(model):
    """The unit of a product's flux: the FLUX column's unit for spectra (whatever the layout),
    BUNIT for images; "DN/s" when neither says."""
    if "spec" in model.instance:
        for spec in model.spec:
            columns = getattr(spec.spec_table, "columns", None)
            unit = columns["FLUX"].unit if columns is not None and "FLUX" in columns.names else None
            if unit:
                return str(unit)
        return "Jy" if str(model.meta.cal_step.photom or "").upper() == "COMPLETE" else "DN/s"
    return str(getattr(model.meta, "bunit_data", None) or "DN/s")


def _flux_calibrated(model):
    """Whether the product's flux is calibrated (proportional to F_nu): Jy or MJy/sr."""
    return "jy" in _flux_unit(model).lower()


def _spectrum_for_colour(model, source=None):
    """Wavelength and a spectrum proportional to F_nu (mean over integrations) of a product.

    Spectra: the FLUX column. 2-D products: the SCI sum over the slitless aperture after the
    edge background is removed (:func:`lrs_helpers.background.subtract_slitless`), a chunk of
    integrations at a time (``source``, see :func:`check_slitless_background`): only the
    aperture sums (integrations x rows) are kept.
    """
    if "spec" in model.instance:
        spectra = errors.read_spectra(_spectra_source(model, source))
        with _quiet():
            return spectra.wavelength, np.nanmean(spectra.flux, axis=0)
    sums = []
    for _, arrays in _image_chunks(model, source).read(("SCI", "DQ")):
        with _quiet():
            corrected, _ = background.subtract_slitless(np.asarray(arrays["SCI"], float), arrays["DQ"])
            sums.append(np.nansum(corrected[..., slice(*SLITLESS_APERTURE)], axis=-1))
        del corrected
    with _quiet():
        return _row_wavelengths(model, "slitless")[0], np.nanmean(np.concatenate(sums), axis=0)


def colour_temperature(wavelength_um, flux, wavelength_range_um=COLOUR_RANGE_UM):
    """Spectral index and blackbody colour temperature of a spectrum.

    Parameters
    ----------
    wavelength_um, flux : array_like
        Wavelengths (um) and a flux proportional to F_nu (Jy, or MJy/sr summed over an aperture).
    wavelength_range_um : (float, float)
        Range of the fit.

    Returns
    -------
    index : float
        ``d ln F_nu / d ln lambda`` fitted over the range (-2 is Rayleigh-Jeans).
    temperature_k : float
        Temperature of the blackbody (:func:`lrs_helpers.foldover.photon_spectrum`) with the
        same index over the range; inf for an index at or below the hottest grid value (a
        Rayleigh-Jeans source), NaN without enough usable points.
    """
    wave = np.asarray(wavelength_um, float)
    flux = np.asarray(flux, float)
    with np.errstate(invalid="ignore"):
        use = ((wave >= wavelength_range_um[0]) & (wave <= wavelength_range_um[1])
               & np.isfinite(flux) & (flux > 0))
    if use.sum() < 5:
        return math.nan, math.nan
    index = float(np.polyfit(np.log(wave[use]), np.log(flux[use]), 1)[0])
    grid = np.linspace(*wavelength_range_um, 50)
    temperatures = np.geomspace(100.0, 1.0e5, 200)
    # F_nu of a blackbody ~ photon rate per unit wavelength x wavelength
    indices = np.array([np.polyfit(np.log(grid), np.log(foldover.photon_spectrum(grid, source_temperature_k=t)
                                                         * grid), 1)[0] for t in temperatures])
    if index <= indices[-1]:
        return index, math.inf
    if index >= indices[0]:
        return index, float(temperatures[0])
    # the index falls monotonically with temperature
    return index, float(np.exp(np.interp(-index, -indices, np.log(temperatures))))


def check_foldover(model, source=None):
    """Fold-over rows in a slitless product, and whether the source's colour makes them wrong.

    The rows at or below :func:`lrs_helpers.foldover.fold_edge_um` (about 5.4 um) also receive
    the source's light from between :data:`lrs_helpers.foldover.SHORTEST_DETECTED_UM` and the
    prism's turnaround (:data:`lrs_helpers.instrument.PRISM_TURNAROUND_UM`). On a product that is not flux-calibrated (DN/s) the colour means
    nothing, so only the rows are reported. The flux calibration absorbs that for sources coloured like the
    flux standards; for redder sources the flux there comes out low. The colour is measured over
    5.5-10 um (:func:`colour_temperature`) and :func:`lrs_helpers.foldover.usable_range` gives the
    blue limit for it: a "warning" when it lies above 5.0 um, "info" otherwise.

    ``source``: the images (an :class:`lrs_helpers.io.CubeChunks`) or the x1dints path to read
    in chunks; default the model's arrays.
    """
    mode = _mode(model)
    wave, flux = _spectrum_for_colour(model, source)
    with np.errstate(invalid="ignore"):
        fold = foldover.foldover_mask(wave, mode) & np.isfinite(flux) & (flux > 0)
    if not fold.any():
        return Finding("foldover", "ok", f"no signal at or below the fold edge "
                       f"({foldover.fold_edge_um(mode):.2f} um).", {"fold_points": (0, "")})
    fold_range = [float(wave[fold].min()), float(wave[fold].max())]
    if not _flux_calibrated(model):
        return Finding("foldover", "info", f"fold-over rows present ({fold.sum()} points at "
                       f"{fold_range[0]:.2f}-{fold_range[1]:.2f} um); the product is not flux-calibrated "
                       f"({_flux_unit(model)}), so the source's colour, which sets the blue "
                       f"limit, is not measured.",
                       {"fold_points": (int(fold.sum()), ""), "fold_wavelength_range": (fold_range, "um")})
    index, temperature = colour_temperature(wave, flux)
    # a slope steeper than Rayleigh-Jeans fits no blackbody: extrapolate it as a power law
    source = ({"source_temperature_k": temperature} if np.isfinite(temperature) else
              {"spectral_index": index} if np.isfinite(index) else {})
    blue, _ = foldover.usable_range(mode, **source)
    error_5um = float(foldover.calibration_error(np.array(foldover.NOMINAL_RANGE_UM[0]), mode, **source))
    measured = {"fold_points": (int(fold.sum()), ""),
                "fold_wavelength_range": (fold_range, "um"),
                "spectral_index": (index, "F_nu ~ lambda^index"),
                "colour_temperature": (temperature, "K"),
                "calibration_error_5um": (error_5um, ""),
                "blue_limit": (blue, "um")}
    if blue > foldover.NOMINAL_RANGE_UM[0]:
        severity = "warning"
        colour = f"~{temperature:.0f} K" if np.isfinite(temperature) else "steeper than Rayleigh-Jeans"
        message = (f"fold-over: {fold.sum()} points at {wave[fold].min():.2f}-{wave[fold].max():.2f} um "
                   f"carry folded {foldover.SHORTEST_DETECTED_UM:.1f}-{instrument.PRISM_TURNAROUND_UM:.1f} um "
                   f"light and the source's colour (F_nu ~ lambda^{index:.2f}, {colour}) differs from the "
                   f"flux standards', so its flux there is off by {100 * error_5um:+.1f}% at 5 um: "
                   f"use it from {blue:.1f} um (foldover.blue_limit gives the range the model's "
                   f"assumptions allow).")
    else:
        severity = "info"
        message = (f"fold-over rows present ({fold.sum()} points at {wave[fold].min():.2f}-"
                   f"{wave[fold].max():.2f} um); the source's colour is close to the flux standards', "
                   f"so the calibration holds from {blue:.2f} um; do not use the points below it.")
    if mode == "slitless" and "spec" in model.instance:
        message += " (colour from the extracted flux: any unsubtracted background reddens it)"

    def draw(figure):
        ax = figure.add_subplot()
        order = np.argsort(wave)
        ax.plot(wave[order], flux[order], color="C0", lw=1)
        ax.axvspan(np.nanmin(wave[fold]), foldover.fold_edge_um(mode), color="C3", alpha=0.2,
                   label="fold-over rows")
        ax.axvline(blue, color="k", ls=":", label=f"blue limit {blue:.2f} um")
        ax.set(xlabel="wavelength (um)", ylabel="flux", xlim=(3.5, 14.2), title="fold-over")
        ax.legend(fontsize=8)

    return Finding("foldover", severity, message, measured, draw=draw)


def check_err_vs_scatter(product):
    """Reported FLUX_ERROR against the scatter of repeated spectra (:func:`errors.measure_factor`).

    ``product`` is an x1dints model; its integrations are detrended in time with a running
    median, so that a transit or a drifting sky does not count as noise. The per-wavelength
    factor (measured / reported uncertainty of the mean spectrum) is summarised as notebook 07
    applies it (:meth:`errors.ErrorFactor.summary`: the median of robust 16-wavelength blocks over
    5-12 um). Integrations that sit apart at the start (settling) are left out and named. Not run on a pair of slit x1d nods: with two spectra the estimate depends on
    the method (0.35 from the pair, 0.71 from the point-to-point scatter, on the slit twin).

    Only the first :data:`ERR_MAX_SPECTRA` integrations are compared (consecutive, so that the
    running median in time still follows a transit, and from the start, where settling shows):
    every twin and most segments have fewer; a longer segment gets the factor of its first
    2048, with ``integrations_used`` in the measured numbers.
    """
    spectra = errors.read_spectra(product)  # a path is read a chunk of table rows at a time
    total = spectra.flux.shape[0]
    first = slice(0, ERR_MAX_SPECTRA)
    flux, flux_error, dq = spectra.flux[first], spectra.flux_error[first], spectra.dq[first]
    nints = flux.shape[0]
    if nints < ERR_MIN_SPECTRA:
        return Finding("err_vs_scatter", "info",
                       f"only {nints} spectrum: too few to compare ERR with the scatter "
                       f"(needs {ERR_MIN_SPECTRA}).", {"spectra": (nints, "")})
    with emi.blas_threads():  # the bootstrap's many small matrix products: fastest on one thread
        result = errors.measure_factor(spectra.wavelength, flux, flux_error, dq,
                                       detrend="median" if nints >= 3 else None)
    del spectra, flux, flux_error, dq
    # the figure notebook 07 applies: the median of the robust 16-wavelength blocks over 5-12 um
    median, error, spread = result.summary(BAND_UM)
    used = nints - len(result.excluded)
    significance = abs(median - 1) / error if error > 0 else math.inf
    measured = {"inflation_factor": (median, "measured / FLUX_ERROR, median of 16-wavelength blocks 5-12 um"),
                "inflation_factor_error": (error, ""), "block_spread": (spread, ""), "spectra": (used, "")}
    if total > nints:
        measured["integrations_used"] = (nints, f"the first, of {total}")
    settling = ""
    if result.excluded:
        measured["settling_integrations_left_out"] = (list(result.excluded), "0-based")
        settling = (f" Integration(s) {', '.join(str(i + 1) for i in result.excluded)} sit apart in white "
                    "light (settling) and were left out.")
    if not np.isfinite(median):
        return Finding("err_vs_scatter", "failed", "no wavelength in 5-12 um has a usable factor "
                       "(all NaN, flagged or without a positive FLUX_ERROR).", measured)
    if abs(median - 1) <= ERR_TOLERANCE or significance < ERR_MIN_SIGNIFICANCE:
        severity = "ok"
        message = f"FLUX_ERROR matches the scatter of the {used} spectra (factor {median:.2f}).{settling}"
    elif median < 1:
        severity = "warning"
        message = (f"the {used} spectra scatter only {median:.2f} times what FLUX_ERROR says (5-12 um): "
                   "spectra this alike are usually not independent (copies, smoothing, correlated "
                   "extraction). Check that before shrinking the errors (errors.correct_x1d refuses "
                   f"unless allow_shrink=True).{settling}")
    else:
        severity = "problem" if median >= 2 else "warning"
        message = (f"FLUX_ERROR is too small: the spectra scatter {median:.2f} times what it says "
                   f"(5-12 um); rescale it (errors.correct_x1d).{settling}")

    def draw(figure):
        ax = figure.add_subplot()
        good = np.isfinite(result.factor)
        ax.plot(result.wavelength[good], result.factor[good], ".", color="0.6", ms=3, label="per wavelength")
        blocks = result.binned(16)
        ax.errorbar(blocks.wavelength, blocks.factor, blocks.spread, fmt="o", color="C3", ms=4,
                    label="16-wavelength blocks (bar: spread)")
        ax.axhline(1, color="k", lw=0.8)
        ax.set(xlabel="wavelength (um)", ylabel="measured / FLUX_ERROR", ylim=(0, 3),
               title="ERR against scatter")
        ax.legend(fontsize=8)

    return Finding("err_vs_scatter", severity, message, measured, draw=draw)


def check_nod_disparity(model, partner):
    """Disparity between the two nods' spectra (:func:`lrs_helpers.pathloss.nod_ratio`) and the
    across-slit offset it implies (:func:`lrs_helpers.pathloss.estimate_offset_from_nods`)."""
    ratio = pathloss.nod_ratio(model, partner, repeatability=NOD_TOLERANCE)
    fit = pathloss.estimate_offset_from_nods(model, partner)
    median = float(ratio.meta["median_ratio"])
    exceeding = float(ratio.meta["fraction_exceeding"])
    measured = {"median_ratio": (median, "nod 2 / nod 1"),
                "bins_beyond_repeatability": (exceeding, f"fraction, {100 * NOD_TOLERANCE:.0f}%"),
                "relative_offset": (fit.relative, "arcsec across the slit"),
                "relative_offset_error": (fit.relative_error, "arcsec"),
                "offset_nod1": (fit.offset_a, "arcsec"), "offset_nod2": (fit.offset_b, "arcsec")}
    if abs(median - 1) <= NOD_TOLERANCE or exceeding < 0.5:
        severity = "ok"
        message = (f"the nods agree within the {100 * NOD_TOLERANCE:.0f}% repeatability (ratio {median:.3f}). "
                   f"An along-slit nod keeps the source's across-slit offset, so agreeing nods can still "
                   f"both be low: the TA verification image shows where the source sat (notebook 08).")
    else:
        severity = "problem" if abs(median - 1) >= PROBLEM_FRACTION else "warning"
        # the offset fit assumes pathloss is the only difference; scattered light from a bright
        # field source also differs between the nods (the slit_nods twin), so both causes are named
        message = (f"the nods differ: nod 2 / nod 1 = {median:.3f}. Read as pathloss, the source sat "
                   f"{fit.relative:+.3f}\" apart across the slit: correct each nod's pathloss for its position "
                   f"(pathloss.corrected_spectrum). Light that differs between the nods (scattered light from a "
                   f"bright source in the imager field, notebook 01) does the same: check the s2d first.")

    def draw(figure):
        ax = figure.add_subplot()
        ax.errorbar(ratio["wavelength"].value, ratio["ratio"], ratio["ratio_error"], fmt="o", ms=3, color="C3")
        ax.axhspan(1 - NOD_TOLERANCE, 1 + NOD_TOLERANCE, color="0.9")
        ax.set(xlabel="wavelength (um)", ylabel="nod 2 / nod 1 (aligned)", title="nod disparity")

    return Finding("nod_disparity", severity, message, measured, draw=draw)


def check_pointing(model):
    """Where the source is on a TA image (:func:`lrs_helpers.pointing.ta_centroid`).

    On an acquisition image (MIR_TACQ) the offset from the TA reference point is what the
    acquisition measures and then removes: reported as info, with what it would have cost in the
    slit. On a slit verification image (MIR_TACONFIRM) the source's position in the slit and the
    flux it loses there (:func:`lrs_helpers.pathloss.relative_correction`) are the finding.
    """
    centroid = pointing.ta_centroid(model)
    measured = {"dV2": (centroid.dv2, "arcsec"), "dV3": (centroid.dv3, "arcsec"),
                "x_pixel": (centroid.x_pixel, "px"), "y_pixel": (centroid.y_pixel, "px")}
    if centroid.exp_type == "MIR_TACONFIRM" and np.isfinite(centroid.slit_across):
        across = centroid.slit_across
        loss = float(1 - 1 / pathloss.relative_correction(POINTING_WAVELENGTH_UM, across))
        measured.update(across_slit=(across, "arcsec"), across_slit_error=(centroid.slit_across_error, "arcsec"),
                        along_slit=(centroid.slit_along, "arcsec"), loss_10um=(loss, "fraction"))
        if loss <= POINTING_LOSS_TOLERANCE:
            severity = "ok"
            message = (f"verification image: source {across:+.2f}\" across the slit "
                       f"({100 * loss:.0f}% loss at 10 um).")
        else:
            severity = "problem" if loss >= PROBLEM_FRACTION else "warning"
            message = (f"verification image: source {across:+.2f} +- {centroid.slit_across_error:.2f}\" across "
                       f"the slit, {100 * loss:.0f}% of the light lost at 10 um that the pipeline's centred "
                       f"pathloss does not restore: rerun pathloss with user_slit_loc={across:+.2f}.")
    elif centroid.exp_type == "MIR_TACONFIRM":
        severity = "info"
        message = (f"verification image: source {centroid.dv2:+.3f}\" (V2), {centroid.dv3:+.3f}\" (V3) "
                   f"from the {centroid.aperture} reference point.")
    else:
        along, across = (float(v) for v in pointing.v2v3_offset_to_slit(centroid.dv2, centroid.dv3))
        loss = float(1 - 1 / pathloss.relative_correction(POINTING_WAVELENGTH_UM, across))
        measured.update(across_slit=(across, "arcsec"), along_slit=(along, "arcsec"),
                        loss_10um=(loss, "fraction if not removed"))
        severity = "info"
        message = (f"acquisition image: source {centroid.dv2:+.3f}\" (V2), {centroid.dv3:+.3f}\" (V3) from the "
                   f"TA reference point, the offset the acquisition measures and removes by design. "
                   f"Where the source ended up shows on the verification image (MIR_TACONFIRM).")

    data = np.asarray(model.data, float)

    def draw(figure):
        ax = figure.add_subplot()
        x0, y0 = int(round(centroid.x_pixel)), int(round(centroid.y_pixel))
        box = data[max(y0 - 15, 0):y0 + 16, max(x0 - 15, 0):x0 + 16]
        ax.imshow(box, origin="lower", cmap="magma", extent=(x0 - 15.5, x0 + 15.5, y0 - 15.5, y0 + 15.5),
                  vmin=np.nanpercentile(box, 5), vmax=np.nanpercentile(box, 99.5))
        origin = (int(model.meta.subarray.xstart or 1), int(model.meta.subarray.ystart or 1))
        ref_x, ref_y = pointing.v2v3_offset_to_pixel(0.0, 0.0, subarray_origin=origin,
                                                     aperture=centroid.aperture)
        ax.plot(centroid.x_pixel, centroid.y_pixel, "c+", ms=12, label="centroid")
        ax.plot(ref_x, ref_y, "wx", ms=10, label=f"{centroid.aperture} reference")
        ax.set(xlabel="column", ylabel="row", title=f"{centroid.exp_type} image")
        ax.legend(fontsize=8)

    return Finding("pointing", severity, message, measured, draw=draw)


def _usable_count(values, dq=None):
    """How many values are finite, not DO_NOT_USE, and not exactly zero."""
    values = np.asarray(values)
    good = np.isfinite(values) & (values != 0)
    if dq is not None and np.shape(dq) == values.shape:
        good &= (np.asarray(dq) & instrument.DQ["DO_NOT_USE"]) == 0
    return int(np.count_nonzero(good))


class _RampUsage:
    """The counts :func:`check_usable` judges ramps by, fed a chunk of ramps at a time."""

    def __init__(self):
        self.nonzero = self.flagged = self.full_scale = 0

    def __call__(self, integrations, ramps, groupdq):
        self.nonzero += int(np.count_nonzero(ramps))
        if groupdq is not None:
            self.flagged += int(np.count_nonzero(groupdq[:, 0] & instrument.DQ["SATURATED"]))
        if ramps.dtype.kind in "ui":
            self.full_scale += int(np.count_nonzero(ramps[:, 0] >= 65535))

    def finding(self, shape):
        """The finding, once every chunk of ramps of ``shape`` has been seen."""
        reads = int(np.prod(shape))
        measured = {"nonzero": (self.nonzero / reads, "of the reads")}
        saturated = max(self.flagged, self.full_scale) / (reads // shape[1])
        measured["saturated_first_group"] = (saturated, "of the pixels")
        if not self.nonzero:
            return Finding("usable", "problem", "every read is zero: the file holds no data "
                           "(a failed download or a blank exposure).", measured)
        if saturated >= SATURATED_PROBLEM:
            return Finding("usable", "problem", f"{100 * saturated:.0f}% of the pixels are saturated in "
                           "their first group: they carry no slope.", measured)
        return Finding("usable", "ok", "the ramps hold data.", measured)


def check_usable(model, level, mode, chunks=None, source=None):
    """Whether the product holds data at all: usable values, an uncal that is not blank or saturated.

    Ramps are read a chunk of integrations at a time (``chunks``, see :func:`check_emi`), images
    too (``source``, an :class:`lrs_helpers.io.CubeChunks`), and spectra a chunk of table rows
    at a time (``source``, the x1dints path); default the model's arrays.

    Images and cubes are judged in their science region (in a full frame of the mode, the rows
    and columns the wavelength solution calibrates; otherwise the columns after the reference
    pixels);
    spectra over 5-12 um. Ramps: all zero, or saturated in their first group.
    """
    unit = _flux_unit(model)
    if level in ("uncal", "ramp"):
        chunks = _ramp_chunks(model, chunks)
        usage = _RampUsage()
        for chunk in chunks:
            usage(*chunk)
        return usage.finding(chunks.shape)
    if "spec" in model.instance:
        spectra = errors.read_spectra(_spectra_source(model, source))
        band = _band(spectra.wavelength)
        values = spectra.flux[:, band]
        fraction = _usable_count(values, spectra.dq[:, band]) / values.size if values.size else 0.0
        where = "5-12 um"
    else:
        cube = _image_chunks(model, source)
        region = (Ellipsis, slice(None), slice(instrument.REFERENCE_COLUMNS, None))
        frame = instrument.FULL_SHAPE if mode == "slit" else instrument.SLITLESS_SHAPE
        if cube.shape[-2:] == frame:  # the full frame of the mode: only where the spectrum falls
            first, last = instrument.CALIBRATED_ROWS[mode]
            region = (Ellipsis, slice(math.ceil(first), math.floor(last) + 1),
                      slice(*instrument.CALIBRATED_COLUMNS[mode]))
        good = total = 0
        for _, arrays in cube.read(("SCI", "DQ")):
            good += _usable_count(arrays["SCI"][region], arrays["DQ"][region])
            total += arrays["SCI"][region].size
        fraction = good / total if total else 0.0
        where = "the science region"
    measured = {"usable_fraction": (fraction, f"of the values in {where}"), "unit": (unit, "")}
    if fraction < USABLE_PROBLEM:
        return Finding("usable", "problem", f"only {100 * fraction:.1f}% of the values in {where} are "
                       "usable (finite, not DO_NOT_USE, not zero): nothing else can be judged.", measured)
    severity = "warning" if fraction < USABLE_WARNING else "ok"
    return Finding("usable", severity, f"{100 * fraction:.0f}% of the values in {where} are usable.", measured)


def check_x1d_background(model, source=None):
    """Background in a slitless x1d/x1dints: did extract_1d subtract any, and does the spectrum
    look like sky?

    The BACKGROUND column says what extract_1d subtracted (zero everywhere: nothing; the CRDS
    reference has had background regions since 2025). A point source's F_nu falls to the red,
    the sky's rises steeply, so in calibrated flux a mean spectrum higher at 11-12 um than at
    5.5-6.5 um (:data:`SKY_SHAPE_RATIO`) is dominated by sky there.

    ``source``: the x1dints path, read a chunk of table rows at a time (the columns needed
    only); default the model's tables.
    """
    spectra = errors.read_spectra(_spectra_source(model, source))
    if source is None:
        column = [np.asarray(spec.spec_table["BACKGROUND"], float).ravel() for spec in model.spec
                  if "BACKGROUND" in (spec.spec_table.dtype.names or ())]
    else:
        column = [np.asarray(table["BACKGROUND"], float).ravel()
                  for table in io.read_table_columns(source, ("BACKGROUND",)) if "BACKGROUND" in table]
    column = np.concatenate(column) if column else np.zeros(0)
    subtracted = bool(column.size and np.nanmax(np.abs(column)) > 0)
    usable = (spectra.dq & instrument.DQ["DO_NOT_USE"]) == 0
    with _quiet():
        mean = np.nanmean(np.where(usable, spectra.flux, np.nan), axis=0)
        levels = [np.nanmedian(mean[(spectra.wavelength >= low) & (spectra.wavelength <= high)])
                  for low, high in SKY_SHAPE_BANDS_UM]
    ratio = float(levels[1] / levels[0]) if np.isfinite(levels).all() and levels[0] > 0 else math.nan
    unit = _flux_unit(model)
    measured = {"background_subtracted": (subtracted, "BACKGROUND column non-zero"),
                "red_to_blue_ratio": (ratio, "mean flux 11-12 um / 5.5-6.5 um"), "unit": (unit, "")}
    calibrated = _flux_calibrated(model)
    if subtracted:
        return Finding("x1d_background", "ok", "extract_1d subtracted a background (BACKGROUND column "
                       "non-zero).", measured)
    if calibrated and ratio > SKY_SHAPE_RATIO:
        return Finding("x1d_background", "warning", f"no background was subtracted (BACKGROUND is zero) and "
                       f"the spectrum rises to the red ({ratio:.1f} times brighter at 11-12 um than at "
                       "5.5-6.5 um), as sky does and a point source does not: subtract the slitless "
                       "background (background.subtract_rateints, or an extract_1d reference with "
                       "background regions) and extract again.", measured)
    shape = "" if calibrated else f" The flux is in {unit}, so its shape says nothing about sky."
    return Finding("x1d_background", "info", "no background was subtracted by extract_1d (BACKGROUND "
                   f"column zero): any slitless sky is still in the spectrum.{shape}", measured)


def check_err_pixels(model, source=None):
    """ERR of a rateints/calints against the scatter of each pixel over the integrations.

    Per pixel, the variance from the differences between consecutive integrations (mean square /
    2, which slow drifts and a transit barely move) over the mean ERR squared; the square root of
    the mean of that ratio over the pixels of the 5-12 um rows (hot pixels, above 10 times the
    median, left out). The page puts LRS05 (wrong ERR) here, in the rate
    products, before any extraction.

    The images are read a chunk of integrations at a time (``source``, an
    :class:`lrs_helpers.io.CubeChunks`; default the model's arrays): per pixel of the 5-12 um
    rows, the sums of the squared differences (the last integration of a chunk carried to the
    next) and of ERR squared, with their counts, are all that is kept.
    """
    cube = _image_chunks(model, source)
    nints = cube.shape[0]
    if nints < 3:
        return Finding("err_vs_scatter_pixels", "info", f"{nints} integration(s): ERR can be compared "
                       "with the scatter only where the same pixels are measured again (a rateints of 3 or more "
                       "integrations, or the x1d of several exposures, errors.inflation_factor).",
                       {"integrations": (nints, "")})
    row_wave, wave_source = _row_wavelengths(model, _mode(model))
    science = (slice(None), _band(row_wave), slice(instrument.REFERENCE_COLUMNS, None))
    squares = counts = err_squares = err_counts = previous = 0
    for _, arrays in cube.read(("SCI", "DQ", "ERR")):
        sci = np.asarray(arrays["SCI"][science], float)
        err = np.asarray(arrays["ERR"][science], float)
        good = (np.isfinite(sci) & ((arrays["DQ"][science] & instrument.DQ["DO_NOT_USE"]) == 0)
                & np.isfinite(err) & (err > 0))
        values = np.where(good, sci, np.nan)
        # the mean square of the differences between consecutive integrations is 2 sigma^2 for
        # steady pixels whatever their number (a MAD of a few values is biased low: 0.6 for 4)
        differences = np.diff(values if np.isscalar(previous) else np.concatenate([previous, values]), axis=0) ** 2
        squares = squares + np.nansum(differences, axis=0)
        counts = counts + np.isfinite(differences).sum(axis=0)
        err_squares = err_squares + np.nansum(np.where(good, err, np.nan) ** 2, axis=0)
        err_counts = err_counts + good.sum(axis=0)
        previous = values[-1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(counts > 0, squares / counts, np.nan) / 2
        reported = np.where(err_counts > 0, err_squares / err_counts, np.nan)
        ratio = (variance / reported).ravel()
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    measured = {"pixels": (int(ratio.size), ""), "integrations": (nints, ""),
                "wavelengths_from": (wave_source, "")}
    if ratio.size < 10:
        return Finding("err_vs_scatter_pixels", "info", "too few pixels with usable ERR and repeats in "
                       "5-12 um to compare ERR with the scatter.", measured)
    # hot or unflagged bad pixels sit far above the rest: pixels above 10 x the median are left out
    kept = ratio[ratio <= 10 * np.median(ratio)]
    median = float(np.sqrt(np.mean(kept)))
    # a pixel's variance from its n - 1 consecutive differences scatters by sqrt(3n - 4) / (n - 1)
    # of itself for normal noise (neighbouring differences share a value: var(d_i^2) = 8 sigma^4,
    # cov(d_i^2, d_(i+1)^2) = 2 sigma^4); the mean over N pixels by 1/sqrt(N), the square root
    # halves it
    error = 0.5 * math.sqrt(3 * nints - 4) / (nints - 1) * median / math.sqrt(kept.size)
    measured.update({"scatter_over_err": (median, "rms over pixels, 5-12 um rows"),
                     "scatter_over_err_error": (error, ""),
                     "pixels_left_out": (int(ratio.size - kept.size), "above 10 x the median")})
    if abs(median - 1) <= ERR_TOLERANCE or abs(median - 1) < ERR_MIN_SIGNIFICANCE * error:
        return Finding("err_vs_scatter_pixels", "ok", f"ERR matches the pixels' scatter over the {nints} "
                       f"integrations (ratio {median:.2f}).", measured)
    side = "too small" if median > 1 else "too large"
    severity = "problem" if median >= 2 or median <= 0.5 else "warning"
    return Finding("err_vs_scatter_pixels", severity, f"ERR is {side}: the pixels scatter {median:.2f} times "
                   f"what it says over the {nints} integrations (5-12 um rows), and the x1d errors inherit "
                   "it: measure the factor on the extracted spectra (errors.inflation_factor).", measured)


def check_scattered_light(model):
    """A smooth level between the traces of a nod-subtracted slit s2d (:mod:`lrs_helpers.scattered_light`).

    The traces are found (the positive one and every negative one: one on a Level-2 s2d, two on
    a Level-3 s2d that combines both nods), a quadratic across the slit is fitted row by row away
    from them (4 columns either side), and the share of the 5-12 um box flux (8 columns around
    the positive trace) that the fit puts under the source is reported.
    """
    image = np.asarray(model.data, float)
    wave = np.asarray(model.wavelength, float)
    positive, negatives = scattered_light.find_traces(image, wave)
    exclude = scattered_light.trace_exclusion_mask(image.shape, [positive, *negatives], 4)
    level = scattered_light.fit_row_background(image, wave, exclude_mask=exclude, order=2)
    aperture = scattered_light.trace_exclusion_mask(image.shape, [positive], 4)
    rows = _band(scattered_light.row_wavelength(wave))
    with _quiet():
        share = float(np.nansum((level * aperture)[rows]) / np.nansum((image * aperture)[rows]))
    measured = {"scattered_share": (share, "of the 5-12 um box flux"),
                "traces": ([float(positive), *map(float, negatives)], "columns")}
    if not np.isfinite(share):
        return Finding("scattered_light", "failed", "no extracted flux in 5-12 um to compare with.", measured)
    if abs(share) < SCATTERED_LIGHT_FRACTION:
        return Finding("scattered_light", "ok", f"no smooth level between the traces ({100 * share:+.1f}% "
                       "of the flux).", measured)
    return Finding("scattered_light", "warning", f"a smooth level between the traces is {100 * share:+.1f}% "
                   "of the 5-12 um flux: light scattered from the imager field (check the rate image for "
                   "bright sources); fit and remove it (scattered_light.correct_s2d).", measured)


def check_ta_exposure_time(model):
    """FASTGRPAVG TA images calibrated with one frame's time (MIRI LRS06, jwst#8069):
    :func:`lrs_helpers.pointing.ta_exposure_time`."""
    timing = pointing.ta_exposure_time(model)
    measured = {"rate_factor": (timing.rate_factor, "pipeline / true rate"),
                "frames_per_group": (timing.frames_per_group, ""),
                "TGROUP": (timing.group_time, "s"), "true_group_time": (timing.true_group_time, "s")}
    if abs(timing.rate_factor - 1.0) < 0.01:
        return Finding("ta_exposure_time", "ok",
                       f"{timing.readpatt}: TGROUP {timing.group_time:.3f} s matches "
                       f"{timing.frames_per_group} frame(s) per group; rates are on the right scale.", measured)
    return Finding("ta_exposure_time", "warning",
                   f"{timing.readpatt} averages {timing.frames_per_group} frames per group but TGROUP is "
                   f"{timing.group_time:.3f} s: rates are {timing.rate_factor:.2f} times too high. Divide them by "
                   f"{timing.rate_factor:.2f} (pointing.ta_rate_factor) or measure on the verification image.",
                   measured)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------
def _level(model, path):
    level = io.product_level_from_name(path)
    if level is None:
        levels = [name for name, (_, types) in io.PRODUCT_LEVELS.items() if type(model).__name__ in types]
        level = levels[0] if levels else type(model).__name__
    return level


def _plan(model, level, mode, partner, source=None):
    """The checks that apply beyond usability, for products other than ramps
    (:func:`_ramp_findings`): list of (name, zero-argument callable); ``source`` streams the
    images of a rateints/calints (:class:`lrs_helpers.io.CubeChunks`) or the spectra of an
    x1dints (its path)."""
    plan = []
    if mode == "ta":
        if level not in ("rate", "cal"):
            return []
        return [("pointing", lambda: check_pointing(model)),
                ("ta_exposure_time", lambda: check_ta_exposure_time(model))]
    images = ("rate", "rateints", "cal", "calints", "crf", "crfints")
    if mode == "slitless" and level in images and np.shape(model.data)[-1] == 72:
        plan.append(("slitless_background", lambda: check_slitless_background(model, source)))
    if level in ("rate", "rateints", "cal", "calints", "s2d", "x1d", "x1dints"):
        plan.append(("dropouts", lambda: check_dropouts(model, source)))
    if mode == "slitless" and level in ("x1d", "x1dints"):
        plan.append(("x1d_background", lambda: check_x1d_background(model, source)))
    if level in ("rate", "rateints", "cal", "calints", "crf", "crfints") and "err" in model.instance:
        plan.append(("err_vs_scatter_pixels", lambda: check_err_pixels(model, source)))
    if mode == "slit" and level == "s2d" and "wavelength" in model.instance:
        plan.append(("scattered_light", lambda: check_scattered_light(model)))
    has_wavelength = level in ("x1d", "x1dints") or ("wavelength" in model.instance)
    if mode == "slitless" and level in images[2:] + ("x1d", "x1dints") and has_wavelength:
        plan.append(("foldover", lambda: check_foldover(model, source)))
    if level == "x1dints":
        plan.append(("err_vs_scatter", lambda: check_err_vs_scatter(_spectra_source(model, source))))
    if level == "x1d" and mode == "slit" and partner is not None:
        plan.append(("nod_disparity", lambda: check_nod_disparity(model, partner)))
    return plan


def nod_partner_name(path):
    """File name of the other nod of a slit x1d (exposure 00001 <-> 00002), or None."""
    match = _NOD_NAME.match(Path(path).name)
    if not match or match["exposure"] not in ("00001", "00002"):
        return None
    other = "00002" if match["exposure"] == "00001" else "00001"
    return f"{match['head']}{other}{match['tail']}"


def diagnose(path, *, partner=None):
    """Run every check that applies to an LRS product.

    Parameters
    ----------
    path : str or path-like
        Any MIRI LRS product (uncal, ramp, rate, rateints, cal, calints, s2d, x1d, x1dints) or
        TA image (rate or cal of MIR_TACQ / MIR_TACONFIRM).
    partner : str or path-like, optional
        For a slit x1d: the other nod's x1d. Default: the file of the same name with the other
        exposure number (00001 <-> 00002) in the same folder, when it exists.

    Returns
    -------
    Report
        One finding per check that applied (an ``info`` finding when none did).

    Raises
    ------
    lrs_helpers.io.LRSInputError
        When the file is not an intact MIRI LRS product (it names the file and the problem).
    """
    path = Path(path)
    chunks = source = None
    with io.twin_notes_off():  # the report's title says "sample twin" itself
        # a TSO segment (gigabytes) is read a chunk of integrations at a time; the model holds
        # its metadata and first integration only
        level = io.check_product(path)
        if level in ("uncal", "ramp"):
            chunks = io.IntegrationChunks(path)
            model = io.open_metadata(path)
        elif level in io.CUBE_LEVELS:
            source = io.CubeChunks(path)
            model = io.open_metadata(path, levels=io.CUBE_LEVELS)
        elif level == "x1dints":
            source = path
            model = io.open_metadata(path, levels=("x1dints",))
        else:
            model = io.open_product(path)
    partner_model = None
    try:
        level = _level(model, path)
        mode = _mode(model)
        kind = " ".join(str(v) for v in (level, model.meta.exposure.type, model.meta.subarray.name) if v)
        if io.sample_twin_info(path) is not None:
            kind += ", sample twin"
        if level == "x1d" and mode == "slit":
            if partner is None:
                name = nod_partner_name(path)
                candidate = path.with_name(name) if name else None
                partner = candidate if candidate is not None and candidate.is_file() else None
            if partner is not None:
                partner = Path(partner)
                with io.twin_notes_off():
                    partner_model = io.open_product(partner, levels=("x1d",))
        if partner_model is not None and partner.name < path.name:
            # nod 1 (the lower exposure number) is always the reference of the ratio
            model, partner_model = partner_model, model
        if chunks is not None:
            plan, findings = [], _ramp_findings(model, mode, chunks)
        else:
            plan = [] if mode == "ta" else [("usable", lambda: check_usable(model, level, mode, source=source))]
            plan += _plan(model, level, mode, partner_model, source)
            findings = []
        for name, run in plan:
            if findings and findings[0].check == "usable" and findings[0].severity == "problem":
                break  # nothing else can be judged on a product without data
            try:
                with io.twin_notes_off():  # checks that read the file again: the title says it
                    findings.append(run())
            except Exception as error:  # one check's failure must not end the report
                findings.append(_failed(name, error))
        if level == "x1d" and mode == "slit" and partner_model is None:
            findings.append(Finding("nod_disparity", "info",
                                    "no other nod given or found beside it: nod disparity not checked "
                                    "(pass both nods' x1d files)."))
        if all(finding.check == "usable" for finding in findings) and not (
                findings and findings[0].severity == "problem"):
            findings.append(Finding("applicability", "info", f"no known-issue check applies to a "
                                    f"{kind} product beyond its usability."))
        return Report(path=path, kind=kind, findings=findings, partner=partner)
    finally:
        model.close()
        if partner_model is not None:
            partner_model.close()


def _diagnose_unit(unit):
    """:func:`diagnose` of one (path, partner) unit (a module-level function, for Dask)."""
    path, partner = unit
    return diagnose(path, partner=partner)


def diagnose_files(paths, *, progress=None, scheduler="serial"):
    """Diagnose several products; slit x1d nods given together are diagnosed as one pair.

    Parameters
    ----------
    paths : sequence of str or path-like
        Product files, e.g. every segment of a time series.
    progress : callable, optional
        Called with each path after it is done (e.g. to advance a progress bar).
    scheduler : str, distributed.Client or cluster
        Where the files are diagnosed (:func:`lrs_helpers.segments.map_segments`): ``"serial"``
        (default, in this process), ``"local"`` (a Dask LocalCluster of one worker per core),
        ``"auto"``, or a Dask scheduler address or client. The reports are the same either way.

    Returns
    -------
    list of (pathlib.Path, Report or Exception)
        In the order given (the second nod of a pair is skipped: its report is the pair's);
        an :class:`lrs_helpers.io.LRSInputError` (or other error) in place of the report of a
        file that could not be diagnosed.
    """
    paths = [Path(p) for p in paths]
    by_name = {p.name: p for p in paths}
    done, units = set(), []
    for path in paths:
        if path in done:
            continue
        name = nod_partner_name(path)
        partner = by_name.get(name) if name else None
        units.append((path, partner))
        if partner is not None:
            done.add(partner)
    results = segments.map_segments(_diagnose_unit, units, scheduler=scheduler,
                                    progress=None if progress is None else lambda unit: progress(unit[0]))
    # a pair whose first nod cannot be read is not a pair: its partner is diagnosed on its own
    reports = []
    for (path, partner), result in results:
        reports.append((path, result))
        if partner is not None and isinstance(result, Exception):
            reports.append((partner, segments.map_segments(_diagnose_unit, [(partner, None)])[0][1]))
    return reports


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
_COLOURS = {"ok": "#e6f4e6", "info": "#e8eef8", "warning": "#fff3cd", "problem": "#f8d7da", "failed": "#dddddd"}
_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 70em; }
table.lrs-report { border-collapse: collapse; margin-bottom: 1em; }
table.lrs-report th, table.lrs-report td { border: 1px solid #bbb; padding: 4px 8px; text-align: left;
  vertical-align: top; font-size: 0.9em; }
figure { display: inline-block; margin: 0.5em; }
"""


def _summary_html(reports):
    """A table of the reports' files, most severe first, with their finding counts, each linked to its section."""
    rows = []
    ranked = sorted(enumerate(reports), key=lambda item: -SEVERITIES.index(item[1].worst))
    for index, report in ranked:
        counts = {}
        for finding in report.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        tally = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if s in counts) or "no checks applied"
        rows.append(
            f"<tr><td><a href=\"#report-{index}\">{html.escape(report.title())}</a></td>"
            f"<td style=\"background:{_COLOURS[report.worst]}\">{report.worst}</td>"
            f"<td>{html.escape(tally)}</td></tr>")
    return "\n".join(["<h2>Summary</h2>",
                      "<table class=\"lrs-summary lrs-report\"><thead><tr><th>product</th><th>worst</th>"
                      "<th>findings</th></tr></thead><tbody>", *rows, "</tbody></table>"])


def _report_html(report, *, with_plots, anchor=None):
    rows = []
    for finding in report.findings:
        colour = _COLOURS[finding.severity]
        rows.append(
            f"<tr><td>{html.escape(finding.check)}</td>"
            f"<td style=\"background:{colour}\">{finding.severity}</td>"
            f"<td>{html.escape(finding.message)}</td><td>{html.escape(finding.numbers())}</td>"
            f"<td>{html.escape(finding.notebook)}</td></tr>")
    heading_id = f" id=\"{anchor}\"" if anchor else ""
    parts = [f"<h3{heading_id}>{html.escape(report.title())}</h3>",
             "<table class=\"lrs-report\"><thead><tr><th>check</th><th>severity</th><th>finding</th>"
             "<th>measured</th><th>notebook</th></tr></thead><tbody>", *rows, "</tbody></table>"]
    if with_plots:
        for finding in report.findings:
            if finding.draw is not None:
                parts.append(f"<figure><img alt=\"{html.escape(finding.check)} plot\" "
                             f"src=\"data:image/png;base64,{_png(finding.draw)}\">"
                             f"<figcaption>{html.escape(finding.check)}</figcaption></figure>")
    return "\n".join(parts)


def _png(draw):
    """Base64 PNG of one finding's plot (drawn on a standalone Figure: no pyplot state)."""
    figure = Figure(figsize=(6, 3.4), dpi=90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN and non-positive values on log axes are expected
        draw(figure)
        figure.tight_layout()
    buffer = _bytes_io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_REPORT_TITLE = "<title>lrs_helpers diagnosis</title>"


def _is_report(path):
    """Whether a file is an HTML report written by :func:`write_html` (its head says so)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(512).decode("utf-8", errors="replace")
    except OSError:
        return False
    return head.startswith("<!DOCTYPE html>") and _REPORT_TITLE in head


def write_html(reports, path):
    """Write reports to one standalone HTML page (tables and embedded PNG plots), atomically.

    Parameters
    ----------
    reports : sequence of Report
        The reports to include.
    path : str or path-like
        Target file. Never one of the diagnosed products.

    Returns
    -------
    pathlib.Path
        The written page.

    Raises
    ------
    ValueError
        When ``path`` does not end in ``.html``.
    FileExistsError
        When ``path`` exists and is not an HTML report written here (a diagnosed product, or any
        other file): only an earlier report is replaced.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() != ".html":
        raise ValueError(f"{target}: the report's path must end in .html (a FITS product given "
                         "after --html would otherwise be replaced)")
    if target.exists() and not _is_report(target):
        raise FileExistsError(f"{target}: exists and is not an lrs_helpers HTML report; expected a new "
                              ".html path (nothing in lrs_helpers writes over a file it did not write)")
    folder = target.parent.resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"{target}: the folder {folder} does not exist; create it first")
    target = folder / target.name
    inputs = [p for r in reports for p in (r.path, r.partner) if p is not None]
    if any(Path(p).exists() and target.exists() and os.path.samefile(p, target) for p in inputs):
        raise FileExistsError(f"{target}: this is a diagnosed product; expected a new .html path "
                              "(nothing in lrs_helpers writes over its input)")
    body = "\n".join(_report_html(report, with_plots=True, anchor=f"report-{index}")
                     for index, report in enumerate(reports))
    if len(reports) > 1:  # several files: what needs attention first, then each file's findings
        body = _summary_html(reports) + "\n" + body
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"{_REPORT_TITLE}<style>{_STYLE}</style></head><body>\n"
            f"<h1>MIRI LRS diagnosis</h1>\n<p>lrs_helpers {__version__}: known-issue checks; "
            f"each finding names the walkthrough notebook that explains it.</p>\n{body}\n</body></html>\n")
    scratch = scratch_file(target)
    try:
        try:
            scratch.write_text(page, encoding="utf-8")
        except OSError as error:
            raise output_error(target, error) from error
        publish(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return target
