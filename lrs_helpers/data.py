"""Data for the walkthroughs: the real MAST product when you have it, its sample twin otherwise.

Every product a notebook uses has a key in ``data_manifest.csv`` (shipped at the top of the
project). The manifest names the real MAST product the key stands for (file name, program,
observation, target) and the sample twin that replaces it offline (``sample_recipe``, written
``scenario:role`` as in :mod:`lrs_helpers.sample`).

:func:`get` returns a path for a key, trying in order:

1. a copy of the real MAST product already in the cache, ``<cache>/mast/<mast_filename>``,
   checked against its sha256: the manifest's where it records one, else the one recorded in
   the lock file ``<cache>/mast.lock.json`` when the copy was downloaded;
2. with ``source="mast"``: a download from MAST (see :func:`download`), verified, recorded in the
   lock file and only then renamed to its final name;
3. otherwise the product's sample twin, built once into the cache by :mod:`lrs_helpers.sample`.

The default, ``source="auto"``, never touches the network, so notebooks stay fast and
reproducible. To work on the real data, download it once with ``get(key, source="mast")`` (or
:func:`download_all`), or set ``LRS_HELPERS_SOURCE=mast`` before starting Jupyter; after that
``auto`` picks up the cached real products. A file you already have can also be copied by hand
to ``<cache>/mast/<mast_filename>`` (it is used as it is: no checksum is known for it).

No public source we could read gives the size or checksum of the manifest's products, so the
manifest's ``sha256`` column is empty; each download is checked against MAST's own product list
(size) and the manifest row (identity in the header), and its sha256 is then locked.

Environment variables
---------------------
``LRS_HELPERS_SOURCE``
    Default source when :func:`get` is called without one: ``auto``, ``mast`` or ``sample``.
``LRS_HELPERS_CACHE``
    Cache folder (see :func:`cache_dir`).
``LRS_HELPERS_MAST_SERVER``
    The MAST server (default :data:`MAST_SERVER`); tests point it at a local stand-in.

The manifest is ``<project>/data_manifest.csv`` in a source checkout or an editable install
(``pip install -e .``); a wheel carries a copy of it inside the package (``setup.py`` copies it
at build time), used when there is no checkout beside the package.
"""

import contextlib
import csv
import datetime
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from astropy.io import fits
from astropy.table import Table

from . import io, sample

#: the top-level manifest of a source checkout or editable install: the file to edit
_CHECKOUT_MANIFEST = Path(__file__).resolve().parents[1] / "data_manifest.csv"
#: the manifest in use: the checkout's, else the copy a wheel carries inside the package
MANIFEST_PATH = (_CHECKOUT_MANIFEST if _CHECKOUT_MANIFEST.is_file()
                 else Path(__file__).resolve().parent / "data_manifest.csv")

#: manifest columns, in file order
COLUMNS = (
    "key", "notebook", "mode", "level", "mast_filename", "program", "observation",
    "target", "sha256", "sample_recipe", "description",
)

#: accepted values of ``source``
SOURCES = ("auto", "mast", "sample")

#: the MAST server; astroquery.mast's MastMissions (mission "jwst") lists products at
#: <server>/search/jwst/api/v0.1/post_list_products and serves them from .../retrieve_product
MAST_SERVER = "https://mast.stsci.edu"

#: (connect, read) timeouts of each request, in seconds: offline, the connection attempt gives
#: up after 5 s; a transfer that sends nothing for 30 s is abandoned.
DOWNLOAD_TIMEOUT = (5.0, 30.0)

#: overall time limit of one download, in seconds (a server that trickles bytes never ends
#: otherwise); checked after every read, so it can be passed by at most one read timeout
DOWNLOAD_DEADLINE = 3600.0

#: largest product accepted, in bytes; larger than any MIRI LRS exposure-level product (a full
#: array FASTR1 uncal of 1000 groups is about 2.2 GB)
MAX_DOWNLOAD_BYTES = 8 * 2**30

#: the lock file, beside the ``mast/`` folder of the cache: sha256 and size of each verified
#: download, checked on every later use
LOCK_NAME = "mast.lock.json"

#: bytes read at a time while streaming a download to disk (bounds the memory it uses)
_CHUNK = 1 << 20

#: what the primary EXP_TYPE of each manifest mode is
_EXP_TYPES = {"slit": ("MIR_LRS-FIXEDSLIT",), "slitless": ("MIR_LRS-SLITLESS",),
              "ta": ("MIR_TACQ", "MIR_TACONFIRM")}


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


def lock_path():
    """The lock file recording the sha256 of each verified download (:data:`LOCK_NAME`)."""
    return cache_dir() / LOCK_NAME


def mast_server(server=None):
    """The MAST server in use: ``server``, else ``$LRS_HELPERS_MAST_SERVER``, else :data:`MAST_SERVER`."""
    return (server or os.environ.get("LRS_HELPERS_MAST_SERVER") or MAST_SERVER).rstrip("/")


def mast_url(key, server=None):
    """The download URL of the real MAST product of ``key``.

    Parameters
    ----------
    key : str
        A manifest key.
    server : str, optional
        The MAST server (see :func:`mast_server`).

    Returns
    -------
    str
        ``<server>/search/jwst/api/v0.1/retrieve_product?product_name=<mast_filename>``, as
        astroquery.mast's ``MastMissions(mission="jwst").download_file`` builds it.
    """
    return _retrieve_url(mast_server(server), info(key)["mast_filename"])


def _retrieve_url(server, uri):
    return f"{server}/search/jwst/api/v0.1/retrieve_product?product_name={quote(uri, safe='')}"


def get(key, source=None, verbose=True, *, server=None, timeout=DOWNLOAD_TIMEOUT,
        deadline=DOWNLOAD_DEADLINE, max_bytes=MAX_DOWNLOAD_BYTES):
    """Path of the product for a manifest key: the real MAST product or its sample twin.

    Parameters
    ----------
    key : str
        A manifest key (see :func:`manifest`).
    source : {"auto", "mast", "sample"}, optional
        ``"auto"`` (default): the cached real product if present and intact, else the sample
        twin; never uses the network. ``"mast"``: the cached real product, downloading it when
        missing or when a copy we downloaded has changed since. ``"sample"``: always the sample
        twin. When not given, ``$LRS_HELPERS_SOURCE`` decides, else ``"auto"``.
    verbose : bool
        Print one line saying which source was used (no absolute paths, so notebook outputs
        are the same on every machine).
    server, timeout, deadline, max_bytes
        Download settings, see :func:`download`.

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
        ``source="mast"`` and the product could not be downloaded or verified, or a cached copy
        that was not downloaded here does not match the manifest's sha256 (it is left alone).
    """
    source = _resolve_source(source)
    row = info(key)
    name = row["mast_filename"]
    cached = mast_path(key)
    note = None
    if source in ("auto", "mast") and (cached.exists() or cached.is_symlink()):
        status, detail = _verify_cached(row, cached)
        if status == "ok":
            _say(verbose, f"{key}: MAST product {name} (cached copy{detail})")
            return cached
        locked = name in _read_lock()
        if source == "mast" and not locked:
            raise DownloadError(
                f"the cached copy of {name} {detail}; it was not downloaded by lrs_helpers, so it is "
                f"left alone: move {cached} away to download it again, "
                f'or use the sample twin: get({key!r}, source="sample")')
        if source == "mast":
            path = download(key, server=server, timeout=timeout, deadline=deadline, max_bytes=max_bytes)
            _say(verbose, f"{key}: MAST product {name} (the cached copy {detail}; downloaded again)")
            return path
        note = f"the cached MAST copy {detail}"
    if source == "mast":
        path = download(key, server=server, timeout=timeout, deadline=deadline, max_bytes=max_bytes)
        _say(verbose, f"{key}: MAST product {name} (downloaded from MAST)")
        return path
    twin = _sample_twin(row)
    if note is None:
        note = ("sample requested" if source == "sample"
                else 'MAST product not in the cache; pass source="mast" to download it')
    _say(verbose, f"{key}: sample twin of {name} ({note})")
    return twin


def download(key, *, server=None, timeout=DOWNLOAD_TIMEOUT, deadline=DOWNLOAD_DEADLINE,
             max_bytes=MAX_DOWNLOAD_BYTES):
    """Download the real MAST product of ``key`` into the cache, verified.

    1. MAST's product list for the exposure (astroquery.mast ``MastMissions(mission="jwst")
       .get_product_list``) gives the product's size; a product it does not list, or one larger
       than ``max_bytes``, is not fetched.
    2. The file is streamed to a scratch file beside its final place (memory use stays at one
       1 MiB block): the transfer stops as soon as the server sends more than the listed size or
       passes ``deadline``, and fails when it ends short of the listed size.
    3. The header must be the manifest row's product: intact FITS, FILENAME, PROGRAM, OBSERVTN,
       EXP_TYPE of the row's mode, and the row's product level.
    4. Its sha256 is recorded in the lock file (:func:`lock_path`) and the file renamed into place.

    On any failure the scratch file is removed, so the cache never holds an unverified product.

    Parameters
    ----------
    key : str
        A manifest key.
    server : str, optional
        The MAST server (see :func:`mast_server`).
    timeout : float or (float, float)
        (connect, read) timeouts of each request, in seconds.
    deadline : float
        Overall time limit of the download, in seconds.
    max_bytes : int
        Largest product accepted, in bytes.

    Returns
    -------
    pathlib.Path
        ``<cache>/mast/<mast_filename>``.

    Raises
    ------
    DownloadError
        One line naming the file, the URL, what went wrong and what to do instead.
    """
    import requests
    import urllib3

    row = info(key)
    name = row["mast_filename"]
    server = mast_server(server)
    url = _retrieve_url(server, name)
    target = mast_path(key)
    kind = io.file_kind(target)
    if kind not in (None, "a regular file"):
        raise _download_error(key, row, url, f"{target} is {kind}, not a regular file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _download_error(key, row, url, f"the cache folder {target.parent} cannot be created "
                                             f"({io.os_cause(error)})") from error
    started = time.monotonic()
    client = _mast_client(server, timeout)
    try:
        size, uri = _listed_product(client, row)
        url = _retrieve_url(server, uri)
        if size > max_bytes:
            raise _Refused(f"MAST lists it at {size} bytes, more than the {max_bytes}-byte limit "
                           "(pass max_bytes to allow it)")
        scratch = io.scratch_file(target)
        try:
            digest = _stream(client, url, scratch, size, started + deadline, timeout)
            problem = _identity_problem(scratch, row)
            if problem:
                raise _Refused(f"the file received is not the product named: {problem}")
            _record_lock(name, {"key": key, "sha256": digest, "size": size, "url": url,
                                "retrieved_utc": _utc_now()})
            io.publish(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
    except _Refused as refusal:
        raise _download_error(key, row, url, str(refusal)) from None
    except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError) as err:
        raise _download_error(key, row, url, f"no answer within the timeout ({_cause(err)})") from err
    except requests.exceptions.ConnectionError as err:
        raise _download_error(key, row, url, f"connection failed ({_cause(err)})") from err
    except requests.exceptions.HTTPError as err:
        reason = str(err).split(" for url:")[0]  # e.g. "404 Client Error: Not Found"
        raise _download_error(key, row, url, reason) from err
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as err:
        # the body is read from urllib3 directly (see _stream), so its errors arrive unwrapped
        raise _download_error(key, row, url, f"transfer failed ({_cause(err)})") from err
    except OSError as err:  # the cache: disk full, permission (LRSOutputError names the file)
        raise _download_error(key, row, url, str(err) if err.errno is None
                              else f"{target}: {io.os_cause(err, target.parent)}") from err
    return target


def download_all(keys=None, *, server=None, timeout=DOWNLOAD_TIMEOUT, deadline=DOWNLOAD_DEADLINE,
                 verbose=True):
    """Download the real MAST products of several keys (default: every manifest key).

    Products already in the cache (and matching their sha256) are kept. Stops at the first
    failure with a :class:`DownloadError`; the files downloaded before it stay in the cache.

    Returns
    -------
    dict of str -> pathlib.Path
        The cached product of each key.
    """
    return {key: get(key, source="mast", verbose=verbose, server=server, timeout=timeout,
                     deadline=deadline)
            for key in (_keys() if keys is None else keys)}


class _Refused(Exception):
    """A download that reached the server but failed a check (the reason is the message)."""


def _listed_product(client, row):
    """(size in bytes, uri) of the row's product in MAST's product list of its exposure."""
    name = row["mast_filename"]
    dataset = name.rsplit("_", 1)[0]  # the exposure's fileSetName, e.g. jw..._00001_mirimage
    import requests

    try:
        products = client.get_product_list(dataset)
    except requests.exceptions.RequestException:
        raise
    except Exception as error:  # astroquery turns an error status into its own exceptions
        raise _Refused(f"MAST's product list of {dataset} could not be read "
                       f"({type(error).__name__}: {' '.join(str(error).split())[:200]})") from error
    if products is None:
        raise _Refused(f"MAST's product list of {dataset} could not be read")
    if len(products) and "filename" not in products.colnames:
        raise _Refused(f"MAST's product list of {dataset} has no filename column")
    matches = [product for product in products if product["filename"] == name]
    if not matches:
        raise _Refused(f"MAST's product list of {dataset} has no {name} "
                       f"({len(products)} products listed)")
    product = matches[0]
    try:
        size = int(product["size"])
    except (KeyError, TypeError, ValueError):
        raise _Refused(f"MAST's product list gives no size for {name}") from None
    if size <= 0:
        raise _Refused(f"MAST's product list gives a size of {size} bytes for {name}")
    uri = str(product["uri"]) if "uri" in products.colnames and product["uri"] else name
    return size, uri


def _stream(client, url, scratch, size, deadline, timeout):
    """Stream ``url`` into ``scratch``, checking its length; the sha256 of what was written."""
    digest = hashlib.sha256()
    with client._session.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.strip() != str(size):
            raise _Refused(f"the server announces {announced} bytes, MAST's product list {size}")
        received = 0
        with open(scratch, "wb") as out:
            while True:
                block = response.raw.read1(_CHUNK) if hasattr(response.raw, "read1") \
                    else response.raw.read(_CHUNK)
                if not block:
                    break
                received += len(block)
                if received > size:
                    raise _Refused(f"the server sent more than the {size} bytes MAST lists")
                out.write(block)
                digest.update(block)
                if time.monotonic() > deadline:
                    raise _Refused(f"the download passed its overall deadline with {received} of "
                                   f"{size} bytes received")
            out.flush()
            os.fsync(out.fileno())
    if received != size:
        raise _Refused(f"the transfer was cut short: {received} of the {size} bytes MAST lists")
    return digest.hexdigest()


def _identity_problem(path, row):
    """What in the header says the file is not the row's product, or None."""
    name = row["mast_filename"]
    try:
        io._read_fits_facts(path)
    except io.LRSInputError as error:
        return str(error).replace(str(path), name, 1)
    header = fits.getheader(path, 0)
    checks = (("FILENAME", header.get("FILENAME"), (name,)),
              ("PROGRAM", header.get("PROGRAM"), (row["program"],)),
              ("OBSERVTN", header.get("OBSERVTN"), (row["observation"],)),
              ("EXP_TYPE", header.get("EXP_TYPE"), _EXP_TYPES[row["mode"]]))
    for keyword, found, expected in checks:
        if str(found) not in expected:
            return f"its {keyword} is {found!r}, the manifest's product has {' or '.join(map(repr, expected))}"
    model_type = header.get("DATAMODL")
    if model_type not in io.PRODUCT_LEVELS[row["level"]][1]:
        return (f"it holds a {model_type} (DATAMODL), not a '{row['level']}' product "
                f"({' or '.join(io.PRODUCT_LEVELS[row['level']][1])})")
    return None


def _verify_cached(row, path):
    """("ok", label) when the cached copy can be used, else ("bad", what is wrong)."""
    kind = io.file_kind(path)
    if kind != "a regular file":
        return "bad", f"is {kind or 'a broken link'}, not a regular file"
    locked = _read_lock().get(row["mast_filename"], {})
    expected = (row["sha256"] or locked.get("sha256") or "").lower()
    if not expected:
        return "ok", ", no checksum recorded"
    try:
        found = _sha256(path)
    except OSError as error:
        return "bad", f"cannot be read ({io.os_cause(error)})"
    if found != expected:
        where = MANIFEST_PATH.name if row["sha256"] else LOCK_NAME
        return "bad", f"does not match the sha256 in {where} (expected {expected}, found {found})"
    return "ok", ", sha256 verified"


def _read_lock():
    """The lock file's records by file name (empty when there is none or it is unreadable)."""
    try:
        records = json.loads(lock_path().read_text())
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _record_lock(name, record):
    """Add one verified download to the lock file (read, update, replace, under a file lock)."""
    path = lock_path()
    with _exclusive(path.parent):
        records = _read_lock()
        records[name] = record
        scratch = io.scratch_file(path)
        try:
            scratch.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
            io.publish(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(folder):
    """Hold an exclusive lock on ``folder`` (so two downloads do not lose each other's record)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: the last writer wins
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _utc_now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _read_manifest():
    """Rows of the manifest as dicts, checked for the expected columns."""
    if not MANIFEST_PATH.is_file():
        raise FileNotFoundError(
            f"data manifest not found at {MANIFEST_PATH}; lrs_helpers expects data_manifest.csv "
            "beside the package folder (a source checkout) or inside it (an installed wheel)")
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
    if not path.is_file() or io.sample_twin_info(path) is None:
        return None
    if not (path.parent / "truth.json").is_file():
        return None
    return sample.read_truth(path.parent)


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


def _mast_client(server, timeout):
    """An astroquery.mast ``MastMissions(mission="jwst")`` client of ``server`` whose requests all
    carry ``timeout``.

    astroquery sends some requests without a timeout, so offline they could wait for ever; a
    transport adapter on the client's own session supplies one. A fresh client keeps this from
    changing astroquery's shared objects.
    """
    from requests.adapters import HTTPAdapter

    MastMissions = _import_mast_missions()

    class _TimeoutAdapter(HTTPAdapter):
        def send(self, request, **kwargs):
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().send(request, **kwargs)

    client = MastMissions(mission="jwst")
    service = client._service_api_connection
    service.SERVICE_URL = server
    service.MISSIONS_DOWNLOAD_URL = f"{server}/search/"
    service.MAST_DOWNLOAD_URL = f"{server}/api/v0.1/Download/file"
    service.TIMEOUT = max(timeout) if isinstance(timeout, tuple) else timeout  # astroquery wants one number
    client.mission = "jwst"  # recomputes the request URL from SERVICE_URL
    adapter = _TimeoutAdapter()
    for session in {id(s): s for s in (client._session, service._session)}.values():
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return client


def _import_mast_missions():
    """``astroquery.mast.MastMissions``, imported even when the "astroquery" logger already exists.

    astroquery installs its own logger class at import and fails (AttributeError
    '_set_defaults') when code that ran earlier made a plain "astroquery" logger, e.g. to set
    its level (lrs_helpers.plotting quiets it so). That logger is set aside for the import and
    its level handed on to astroquery's own.
    """
    if "astroquery" not in sys.modules:
        loggers = logging.Logger.manager.loggerDict
        early = loggers.get("astroquery")
        if isinstance(early, logging.Logger) and not hasattr(early, "_set_defaults"):
            del loggers["astroquery"]
            import astroquery

            if early.level:
                astroquery.log.setLevel(early.level)
    from astroquery.mast import MastMissions

    return MastMissions


def _say(verbose, line):
    if verbose:
        print(line)
