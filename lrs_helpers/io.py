"""Open MIRI LRS products with clear errors, and write new products safely.

:func:`open_product` checks a product before anything uses it (the file exists, is intact FITS,
comes from MIRI, is an LRS or target-acquisition exposure, is the product level the caller
expects, has the extensions it needs with the expected dimensions) and raises ONE
:class:`LRSInputError` that names the file, says what is wrong, what was expected and what to do.

:func:`write_product` never writes over its input and never leaves a partial file: it writes to a
scratch file beside the target, then renames; it records provenance (lrs_helpers version,
function, parameters, time) in the primary header, read back by :func:`read_provenance`.

Every file and folder lrs_helpers writes follows the same rules (:func:`scratch_file`,
:func:`scratch_folder`, :func:`publish`): it is made under a hidden, recognisable scratch name
beside its target (``.<target name>.lrsh-partial-<process id>-<random>``), with the permissions
the umask gives (0644 / 0755 by default), and renamed into place only when complete. Scratch
left by a process that was killed is removed the next time anything is written into that folder.
A write that fails raises one :class:`LRSOutputError` naming the target and the cause (disk
full, permission denied, not a regular file).
"""

import contextlib
import datetime
import errno
import json
import os
import re
import shutil
import stat
import tempfile
import warnings
import weakref
from pathlib import Path

import numpy as np
from astropy.io import fits
from stdatamodels import DataModel
from stdatamodels.jwst import datamodels

from . import __version__

#: Exposure types accepted by default: the two LRS modes and their target acquisitions.
LRS_EXP_TYPES = ("MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_TACQ", "MIR_TACONFIRM")

#: What each MIRI exposure type that is *not* LRS is, for the error message.
_OTHER_MODES = {
    "MIR_IMAGE": "an imaging exposure",
    "MIR_MRS": "an MRS (integral-field) exposure",
    "MIR_FLATMRS": "an MRS flat-field exposure",
    "MIR_FLATIMAGE": "an imager flat-field exposure",
    "MIR_4QPM": "a coronagraphic exposure",
    "MIR_LYOT": "a coronagraphic exposure",
    "MIR_CORONCAL": "a coronagraphic calibration exposure",
    "MIR_DARKIMG": "a dark exposure",
    "MIR_DARKMRS": "a dark exposure",
}

#: Product level (file-name suffix) -> (dimensions of SCI or None for spectra, datamodel types
#: the jwst pipeline writes for that level).
PRODUCT_LEVELS = {
    "uncal": (4, ("Level1bModel", "RampModel")),
    "ramp": (4, ("RampModel",)),
    "rate": (2, ("ImageModel",)),
    "rateints": (3, ("CubeModel",)),
    "cal": (2, ("ImageModel", "SlitModel")),
    "calints": (3, ("CubeModel", "SlitModel")),
    "crf": (2, ("ImageModel", "SlitModel")),
    "crfints": (3, ("CubeModel", "SlitModel")),
    "s2d": (2, ("SlitModel", "ImageModel")),
    "x1d": (None, ("MultiSpecModel",)),
    "x1dints": (None, ("TSOMultiSpecModel", "MultiSpecModel")),
}

#: What each dimensionality holds, for the error message.
_AXES = {
    4: "4-D ramps (integrations, groups, rows, columns)",
    3: "a 3-D cube (integrations, rows, columns)",
    2: "a 2-D image (rows, columns)",
}

#: FITS extension -> datamodel attribute (for models already open).
_EXTENSION_ATTRIBUTES = {
    "SCI": "data",
    "DQ": "dq",
    "ERR": "err",
    "GROUPDQ": "groupdq",
    "PIXELDQ": "pixeldq",
    "WAVELENGTH": "wavelength",
    "VAR_POISSON": "var_poisson",
    "VAR_RNOISE": "var_rnoise",
    "VAR_FLAT": "var_flat",
    "INT_TIMES": "int_times",
    "AREA": "area",
    "ZEROFRAME": "zeroframe",
    "REFOUT": "refout",
}

_FITS_BLOCK = 2880
_SUFFIX = re.compile(r"_(" + "|".join(sorted(PRODUCT_LEVELS, key=len, reverse=True)) + r")\.fits$", re.IGNORECASE)

# id(model) -> resolved path it was opened from, so write_product can refuse to write over it
# (datamodels are not hashable; the entry is dropped when the model is garbage-collected).
_SOURCES = {}
# twin files whose nature open_product has already printed in this Python process, and whether to print
_ANNOUNCED = set()
_ANNOUNCE = [True]


class LRSInputError(ValueError):
    """A product that cannot be used as given; the message names the file and what to do."""


class LRSOutputError(OSError):
    """A file or folder could not be written; the message names the target and the cause."""


#: marks every scratch file and folder lrs_helpers makes (see the module notes)
SCRATCH_TAG = ".lrsh-partial-"
_SCRATCH_NAME = re.compile(r"^\..+" + re.escape(SCRATCH_TAG) + r"(?P<pid>\d+)-[^/]*$")

#: what an errno means for a file being written or read, in the words of the one-line errors
_ERRNO_CAUSES = {
    errno.ENOSPC: "disk full (no space left on the device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EISDIR: "a folder, not a file",
    errno.EFBIG: "file too large for the file system",
    errno.ENAMETOOLONG: "name too long",
}


def _umask():
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_kind(path):
    """What a path is, in words, or None when it does not exist ("a regular file", "a folder",
    "a FIFO (named pipe)", "a socket", "a device")."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def os_cause(error, folder=None, *, fallback=True):
    """The cause of a failed file operation in a few words, e.g. "disk full (no space left on
    the device)" or "permission denied".

    Parameters
    ----------
    error : BaseException
        The error raised; its cause and context chain is searched for an OSError with an errno,
        since libraries re-raise a full disk as other types (astropy: AttributeError).
    folder : path-like, optional
        The folder written to: when no errno is found and it has no free space left, the cause
        is a full disk.
    fallback : bool
        When no file-system cause is found: True gives the error's type and message, False None.
    """
    seen = error
    while seen is not None:
        if getattr(seen, "cause", None):  # an LRSOutputError already says it
            return seen.cause
        if isinstance(seen, OSError) and seen.errno is not None:
            return _ERRNO_CAUSES.get(seen.errno, seen.strerror or errno.errorcode.get(seen.errno, "I/O error"))
        if isinstance(seen, OSError) and str(seen).startswith("Not enough space on disk"):
            return _ERRNO_CAUSES[errno.ENOSPC]  # astropy's free-space check, without an errno
        seen = seen.__cause__ or seen.__context__
    if folder is not None:
        with contextlib.suppress(OSError):
            if shutil.disk_usage(folder).free == 0:
                return _ERRNO_CAUSES[errno.ENOSPC]
    return f"{type(error).__name__}: {' '.join(str(error).split())}" if fallback else None


def output_error(target, error, action="cannot be written"):
    """An :class:`LRSOutputError` for ``target``: its path, what failed and the cause, one line."""
    target = Path(target)
    cause = os_cause(error, target.parent)
    failure = LRSOutputError(f"{target}: {action} ({cause})")
    failure.cause = cause
    return failure


def _not_regular(target, kind):
    failure = LRSOutputError(f"{target}: cannot be written (it is {kind}, not a regular file)")
    failure.cause = f"it is {kind}, not a regular file"
    return failure


def clean_stale_scratch(folder):
    """Remove scratch files and folders left in ``folder`` by processes that no longer run.

    Only names made by :func:`scratch_file` / :func:`scratch_folder` are considered, and only
    those whose process id is not alive; scratch of a running process is kept.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed  # a folder we cannot list holds nothing we could remove
    for entry in entries:
        match = _SCRATCH_NAME.match(entry.name)
        if not match or _process_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def scratch_file(target):
    """A new empty scratch file beside ``target``, to be filled and then :func:`publish`-ed.

    Its name is hidden and recognisable (``.<name>.lrsh-partial-<pid>-<random>``), its mode is
    0666 less the umask; stale scratch of dead processes in the folder is removed first.

    Raises
    ------
    LRSOutputError
        The folder does not exist or cannot be written (naming ``target`` and the cause).
    """
    target = Path(target)
    clean_stale_scratch(target.parent)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}{SCRATCH_TAG}{os.getpid()}-",
                                        dir=target.parent)
        try:
            os.fchmod(handle, 0o666 & ~_umask())
        finally:
            os.close(handle)
    except OSError as error:
        raise output_error(target, error) from error
    return Path(name)


def scratch_folder(target):
    """A new empty scratch folder beside ``target`` (mode 0777 less the umask); see
    :func:`scratch_file`."""
    target = Path(target)
    clean_stale_scratch(target.parent)
    try:
        name = tempfile.mkdtemp(prefix=f".{target.name}{SCRATCH_TAG}{os.getpid()}-", dir=target.parent)
        os.chmod(name, 0o777 & ~_umask())
    except OSError as error:
        raise output_error(target, error) from error
    return Path(name)


def publish(scratch, target):
    """Rename a completed scratch file into place (atomic on one file system).

    Raises
    ------
    LRSOutputError
        ``target`` is a folder or another non-regular file, or the rename failed; the scratch
        file is removed either way.
    """
    target = Path(target)
    kind = file_kind(target)
    try:
        if kind not in (None, "a regular file"):
            raise _not_regular(target, kind)
        try:
            os.replace(scratch, target)
        except OSError as error:
            raise output_error(target, error) from error
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return target


@contextlib.contextmanager
def input_errors(name):
    """Within this block, a library error met while using the product ``name`` (a ValueError
    from numpy, astropy or photutils; astropy's VerifyError; an ASDF schema ValidationError)
    becomes one :class:`LRSInputError` naming the product, for files :func:`open_product`
    accepted but a helper cannot use."""
    try:
        yield
    except (LRSInputError, LRSOutputError):
        raise
    except Exception as error:
        if not isinstance(error, ValueError) and type(error).__name__ not in ("VerifyError", "ValidationError"):
            raise
        text = " ".join(str(error).split())
        text = text[len(str(name)) + 2:] if text.startswith(f"{name}: ") else text
        raise LRSInputError(f"{name}: it cannot be used here ({type(error).__name__}: {text}); "
                            "expected a product this helper can work on. Check the product's "
                            "data and header, or reprocess it with the jwst pipeline.") from error


def _fail(name, problem, expected, advice):
    raise LRSInputError(f"{name}: {problem}; expected {expected}. {advice}")


def product_level_from_name(filename):
    """The product level from a jwst file name's suffix.

    Parameters
    ----------
    filename : str or path-like
        e.g. ``jw01033005001_04103_00001-seg001_mirimage_rateints.fits``.

    Returns
    -------
    str or None
        A key of :data:`PRODUCT_LEVELS`, or None when the name has no known suffix.
    """
    match = _SUFFIX.search(Path(str(filename)).name)
    return match.group(1).lower() if match else None


def _levels_for_model_type(model_type):
    return tuple(level for level, (_, types) in PRODUCT_LEVELS.items() if model_type in types)


def _read_fits_facts(path):
    """Header facts of a FITS file, checking that it is intact.

    Returns
    -------
    dict
        instrument, exp_type, model_type, and extensions: EXTNAME -> (dimensions, size), where
        size is the number of pixels (images) or rows (tables).
    """
    name = str(path)
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            start = handle.read(30)
    except OSError as error:
        _fail(name, f"it cannot be read ({os_cause(error)})", "a readable product file",
              "Check the file's permissions (ls -l) or copy it somewhere you can read.")
    if not start.startswith(b"SIMPLE  =") or start[29:30] != b"T":
        _fail(name, "not a FITS file (it does not start with a 'SIMPLE = T' card)",
              "a JWST pipeline product in FITS format (*.fits)",
              "Check the path; products from MAST or the jwst pipeline are FITS files.")
    if size % _FITS_BLOCK:
        _fail(name, f"truncated or damaged FITS file ({size} bytes, not a whole number of "
              f"{_FITS_BLOCK}-byte FITS blocks)", "a complete FITS file",
              "Download or copy the file again.")
    try:
        # Damage shows up as astropy warnings (non-ASCII cards, bad padding, invalid cards, "file
        # may have been truncated"); treat them as errors so it is never silently patched over.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                # Cards astropy can repair (e.g. lower-case keywords) are tolerated, as in real
                # archive products; anything it cannot repair is damage.
                hdul.verify("silentfix+exception")
                primary = hdul[0].header
                extensions = {}
                for hdu in hdul[1:]:
                    if hdu.name in extensions:
                        continue
                    dims = hdu.header.get("NAXIS", 0)
                    if isinstance(hdu, fits.BinTableHDU):
                        extensions[hdu.name] = (None, hdu.header.get("NAXIS2", 0))
                    else:
                        shape = [hdu.header.get(f"NAXIS{i}", 0) for i in range(1, dims + 1)]
                        count = 1 if dims else 0
                        for n in shape:
                            count *= n
                        extensions[hdu.name] = (dims, count)
    except LRSInputError:
        raise
    except Exception as error:  # astropy raises many types for damaged files
        if "truncated" in str(error):
            _fail(name, f"truncated FITS file: {error}", "a complete FITS file",
                  "Download or copy the file again.")
        _fail(name, f"damaged FITS file, its headers cannot be read ({type(error).__name__}: {error})",
              "an intact FITS file", "Download or copy the file again.")
    if primary.get("DATAMODL") and "ASDF" not in extensions:
        # A cut exactly between two HDUs leaves valid FITS; only the missing last HDU tells.
        _fail(name, f"truncated product, or one not written by the jwst pipeline: no ASDF extension, "
              f"which the pipeline writes last (it has {sorted(extensions) or 'no extensions'})",
              "a complete pipeline product file",
              "Download or copy the file again; a file made by other software cannot be read as a product.")
    return {
        "instrument": primary.get("INSTRUME"),
        "exp_type": primary.get("EXP_TYPE"),
        "model_type": primary.get("DATAMODL"),
        "extensions": extensions,
        "twin": _twin_from_header(primary),
    }


def _twin_from_header(header):
    """The sample-twin marks of a primary header (see :func:`lrs_helpers.sample.mark_twin`), or None."""
    if not (header.get("LRSTWIN") or header.get("ORIGIN") == "LRS_HELPERS"):
        return None
    return {"scenario": header.get("LRSTWSCN"), "seed": header.get("LRSTWSED"),
            "version": header.get("LRSTWVER")}


def sample_twin_info(path_or_model):
    """Whether a product is an lrs_helpers sample twin, and which one.

    Parameters
    ----------
    path_or_model : str, path-like or DataModel
        A product file or an open model.

    Returns
    -------
    dict or None
        ``{"scenario", "seed", "version"}`` for a sample twin (read from its primary header:
        ORIGIN ``LRS_HELPERS``, ``LRSTWIN``, ``LRSTWSCN``, ``LRSTWSED``, ``LRSTWVER``); None for
        any other product, real ones included.
    """
    if isinstance(path_or_model, DataModel):
        header = {}
        extra = path_or_model.instance.get("extra_fits", {}).get("PRIMARY", {}).get("header", [])
        for card in extra:
            if len(card) >= 2:
                header[card[0]] = card[1]
        header["ORIGIN"] = path_or_model.meta.origin
        return _twin_from_header(header)
    try:
        header = fits.getheader(path_or_model, 0)
    except (OSError, ValueError):
        return None
    return _twin_from_header(header)


def describe_source(path_or_model):
    """One line saying what a product is: a sample twin (with its seed) or a product from elsewhere.

    Returns
    -------
    str
        E.g. ``"jw..._rateints.fits: sample twin (slitless_background, seed 20221, lrs_helpers
        0.1.0), not a real observation"``, or ``"jw..._rateints.fits: ORIGIN STSCI"``.
    """
    name = Path(path_or_model.meta.filename or "product").name if isinstance(path_or_model, DataModel) \
        else Path(path_or_model).name
    twin = sample_twin_info(path_or_model)
    if twin is not None:
        return (f"{name}: sample twin ({twin['scenario']}, seed {twin['seed']}, lrs_helpers "
                f"{twin['version']}), not a real observation")
    if isinstance(path_or_model, DataModel):
        origin = path_or_model.meta.origin
    else:
        origin = fits.getheader(path_or_model, 0).get("ORIGIN")
    return f"{name}: ORIGIN {origin or 'not recorded'}"


@contextlib.contextmanager
def twin_notes_off():
    """Within this block :func:`open_product` prints no "sample twin" line (for reports that say
    it themselves, such as the command line's)."""
    _ANNOUNCE.append(False)
    try:
        yield
    finally:
        _ANNOUNCE.pop()


def _model_facts(model):
    """The same facts as :func:`_read_fits_facts`, from an open datamodel."""
    instance = model.instance
    extensions = {}
    for extname, attribute in _EXTENSION_ATTRIBUTES.items():
        # Look in the tree, not through getattr: getattr would create a default array.
        value = instance.get(attribute)
        if value is None:
            continue
        value = np.asarray(value)
        extensions[extname] = (value.ndim, value.size) if value.dtype.names is None else (None, len(value))
    spectra = instance.get("spec") or []
    if spectra:
        rows = sum(len(spec.get("spec_table", [])) for spec in spectra)
        extensions["EXTRACT1D"] = (None, rows)
    meta = instance.get("meta", {})
    return {
        "instrument": meta.get("instrument", {}).get("name"),
        "exp_type": meta.get("exposure", {}).get("type"),
        "model_type": type(model).__name__,
        "extensions": extensions,
    }


def _check(name, facts, levels, extensions, exp_types):
    """Raise LRSInputError for the first problem found in ``facts``; return the product level."""
    instrument = facts["instrument"]
    if instrument is None:
        _fail(name, "no INSTRUME keyword in the primary header", "a JWST MIRI product (INSTRUME='MIRI')",
              "Use a product written by the jwst pipeline or downloaded from MAST.")
    if str(instrument).upper() != "MIRI":
        _fail(name, f"a product of another instrument (INSTRUME={instrument!r})",
              "a MIRI product (INSTRUME='MIRI')", "Open the MIRI LRS product of your observation.")
    exp_type = facts["exp_type"]
    allowed = tuple(exp_types) if exp_types is not None else LRS_EXP_TYPES
    if exp_type is None:
        _fail(name, "no EXP_TYPE keyword in the primary header", f"one of {list(allowed)}",
              "Use a product written by the jwst pipeline or downloaded from MAST.")
    if str(exp_type).upper() not in allowed:
        what = _OTHER_MODES.get(str(exp_type).upper(), "an exposure of another mode")
        lrs = " (LRS: MIR_LRS-FIXEDSLIT or MIR_LRS-SLITLESS)" if exp_types is None else ""
        _fail(name, f"{what} (EXP_TYPE={exp_type!r})", f"EXP_TYPE one of {list(allowed)}{lrs}",
              "Open the LRS exposure of your observation (its file name contains 'mirimage' and "
              "its EXP_TYPE starts with MIR_LRS).")

    model_type = facts["model_type"]
    named_level = product_level_from_name(name)
    if named_level is not None:
        candidates = (named_level,)
        expected_types = PRODUCT_LEVELS[named_level][1]
        if model_type is not None and model_type not in expected_types:
            ndim = PRODUCT_LEVELS[named_level][0]
            holds = _AXES.get(ndim, "extracted spectra")
            _fail(name, f"the file name says '{named_level}' but it holds datamodel type {model_type}",
                  f"{' or '.join(expected_types)} with {holds}",
                  "Check that the file was not renamed; open the product of the level you need.")
    elif model_type is not None:
        candidates = _levels_for_model_type(model_type)
    else:
        candidates = ()
    if levels is not None:
        levels = tuple(levels)
        unknown = sorted(set(levels) - set(PRODUCT_LEVELS))
        if unknown:
            raise ValueError(f"unknown product level(s) {unknown}; known levels: {list(PRODUCT_LEVELS)}")
        if not candidates:
            _fail(name, "its product level cannot be told (no jwst suffix such as _rate.fits in the "
                  "name and no DATAMODL keyword)", f"a product of level {list(levels)}",
                  "Keep the jwst file name (e.g. ..._mirimage_rateints.fits).")
        if not set(candidates) & set(levels):
            found = (f"a '{named_level}' product" if named_level is not None
                     else f"a {model_type} (product level {' or '.join(candidates)})")
            _fail(name, found, f"a product of level {list(levels)}",
                  "Open the product of the level this step works on (for example the rateints "
                  "for slitless background, the uncal for EMI and jumps).")
        candidates = tuple(level for level in candidates if level in levels)

    found = facts["extensions"]
    if extensions is None:
        spectra = bool(candidates) and all(PRODUCT_LEVELS[level][0] is None for level in candidates)
        extensions = ("EXTRACT1D",) if spectra or ("EXTRACT1D" in found and "SCI" not in found) else ("SCI",)
    for extname in extensions:
        extname = extname.upper()
        if extname not in found:
            _fail(name, f"no {extname} extension (it has {sorted(found) or 'none'})",
                  f"a product with a non-empty {extname} extension",
                  "Use the full pipeline product, not a cut-down copy; some extensions (e.g. "
                  "WAVELENGTH) appear only after later pipeline steps.")
        if found[extname][1] == 0:
            _fail(name, f"the {extname} extension is empty", f"a non-empty {extname} extension",
                  "Download or reprocess the product again.")

    dims = {PRODUCT_LEVELS[level][0] for level in candidates} - {None}
    if "SCI" in found and len(dims) == 1:
        ndim = dims.pop()
        if found["SCI"][0] != ndim:
            _fail(name, f"SCI is {found['SCI'][0]}-D", f"{_AXES[ndim]} for product level "
                  f"{' or '.join(candidates)}", "Open the product of the expected level.")
    return candidates[0] if len(candidates) == 1 else None


def _announce_twin(path, facts):
    """Say once per file and session that a product is a sample twin, so that a twin is never
    taken for sky data (unless :func:`twin_notes_off`)."""
    if facts["twin"] is not None and _ANNOUNCE[-1] and path.resolve() not in _ANNOUNCED:
        _ANNOUNCED.add(path.resolve())
        twin = facts["twin"]
        print(f"{path.name} is an lrs_helpers sample twin ({twin['scenario']}, seed {twin['seed']}), "
              "not a real observation")


def check_product(path, *, levels=None, extensions=None, exp_types=None, announce=False):
    """Check a product file from its headers alone, reading none of its data.

    The checks of :func:`open_product` (intact FITS, MIRI, EXP_TYPE, level, extensions), for
    code that streams a large file instead of opening it as a datamodel.

    Parameters
    ----------
    path : str or path-like
        The product file.
    levels, extensions, exp_types
        As for :func:`open_product`.
    announce : bool
        Print that the file is a sample twin, as :func:`open_product` does (for readers that
        stream a product in its place).

    Returns
    -------
    str or None
        The product level, when it can be told.

    Raises
    ------
    LRSInputError
        As :func:`open_product`.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        _fail(str(path), "no such file" if not path.exists() else "a folder, not a file",
              "an existing product file", "Check the path.")
    facts = _read_fits_facts(path)
    level = _check(str(path), facts, levels, extensions, exp_types)
    if announce:
        _announce_twin(path, facts)
    return level


def open_product(path_or_model, *, levels=None, extensions=None, exp_types=None):
    """Open a MIRI LRS product after checking it is what the caller expects.

    Parameters
    ----------
    path_or_model : str, path-like or DataModel
        A product file, or a model already open (its ``meta.filename`` names it in errors).
    levels : tuple of str, optional
        Acceptable product levels (file-name suffixes, keys of :data:`PRODUCT_LEVELS`), e.g.
        ``("uncal", "ramp")``, ``("rateints",)``, ``("x1d", "x1dints")``. None accepts any.
        The level comes from the jwst file-name suffix, else from the datamodel type.
    extensions : tuple of str, optional
        FITS extensions that must be present and non-empty, e.g. ``("SCI", "DQ", "WAVELENGTH")``.
        Default: ``("SCI",)``, or ``("EXTRACT1D",)`` for spectra (x1d, x1dints).
    exp_types : tuple of str, optional
        Acceptable EXP_TYPE values; default :data:`LRS_EXP_TYPES`.

    Returns
    -------
    stdatamodels.jwst.datamodels.JwstDataModel
        The opened model (the same object when a model was given). Close it when done.

    Raises
    ------
    LRSInputError
        One error naming the file, what is wrong, what was expected and what to do.
    """
    if isinstance(path_or_model, DataModel):
        name = path_or_model.meta.filename or f"<{type(path_or_model).__name__} without a file name>"
        _check(name, _model_facts(path_or_model), levels, extensions, exp_types)
        return path_or_model

    path = Path(path_or_model).expanduser()
    name = str(path)
    if not path.exists():
        _fail(name, "no such file", "an existing product file",
              "Check the path (lrs_helpers.data.get(key) gives the path of a known product).")
    kind = file_kind(path)
    if kind == "a folder":
        _fail(name, "a folder, not a file", "a product file (*.fits)", "Name one file inside it.")
    if kind != "a regular file":
        _fail(name, f"{kind}, not a regular file", "a product file (*.fits)",
              "Name the product file itself (copy a stream to a file first).")
    facts = _read_fits_facts(path)
    _check(name, facts, levels, extensions, exp_types)
    _announce_twin(path, facts)

    try:
        with warnings.catch_warnings():
            # Schema-validation warnings on real products are informational here.
            warnings.simplefilter("ignore", category=UserWarning)
            model = datamodels.open(name)
    except Exception as error:  # stdatamodels raises many types for unreadable products
        _fail(name, f"it cannot be read as a JWST datamodel ({type(error).__name__}: {error})",
              "a product written by the jwst pipeline", "Reprocess or download the product again.")
    _SOURCES[id(model)] = path.resolve()
    weakref.finalize(model, _SOURCES.pop, id(model), None)
    return model


def _source_paths(model):
    """Paths the model may have been read from (resolved where known)."""
    source = _SOURCES.get(id(model))
    return [source] if source is not None else []


def _qualified_name(function):
    if function is None or isinstance(function, str):
        return function
    return f"{function.__module__}.{function.__qualname__}"


def record_provenance(header, function=None, parameters=None):
    """Add lrs_helpers provenance to a FITS primary header (in place).

    ``LRSH_VER`` (lrs_helpers version), ``LRSH_FUN`` (function that made the product),
    ``LRSH_UTC`` (UTC time written), ``LRSH_PAR`` (its parameters as JSON) and a HISTORY line
    saying the same; :func:`read_provenance` reads them back.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Primary header of the file being written (never of an input).
    function : callable or str, optional
        What made the product, recorded by qualified name.
    parameters : dict, optional
        Its parameters, recorded as JSON (values JSON cannot hold are recorded as text).
    """
    written = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    record = json.dumps(parameters or {}, sort_keys=True, default=str)
    name = _qualified_name(function) or "unspecified"
    header["LRSH_VER"] = (__version__, "lrs_helpers version that wrote this file")
    # no comment: beside a qualified name up to 68 characters it would be cut (and warn)
    header["LRSH_FUN"] = name[-68:]
    header["LRSH_UTC"] = (written, "UTC time this file was written")
    # Parameters of LRSH_FUN as JSON; long strings continue over CONTINUE cards and read
    # back exactly (no comment: it would not fit beside a long value).
    header["LRSH_PAR"] = record
    header.add_history(f"lrs_helpers {__version__} {name} at {written} UTC, parameters: {record}")


def write_product(model, path, *, overwrite=False, function=None, parameters=None):
    """Write a datamodel to a new FITS file, atomically, with provenance.

    The model is written to a scratch file beside the target (:func:`scratch_file`), provenance
    keywords are added to its primary header, and the file is renamed to ``path`` only when
    complete; on any failure nothing is left behind. The file gets the umask's permissions
    (0644 by default). The model itself is not changed.

    Provenance in the primary header (:func:`record_provenance`): ``LRSH_VER``, ``LRSH_FUN``,
    ``LRSH_UTC``, ``LRSH_PAR`` and a HISTORY line. :func:`read_provenance` reads them back.

    Parameters
    ----------
    model : DataModel
        The product to write.
    path : str or path-like
        Target file, ``*.fits``.
    overwrite : bool
        Replace an existing file at ``path`` (never the file the model was read from).
    function : callable or str, optional
        What made the product, recorded by qualified name.
    parameters : dict, optional
        Its parameters, recorded as JSON (values JSON cannot hold are recorded as text).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False, or ``path`` is the file the model was read
        from (by resolved path when it was opened with :func:`open_product`, else an existing
        file with the model's FILENAME and DATE): nothing in lrs_helpers writes over its input.
    LRSInputError
        ``path`` is not a ``.fits`` name or its folder does not exist.
    LRSOutputError
        The file could not be written, one line naming ``path`` and the cause (disk full,
        permission denied, not a regular file, a model its schema refuses).
    """
    target = Path(path).expanduser()
    if target.suffix.lower() != ".fits":
        _fail(str(target), "not a .fits file name", "a target path ending in .fits", "Choose a .fits name.")
    folder = target.parent.resolve()
    if not folder.is_dir():
        _fail(str(target), f"the folder {folder} does not exist", "an existing folder",
              "Create the folder first.")
    resolved = folder / target.name
    kind = file_kind(resolved)
    if kind not in (None, "a regular file"):
        raise _not_regular(resolved, kind)
    if kind is not None:
        known = _source_paths(model)
        same = any(source.exists() and os.path.samefile(source, resolved) for source in known)
        # Without a recorded source path (a model opened by datamodels.open), an existing file
        # with the model's own FILENAME and DATE (the time the pipeline wrote it) is its input.
        unsure = not known and _same_product(model, resolved)
        if same or unsure:
            raise FileExistsError(
                f"{resolved}: this is the file the model was read from"
                f"{'' if same else ' (same FILENAME and DATE as the model)'}; expected a new path. "
                "Nothing in lrs_helpers writes over its input: choose another name, e.g. with a "
                "suffix such as _bkgsub.fits.")
        if not overwrite:
            raise FileExistsError(f"{resolved}: file exists; expected a new path. Pass "
                                  "overwrite=True to replace it, or choose another name.")

    scratch = scratch_file(resolved)
    saved = model.meta.filename, model.meta.date
    try:
        # Writing through an open handle keeps stdatamodels from recording the scratch name as
        # the product's FILENAME; the model's own name and DATE are restored afterwards.
        model.meta.filename = resolved.name
        try:
            with open(scratch, "wb") as handle:
                model.to_fits(handle)
                handle.flush()
                os.fsync(handle.fileno())
            with fits.open(scratch, mode="update") as hdul:
                record_provenance(hdul[0].header, function, parameters)
        except Exception as error:  # a full disk reaches us as astropy's AttributeError, too
            raise output_error(resolved, error) from error
        publish(scratch, resolved)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    finally:
        model.meta.filename, model.meta.date = saved
    return resolved


def _same_product(model, path):
    """True when the FITS file at ``path`` carries the model's FILENAME and DATE keywords."""
    if not model.meta.filename or model.meta.filename != path.name:
        return False
    try:
        header = fits.getheader(path, 0)
    except (OSError, ValueError):
        return True  # unreadable: cannot tell, so treat it as the input
    return header.get("FILENAME") == model.meta.filename and header.get("DATE") == model.meta.date


def read_provenance(path):
    """Provenance that :func:`write_product` recorded in a file.

    Parameters
    ----------
    path : str or path-like
        A FITS file.

    Returns
    -------
    dict
        ``version``, ``function``, ``written`` (UTC) and ``parameters`` (dict) of the last write,
        or an empty dict when the file carries none.
    """
    header = fits.getheader(path, 0)
    if "LRSH_VER" not in header:
        return {}
    return {
        "version": header["LRSH_VER"],
        "function": header.get("LRSH_FUN"),
        "written": header.get("LRSH_UTC"),
        "parameters": json.loads(header.get("LRSH_PAR", "{}")),
    }


# ---------------------------------------------------------------------------------------------
# Reading large products a chunk of integrations at a time
# ---------------------------------------------------------------------------------------------
#: Integrations are read in chunks of about this many bytes as stored (uint16 for uncal): a
#: 2 GB TSO segment is read in 32 chunks; a chunk's float32 working copy is about 128 MB, and
#: stcal's jump detection on a chunk's trace columns stays within a few hundred MB.
CHUNK_BYTES = 64 * 2**20


def read_integrations(hdu, integrations):
    """Some integrations of an image extension opened with ``do_not_scale_image_data=True``.

    Unsigned 16- and 32-bit data (BITPIX 16, BZERO 32768, as in uncal files; BITPIX 32, BZERO
    2**31, as DQ) are turned into uint16 / uint32 in place, without the temporary copies of
    astropy's scaling; other data are scaled by BSCALE and BZERO when present.

    Parameters
    ----------
    hdu : astropy.io.fits.ImageHDU
        The extension (SCI, GROUPDQ, ...), from a file opened with ``memmap=False`` so that only
        these integrations are read.
    integrations : slice
        Along the first axis.

    Returns
    -------
    numpy.ndarray
        New array of the values, first axis ``integrations``.
    """
    raw = np.asarray(hdu.section[integrations])
    bzero, bscale = hdu.header.get("BZERO", 0), hdu.header.get("BSCALE", 1)
    bits = 8 * raw.dtype.itemsize
    if raw.dtype.kind == "i" and bits in (16, 32) and bzero == 2 ** (bits - 1) and bscale == 1:
        # unsigned integers (uncal SCI: 16 bits; DQ: 32 bits) stored signed with an offset
        unsigned = raw.view(raw.dtype.byteorder + f"u{bits // 8}" if raw.dtype.byteorder in "<>"
                            else f"u{bits // 8}")
        unsigned ^= unsigned.dtype.type(bzero)
        return unsigned
    if bzero or bscale != 1:
        return raw * np.float32(bscale) + np.float32(bzero)
    return raw


class IntegrationChunks:
    """The ramps (SCI, GROUPDQ) of an uncal/ramp product, a chunk of integrations at a time.

    Iterate over it (as often as needed; each pass reads the file again) to get
    ``(integrations, sci, groupdq)``: a slice of the exposure's integrations, their SCI values
    (n, ngroups, ny, nx; uint16 for uncal) and GROUPDQ (or None when the file has none). Only
    one chunk is held at a time. :meth:`in_memory` gives the same for arrays already read.

    Parameters
    ----------
    path : str or path-like
        An uncal or ramp product (checked with :func:`check_product`).
    chunk_bytes : int
        About this many bytes of SCI (as stored) per chunk; at least one integration.

    Attributes
    ----------
    shape : tuple of int
        (nints, ngroups, ny, nx) of the whole exposure.
    dtype : numpy.dtype
        Of the SCI values handed out.
    pixeldq : numpy.ndarray or None
        PIXELDQ (ny, nx), when the file has one.
    chunk_ints : int
        Integrations per chunk.
    """

    def __init__(self, path, *, chunk_bytes=CHUNK_BYTES):
        self.path = Path(path)
        check_product(self.path, levels=("uncal", "ramp"))
        with fits.open(self.path, memmap=False, do_not_scale_image_data=True) as hdul:
            sci = hdul["SCI"]
            self.shape = tuple(sci.shape)
            if len(self.shape) != 4:
                _fail(str(self.path), f"SCI has shape {self.shape}", _AXES[4],
                      "Give an uncal or ramp product.")
            self.extensions = {hdu.name for hdu in hdul}
            self.dtype = read_integrations(sci, slice(0, 1)).dtype
            self.pixeldq = (np.asarray(hdul["PIXELDQ"].data) if "PIXELDQ" in self.extensions
                            and hdul["PIXELDQ"].header.get("NAXIS") == 2 else None)
            itemsize = abs(int(sci.header["BITPIX"])) // 8
        self.chunk_ints = max(1, int(chunk_bytes // (itemsize * int(np.prod(self.shape[1:])))))
        self._arrays = None

    @classmethod
    def in_memory(cls, sci, groupdq=None, pixeldq=None, *, chunk_bytes=CHUNK_BYTES):
        """The same chunks from arrays already in memory (views, no copies)."""
        chunks = cls.__new__(cls)
        sci = np.asarray(sci)
        chunks.path, chunks.shape, chunks.dtype = None, sci.shape, sci.dtype
        chunks.pixeldq = None if pixeldq is None else np.asarray(pixeldq)
        chunks._arrays = (sci, None if groupdq is None else np.asarray(groupdq))
        chunks.chunk_ints = max(1, int(chunk_bytes // (sci.itemsize * int(np.prod(sci.shape[1:])))))
        return chunks

    def slices(self):
        """The integration slices of the chunks, in order."""
        nints = self.shape[0]
        return [slice(start, min(start + self.chunk_ints, nints)) for start in range(0, nints, self.chunk_ints)]

    def __iter__(self):
        return self.read()

    def read(self, integrations=None):
        """Iterate over ``(integrations, sci, groupdq)`` for the integration slices given
        (default every chunk, :meth:`slices`)."""
        parts = self.slices() if integrations is None else list(integrations)
        if self._arrays is not None:
            sci, groupdq = self._arrays
            for integrations in parts:
                yield integrations, sci[integrations], None if groupdq is None else groupdq[integrations]
            return
        with fits.open(self.path, memmap=False, do_not_scale_image_data=True) as hdul:
            has_groupdq = "GROUPDQ" in self.extensions and hdul["GROUPDQ"].header.get("NAXIS") == 4
            for integrations in parts:
                groupdq = read_integrations(hdul["GROUPDQ"], integrations) if has_groupdq else None
                yield integrations, read_integrations(hdul["SCI"], integrations), groupdq


def open_metadata(path, *, levels=("uncal", "ramp")):
    """A product's datamodel holding its metadata and only its first integration.

    Opening a TSO segment as a datamodel reads every array into memory; this reads the headers,
    the small extensions (PIXELDQ, INT_TIMES, WAVELENGTH, ...) and one integration of each
    per-integration extension: the 4-D ones of an uncal/ramp, the 3-D ones of a
    rateints/calints, and the first row of each EXTRACT1D table of an x1dints (one table, or one
    per integration in the older layout).

    Parameters
    ----------
    path : str or path-like
        The product (checked with :func:`check_product`).
    levels : tuple of str
        Acceptable product levels.

    Returns
    -------
    stdatamodels.jwst.datamodels.JwstDataModel
        The model (its 4-D arrays have one integration); close it when done.
    """
    path = Path(path).expanduser()
    check_product(path, levels=levels)
    with fits.open(path, memmap=False) as hdul, open(path, "rb") as stream:
        small = fits.HDUList([fits.PrimaryHDU(header=hdul[0].header)])
        # extensions with SCI's dimensions hold one image (or ramp) per integration
        per_integration = hdul["SCI"].header.get("NAXIS") if "SCI" in hdul else None
        for hdu in hdul[1:]:
            if (isinstance(hdu, fits.ImageHDU) and per_integration in (3, 4)
                    and hdu.header.get("NAXIS") == per_integration):
                small.append(fits.ImageHDU(np.asarray(hdu.section[:1]), name=hdu.name))
            elif isinstance(hdu, fits.BinTableHDU) and hdu.name == "EXTRACT1D":
                # the header with one row, and that row's bytes: astropy applies the columns'
                # units and scaling as for the whole table (every table is kept: the older
                # layout's metadata tree names each of them)
                header = hdu.header.copy()
                header["NAXIS2"] = min(1, int(hdu.header["NAXIS2"]))
                first = os.pread(stream.fileno(), int(header["NAXIS1"]) * header["NAXIS2"],
                                 hdu.fileinfo()["datLoc"])
                block = header.tostring().encode("ascii") + first + bytes(-len(first) % _FITS_BLOCK)
                small.append(fits.BinTableHDU.fromstring(block))
            else:
                small.append(hdu.copy())
        model_type = hdul[0].header.get("DATAMODL") or "RampModel"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            try:
                model = getattr(datamodels, model_type)(small)
            except Exception as error:  # stdatamodels raises many types for unreadable products
                _fail(str(path), f"it cannot be read as a JWST datamodel ({type(error).__name__}: {error})",
                      "a product written by the jwst pipeline", "Reprocess or download the product again.")
    model.meta.filename = model.meta.filename or path.name
    return model


#: Levels whose SCI holds one image per integration (3-D), read by :class:`CubeChunks`.
CUBE_LEVELS = ("rateints", "calints", "crfints")
#: SCI bytes (as stored) per chunk of a rateints/calints: about 140 SLITLESSPRISM integrations
#: (float32), so that a chunk's float64 working copies (the edge background model and its
#: temporaries) stay near 100 MB, and each chunk still holds more than the 64 integrations the
#: background's column survey needs (lrs_helpers.background.SURVEY_INTEGRATIONS).
CUBE_CHUNK_BYTES = 16 * 2**20


class CubeChunks:
    """The images of a rateints/calints/crfints product, a chunk of integrations at a time.

    :meth:`read` yields ``(integrations, arrays)``: a slice of the exposure's integrations and a
    dict of the extensions asked for, each (n, ny, nx) as stored (SCI and ERR float32, DQ
    uint32; DQ is zeros when the file has none, ERR None). Only one chunk is held at a time;
    each pass reads the file again. :meth:`in_memory` gives the same for arrays already read
    (a 2-D image counts as one integration).

    Parameters
    ----------
    path : str or path-like
        A rateints, calints or crfints product (checked with :func:`check_product`).
    chunk_bytes : int, optional
        About this many bytes of SCI (as stored) per chunk (default :data:`CUBE_CHUNK_BYTES`);
        at least one integration.

    Attributes
    ----------
    shape : tuple of int
        (nints, ny, nx) of the whole exposure.
    chunk_ints : int
        Integrations per chunk.
    """

    def __init__(self, path, *, chunk_bytes=None):
        self.path = Path(path)
        chunk_bytes = CUBE_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        check_product(self.path, levels=CUBE_LEVELS)
        with fits.open(self.path, memmap=False, do_not_scale_image_data=True) as hdul:
            self.shape = tuple(hdul["SCI"].shape)
            if len(self.shape) != 3:
                _fail(str(self.path), f"SCI has shape {self.shape}", _AXES[3],
                      "Give a rateints, calints or crfints product.")
            self.extensions = {hdu.name for hdu in hdul if isinstance(hdu, fits.ImageHDU)
                               and tuple(hdu.shape) == self.shape}
            itemsize = abs(int(hdul["SCI"].header["BITPIX"])) // 8
        self.chunk_ints = max(1, int(chunk_bytes // (itemsize * self.shape[1] * self.shape[2])))
        self._arrays = None

    @classmethod
    def in_memory(cls, arrays, *, chunk_bytes=None):
        """The same chunks from arrays already in memory: ``arrays`` maps extension names (SCI,
        DQ, ERR) to (nints, ny, nx) or (ny, nx) arrays (views, no copies)."""
        chunk_bytes = CUBE_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        chunks = cls.__new__(cls)
        arrays = {name: np.asarray(value) for name, value in arrays.items() if value is not None}
        arrays = {name: value[None] if value.ndim == 2 else value for name, value in arrays.items()}
        chunks.path, chunks.shape = None, arrays["SCI"].shape
        chunks.extensions = {name for name, value in arrays.items() if value.shape == chunks.shape}
        chunks._arrays = arrays
        itemsize = arrays["SCI"].itemsize
        chunks.chunk_ints = max(1, int(chunk_bytes // (itemsize * chunks.shape[1] * chunks.shape[2])))
        return chunks

    def slices(self):
        """The integration slices of the chunks, in order."""
        nints = self.shape[0]
        return [slice(start, min(start + self.chunk_ints, nints)) for start in range(0, nints, self.chunk_ints)]

    def _take(self, source, name, integrations):
        if name in self.extensions:
            return source(name, integrations)
        if name == "DQ":
            count = len(range(*integrations.indices(self.shape[0])))
            return np.zeros((count, *self.shape[1:]), np.uint32)
        return None

    def read(self, names=("SCI", "DQ"), integrations=None):
        """Iterate over ``(integrations, {name: array})`` for the extensions ``names``.

        Parameters
        ----------
        names : sequence of str
            Extensions to read (SCI, DQ, ERR, VAR_POISSON, ...).
        integrations : sequence of slice, optional
            The integrations to read, default every chunk (:meth:`slices`).
        """
        integrations = self.slices() if integrations is None else list(integrations)
        if self._arrays is not None:
            for part in integrations:
                yield part, {name: self._take(lambda n, s: self._arrays[n][s], name, part) for name in names}
            return
        with fits.open(self.path, memmap=False, do_not_scale_image_data=True) as hdul:
            for part in integrations:
                yield part, {name: self._take(lambda n, s: _native(read_integrations(hdul[n], s)), name, part)
                             for name in names}

    def __iter__(self):
        return self.read()


def _native(values):
    """``values`` in the machine's byte order (FITS stores big-endian), swapped in place."""
    if values.dtype.isnative:
        return values
    values.byteswap(inplace=True)
    return values.view(values.dtype.newbyteorder("="))


def read_table_columns(path, names, *, extname="EXTRACT1D", chunk_bytes=None):
    """Some columns of every binary-table extension ``extname`` of a file, read a chunk of rows
    at a time: only those columns are kept (an x1dints' EXTRACT1D table has about 20 columns,
    one row per integration).

    Parameters
    ----------
    path : str or path-like
        A FITS file (check it first, e.g. with :func:`check_product`).
    names : sequence of str
        Columns to read; a column the table does not have is left out of the result.
    extname : str
        Extension name.
    chunk_bytes : int, optional
        About this many bytes of rows read at a time (at least one row; default
        :data:`CHUNK_BYTES`).

    Returns
    -------
    list of dict
        One per extension ``extname``, in file order: column name -> array of its values
        (rows on axis 0; vector columns 2-D), native byte order, TSCAL/TZERO applied.
    """
    path = Path(path)
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    tables = []
    with fits.open(path, memmap=False) as hdul, open(path, "rb") as stream:
        for hdu in hdul:
            if hdu.name != extname or not isinstance(hdu, fits.BinTableHDU):
                continue
            columns = hdu.columns
            record = columns.dtype.newbyteorder(">")  # the rows as stored: FITS is big-endian
            wanted = [name for name in names if name in columns.names]
            nrows, width = int(hdu.header["NAXIS2"]), int(hdu.header["NAXIS1"])
            if record.itemsize != width:
                _fail(str(path), f"{extname} rows of {width} bytes do not match their columns "
                      f"({record.itemsize} bytes)", "an intact binary table", "Download or copy the file again.")
            arrays = {name: np.empty((nrows, *record[name].shape), record[name].base.newbyteorder("="))
                      for name in wanted}
            start = hdu.fileinfo()["datLoc"]
            step = max(1, chunk_bytes // max(width, 1))
            for first in range(0, nrows, step):
                count = min(step, nrows - first)
                raw = os.pread(stream.fileno(), count * width, start + first * width)
                if len(raw) != count * width:
                    _fail(str(path), f"the {extname} table is cut short", "a complete FITS file",
                          "Download or copy the file again.")
                rows = np.frombuffer(raw, dtype=record)
                for name in wanted:
                    arrays[name][first:first + count] = rows[name]
            for name in wanted:
                scale, zero = columns[name].bscale or 1, columns[name].bzero or 0
                values = arrays[name]
                if values.dtype.kind == "i" and scale == 1 and zero == 2 ** (8 * values.itemsize - 1):
                    # unsigned integers (DQ: int32 with TZERO 2**31): flip the sign bit in place
                    unsigned = values.view(f"u{values.itemsize}")
                    unsigned ^= unsigned.dtype.type(zero)
                    arrays[name] = unsigned
                elif scale != 1 or zero:
                    arrays[name] = values * scale + zero
            tables.append(arrays)
    return tables
