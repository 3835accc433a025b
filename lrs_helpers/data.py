"""Data for the walkthroughs: the real MAST product when you have it, its sample twin otherwise.

Every product a notebook uses has a key in ``data_manifest.csv`` (shipped at the top of the
project). The manifest names the real MAST product the key stands for (file name, program,
observation, target) and the sample twin that replaces it offline (``sample_recipe``, written
``scenario:role`` as in :mod:`lrs_helpers.sample`).

:func:`get` returns a path for a key, trying in order:

1. a copy of the real MAST product already in the cache, ``<cache>/mast/<mast_filename>``
   (checked against the manifest's sha256 where it records one);
2. with ``source="mast"``: a download from MAST through :mod:`astroquery.mast`, written to a
   temporary name in the cache, checked, and only then renamed to its final name;
3. otherwise the product's sample twin, built once into the cache by :mod:`lrs_helpers.sample`.

The default, ``source="auto"``, never touches the network, so notebooks stay fast and
reproducible. To work on the real data, download it once with ``get(key, source="mast")`` (or
:func:`download_all`), or set ``LRS_HELPERS_SOURCE=mast`` before starting Jupyter; after that
``auto`` picks up the cached real products. A file you already have can also be copied by hand
to ``<cache>/mast/<mast_filename>``.

Environment variables
---------------------
``LRS_HELPERS_SOURCE``
    Default source when :func:`get` is called without one: ``auto``, ``mast`` or ``sample``.
``LRS_HELPERS_CACHE``
    Cache folder (see :func:`cache_dir`).
``LRS_HELPERS_MAST_URL``
    Base URL of the MAST download service (default :data:`MAST_DOWNLOAD_URL`); tests point it
    at a local server.

The manifest is found relative to this package (``<project>/data_manifest.csv``), which is where
it sits in a source checkout or an editable install (``pip install -e .``).
"""

import csv
import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from astropy.table import Table

from . import sample
from .io import sample_twin_info

#: the manifest shipped with the project (found relative to the package: see the module notes)
MANIFEST_PATH = Path(__file__).resolve().parents[1] / "data_manifest.csv"

#: manifest columns, in file order
COLUMNS = (
    "key", "notebook", "mode", "level", "mast_filename", "program", "observation",
    "target", "sha256", "sample_recipe", "description",
)

#: accepted values of ``source``
SOURCES = ("auto", "mast", "sample")

#: the MAST download service that astroquery.mast uses by default
MAST_DOWNLOAD_URL = "https://mast.stsci.edu/api/v0.1/Download/file"

#: (connect, read) timeouts of a download, in seconds: offline, the connection attempt gives up
#: after 5 s; a transfer that stalls for 30 s is abandoned.
DOWNLOAD_TIMEOUT = (5.0, 30.0)

# Every FITS file starts with this card; a download that does not (an HTML error page, say)
# is refused even when the manifest has no checksum for it.
_FITS_SIGNATURE = b"SIMPLE  ="


class DownloadError(OSError):
    """A MAST product could not be downloaded or failed its checks; nothing was saved."""


def manifest():
    """The data manifest as a table, one row per product key.

    Returns
    -------
    astropy.table.Table
        Columns :data:`COLUMNS`, all strings (program ``"01536"`` and observation ``"027"``
        keep their leading zeros; ``sha256`` is empty where no checksum is known).

    Raises
    ------
    FileNotFoundError
        When ``data_manifest.csv`` is not beside the package (a non-editable install).
    """
    rows = _read_manifest()
    return Table(rows=[[row[name] for name in COLUMNS] for row in rows],
                 names=COLUMNS, dtype=[str] * len(COLUMNS))


def info(key):
    """The manifest row of one product.

    Parameters
    ----------
    key : str
        A manifest key, e.g. ``"slit_x1d_nod1"``.

    Returns
    -------
    dict of str -> str
        The row, by column name (see :data:`COLUMNS`).

    Raises
    ------
    KeyError
        For an unknown key; the message lists the known ones.
    """
    for row in _read_manifest():
        if row["key"] == key:
            return dict(row)
    raise KeyError(f"unknown data key {key!r}; the manifest {MANIFEST_PATH.name} has: "
                   f"{', '.join(_keys())}")


def cache_dir():
    """Folder holding the downloaded MAST products (``mast/``) and the sample twins (``sample/``).

    Returns
    -------
    pathlib.Path
        ``$LRS_HELPERS_CACHE`` when set, else the per-user cache folder (platformdirs).
    """
    return sample.cache_root()


def mast_path(key):
    """Where the real MAST product of ``key`` is kept in the cache (it may not exist yet)."""
    return cache_dir() / "mast" / info(key)["mast_filename"]


def mast_url(key, base_url=None):
    """The download URL of the real MAST product of ``key``.

    Parameters
    ----------
    key : str
        A manifest key.
    base_url : str, optional
        MAST download service; default ``$LRS_HELPERS_MAST_URL``, else :data:`MAST_DOWNLOAD_URL`.

    Returns
    -------
    str
        ``<base_url>?uri=mast:JWST/product/<mast_filename>``, as astroquery.mast builds it.
    """
    return f"{_base_url(base_url)}?uri={quote(_product_uri(info(key)), safe=':/')}"


def get(key, source=None, verbose=True, *, base_url=None, timeout=DOWNLOAD_TIMEOUT):
    """Path of the product for a manifest key: the real MAST product or its sample twin.

    Parameters
    ----------
    key : str
        A manifest key (see :func:`manifest`).
    source : {"auto", "mast", "sample"}, optional
        ``"auto"`` (default): the cached real product if present, else the sample twin; never
        uses the network. ``"mast"``: the cached real product, downloading it when missing.
        ``"sample"``: always the sample twin. When not given, ``$LRS_HELPERS_SOURCE`` decides,
        else ``"auto"``.
    verbose : bool
        Print one line saying which source was used (no absolute paths, so notebook outputs
        are the same on every machine).
    base_url : str, optional
        MAST download service (see :func:`mast_url`).
    timeout : float or (float, float)
        Download (connect, read) timeouts in seconds.

    Returns
    -------
    pathlib.Path
        The product file.

    Raises
    ------
    KeyError
        Unknown key.
    ValueError
        Unknown source.
    DownloadError
        ``source="mast"`` and the product could not be downloaded or verified, or the cached
        copy does not match the manifest's sha256.
    """
    source = _resolve_source(source)
    row = info(key)
    name = row["mast_filename"]
    cached = mast_path(key)
    note = None
    if source in ("auto", "mast") and cached.is_file():
        if _sha256_matches(cached, row["sha256"]):
            checked = ", sha256 verified" if row["sha256"] else ""
            _say(verbose, f"{key}: MAST product {name} (cached copy{checked})")
            return cached
        if source == "mast":
            raise DownloadError(
                f"the cached copy of {name} does not match the sha256 in {MANIFEST_PATH.name} "
                f"(expected {row['sha256']}); delete {cached} and download it again, "
                f'or use the sample twin: get({key!r}, source="sample")')
        note = "the cached MAST copy failed its sha256 check"
    if source == "mast":
        path = download(key, base_url=base_url, timeout=timeout)
        _say(verbose, f"{key}: MAST product {name} (downloaded from MAST)")
        return path
    twin = _sample_twin(row)
    if note is None:
        note = ("sample requested" if source == "sample"
                else 'MAST product not in the cache; pass source="mast" to download it')
    _say(verbose, f"{key}: sample twin of {name} ({note})")
    return twin


def download(key, *, base_url=None, timeout=DOWNLOAD_TIMEOUT):
    """Download the real MAST product of ``key`` into the cache.

    The file is written under a temporary name beside its final place, checked (non-empty,
    a FITS file, the manifest's sha256 where recorded) and only then renamed; on any failure
    the temporary file is removed, so the cache never holds a partial product.

    Parameters
    ----------
    key : str
        A manifest key.
    base_url : str, optional
        MAST download service (see :func:`mast_url`).
    timeout : float or (float, float)
        (connect, read) timeouts in seconds.

    Returns
    -------
    pathlib.Path
        ``<cache>/mast/<mast_filename>``.

    Raises
    ------
    DownloadError
        Naming the file, the URL, what went wrong and what to do instead.
    """
    import requests

    row = info(key)
    name = row["mast_filename"]
    url = mast_url(key, base_url)
    target = mast_path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    scratch = Path(scratch)
    try:
        try:
            status, message, _ = _mast_client(timeout).download_file(
                _product_uri(row), local_path=str(scratch), base_url=_base_url(base_url),
                cache=False, verbose=False)
        except requests.exceptions.Timeout as err:
            reason = f"no answer within the timeout ({_cause(err)})"
            raise _download_error(key, row, url, reason) from err
        except requests.exceptions.ConnectionError as err:
            raise _download_error(key, row, url, f"connection failed ({_cause(err)})") from err
        except requests.exceptions.RequestException as err:
            raise _download_error(key, row, url, f"transfer failed ({_cause(err)})") from err
        if status != "COMPLETE":
            # astroquery reports e.g. "HTTPError: 404 Client Error: Not Found for url: <url>"
            reason = (message or f"download status {status}").split(" for url:")[0]
            raise _download_error(key, row, url, reason)
        problem = _check_download(scratch, row)
        if problem:
            raise _download_error(key, row, url, problem)
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return target


def download_all(keys=None, *, base_url=None, timeout=DOWNLOAD_TIMEOUT, verbose=True):
    """Download the real MAST products of several keys (default: every manifest key).

    Products already in the cache (and matching their sha256) are kept. Stops at the first
    failure with a :class:`DownloadError`; the files downloaded before it stay in the cache.

    Returns
    -------
    dict of str -> pathlib.Path
        The cached product of each key.
    """
    return {key: get(key, source="mast", verbose=verbose, base_url=base_url, timeout=timeout)
            for key in (_keys() if keys is None else keys)}


def _read_manifest():
    """Rows of the manifest as dicts, checked for the expected columns."""
    if not MANIFEST_PATH.is_file():
        raise FileNotFoundError(
            f"data manifest not found at {MANIFEST_PATH}; lrs_helpers expects data_manifest.csv "
            "beside the package folder, as in a source checkout installed with `pip install -e .`")
    with MANIFEST_PATH.open(newline="") as stream:
        reader = csv.DictReader(stream)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{MANIFEST_PATH} has columns {reader.fieldnames}; "
                             f"expected {list(COLUMNS)}")
        return list(reader)


def _keys():
    return [row["key"] for row in _read_manifest()]


def _resolve_source(source):
    """The explicit source, else ``$LRS_HELPERS_SOURCE``, else ``"auto"``; checked."""
    origin = "source"
    if source is None:
        source = os.environ.get("LRS_HELPERS_SOURCE") or "auto"
        origin = "LRS_HELPERS_SOURCE"
    if source not in SOURCES:
        raise ValueError(f"{origin}={source!r} is not a data source; expected one of {SOURCES}")
    return source


def _base_url(base_url):
    return base_url or os.environ.get("LRS_HELPERS_MAST_URL") or MAST_DOWNLOAD_URL


def sample_scenarios():
    """What each sample twin injects.

    Returns
    -------
    dict of str -> str
        Scenario name (the part before ``:`` in the manifest's ``sample_recipe``) -> one line.
    """
    return {name: description for name, (_, description) in sample.SCENARIOS.items()}


def truth(product):
    """The recorded truth of a sample twin; None for a real product.

    Notebooks put every "recovered vs injected" comparison behind this, so a real product never
    meets a twin's truth.

    Parameters
    ----------
    product : str or path-like
        A product path (as :func:`get` returns it) or a manifest key (the product :func:`get`
        would return for it now, without printing).

    Returns
    -------
    dict or None
        The twin's ``truth.json`` (plus ``truth.npz`` arrays) when ``product`` is a sample twin
        built by :mod:`lrs_helpers.sample` (its header says so and its truth lies beside it);
        None otherwise.
    """
    if isinstance(product, str) and product in _keys():
        product = get(product, verbose=False)
    path = Path(product)
    if not path.is_file() or sample_twin_info(path) is None:
        return None
    if not (path.parent / "truth.json").is_file():
        return None
    return sample.read_truth(path.parent)


def _product_uri(row):
    return f"mast:JWST/product/{row['mast_filename']}"


def _sample_twin(row):
    """Build (or reuse) the sample twin named by the row's ``scenario:role`` recipe."""
    scenario, _, role = row["sample_recipe"].partition(":")
    files = sample.build(scenario)
    if role not in files:
        raise KeyError(f"sample scenario {scenario!r} did not build a {role!r} product for "
                       f"{row['key']!r}; it built {sorted(files)}")
    return Path(files[role])


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_matches(path, expected):
    """True when no checksum is recorded or the file matches it."""
    return not expected or _sha256(path) == expected.lower()


def _check_download(path, row):
    """What is wrong with a downloaded file, or None when it passes."""
    size = path.stat().st_size
    if size == 0:
        return "the server sent an empty file"
    with open(path, "rb") as stream:
        if stream.read(len(_FITS_SIGNATURE)) != _FITS_SIGNATURE:
            return f"the {size}-byte reply is not a FITS file"
    if not _sha256_matches(path, row["sha256"]):
        return (f"sha256 mismatch: got {_sha256(path)}, the manifest records {row['sha256']} "
                "(corrupted or changed file)")
    return None


def _cause(err):
    """The innermost reason of a requests error, without the repeated URL and pool details."""
    inner = err.args[0] if err.args else err
    inner = getattr(inner, "reason", inner)  # urllib3 retries wrap the socket error
    if isinstance(inner, Exception) and inner.args and isinstance(inner.args[0], str):
        inner = inner.args[0]
    return str(inner).rsplit("): ", 1)[-1]


def _download_error(key, row, url, reason):
    return DownloadError(
        f"could not download the MAST product {row['mast_filename']} for {key!r} from {url}: "
        f"{reason}. Nothing was saved. Without access to MAST use its sample twin instead: "
        f'data.get({key!r}, source="sample").')


def _mast_client(timeout):
    """An astroquery.mast Observations client whose requests all carry ``timeout``.

    ``Observations.download_file`` sends its requests without a timeout, so offline it could
    wait for ever; a transport adapter on the client's own session supplies one. A fresh
    client keeps this from changing the shared ``astroquery.mast.Observations``.
    """
    from astroquery.mast import ObservationsClass
    from requests.adapters import HTTPAdapter

    class _TimeoutAdapter(HTTPAdapter):
        def send(self, request, **kwargs):
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().send(request, **kwargs)

    client = ObservationsClass()
    adapter = _TimeoutAdapter()
    client._session.mount("http://", adapter)
    client._session.mount("https://", adapter)
    return client


def _say(verbose, line):
    if verbose:
        print(line)
