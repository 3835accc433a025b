"""A local stand-in for the MAST services that lrs_helpers.data reaches through astroquery.mast.

It listens on 127.0.0.1 only and answers the two calls of ``MastMissions(mission="jwst")`` that
a download makes:

- ``POST /search/jwst/api/v0.1/post_list_products`` with ``{"dataset_ids": [...]}``: the product
  list, ``{"products": [{"filename", "uri", "size", "dataset", ...}, ...]}``, in the shape MAST
  returns (see astroquery's ``mast/tests/data/mission_products.json``);
- ``GET /search/jwst/api/v0.1/retrieve_product?product_name=<name>``: the file, streamed from
  disk with its Content-Length.

Each product is served under its real MAST name. A product can be given a hostile behaviour
(a body cut short, a wrong Content-Length, another product's bytes, an endless or trickling
body, no answer, an HTML page, an error status) to test that downloads refuse it.

Also here: :func:`standin_products`, the files a test serves (the sample twins with their twin
marks removed, under their real names), and
:func:`outside_guard_folder`, a ``sitecustomize`` that makes a Python subprocess (a notebook
kernel) refuse and log every connection to an address other than the local host.
"""

import json
import shutil
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

LIST_PATH = "/search/jwst/api/v0.1/post_list_products"
RETRIEVE_PATH = "/search/jwst/api/v0.1/retrieve_product"

#: what the "html" behaviour sends with status 200
ERROR_PAGE = b"<html><body>Service temporarily unavailable</body></html>"

#: behaviours a product can be served with
BEHAVIOURS = (
    "ok",          # the file, with its Content-Length
    "cut",         # the right Content-Length, then half the body and a hang-up
    "short_length",  # a Content-Length that is too small, and the body cut to match it
    "no_length",   # no Content-Length, half the body, then close (nothing tells it is short)
    "long",        # the file and then extra bytes, no Content-Length
    "endless",     # no Content-Length, zeros until the client hangs up
    "trickle",     # the right Content-Length, one byte every 50 ms
    "stall",       # no answer at all
    "html",        # 200 with an HTML error page
    "not_found",   # listed, but 404 on download
    "unlisted",    # absent from the product list (and 404 on download)
)


@dataclass
class Product:
    """One served product: the bytes on disk, the size the list gives, and how it is served."""

    path: Path
    behaviour: str = "ok"
    listed_size: int = None

    def size(self):
        return self.path.stat().st_size


class MastStandin:
    """The local MAST stand-in; use as a context manager.

    Attributes
    ----------
    products : dict of str -> Product
        What is served, by MAST file name.
    requests : list of (str, str)
        (method, path) of every request received, in order.
    server : str
        ``http://127.0.0.1:<port>``, the value for ``LRS_HELPERS_MAST_SERVER``.
    """

    def __init__(self):
        self.products = {}
        self.requests = []
        self.fail_list = False
        self._release = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass  # keep the test output clean

            def do_POST(self):
                standin.requests.append(("POST", self.path))
                standin._list(self)

            def do_GET(self):
                standin.requests.append(("GET", self.path))
                standin._retrieve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.server = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def add(self, name, path, behaviour="ok", listed_size=None):
        """Serve the file at ``path`` as the MAST product ``name``."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; expected one of {BEHAVIOURS}")
        self.products[name] = Product(Path(path), behaviour, listed_size)

    def downloads(self):
        """Names of the products whose download was requested, in order."""
        return [parse_qs(urlparse(path).query)["product_name"][0]
                for method, path in self.requests if method == "GET" and path.startswith(RETRIEVE_PATH)]

    # ------------------------------------------------------------------ the two services

    def _list(self, handler):
        if urlparse(handler.path).path != LIST_PATH:
            handler.send_error(404, "Not Found")
            return
        length = int(handler.headers.get("Content-Length") or 0)
        try:
            request = json.loads(handler.rfile.read(length) or b"{}")
            datasets = request["dataset_ids"]
            datasets = [datasets] if isinstance(datasets, str) else list(datasets)
        except (ValueError, KeyError, TypeError):
            handler.send_error(400, "dataset_ids missing")
            return
        if self.fail_list:
            handler.send_error(500, "Internal Server Error")
            return
        rows = []
        for name, product in sorted(self.products.items()):
            dataset = name.rsplit("_", 1)[0]
            if dataset not in datasets or product.behaviour == "unlisted":
                continue
            rows.append({
                "product_key": f"{dataset}_{name}",
                "access": "PUBLIC",
                "dataset": dataset,
                "instrument_name": "MIRI/IMAGE",
                "filters": "P750L",
                "filename": name,
                "uri": name,
                "authz_primary_identifier": dataset,
                "authz_secondary_identifier": "CAL",
                "file_suffix": name.rsplit("_", 1)[1].removesuffix(".fits").upper(),
                "category": "CALIBRATED",
                "size": product.listed_size if product.listed_size is not None else product.size(),
                "type": "science",
            })
        body = json.dumps({"products": rows}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _retrieve(self, handler):
        url = urlparse(handler.path)
        name = parse_qs(url.query).get("product_name", [""])[0]
        product = self.products.get(name)
        if url.path != RETRIEVE_PATH or product is None or product.behaviour in ("not_found", "unlisted"):
            handler.send_error(404, "Not Found")
            return
        behaviour = product.behaviour
        if behaviour == "stall":
            self._release.wait(60)
            return
        if behaviour == "html":
            self._send(handler, ERROR_PAGE, "text/html")
            return
        body = product.path.read_bytes() if behaviour != "ok" else None
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        if behaviour in ("ok", "cut", "trickle"):
            handler.send_header("Content-Length", str(product.size()))
        elif behaviour == "short_length":
            handler.send_header("Content-Length", str(product.size() // 2))
        handler.end_headers()
        try:
            if behaviour == "ok":
                with product.path.open("rb") as stream:
                    shutil.copyfileobj(stream, handler.wfile, 1 << 20)
            elif behaviour in ("cut", "short_length", "no_length"):
                handler.wfile.write(body[:len(body) // 2])
            elif behaviour == "long":
                handler.wfile.write(body + b"\0" * 2880)
            elif behaviour == "endless":
                block = b"\0" * (1 << 16)
                while not self._release.is_set():
                    handler.wfile.write(block)
            elif behaviour == "trickle":
                for index in range(len(body)):
                    if self._release.is_set():
                        break
                    handler.wfile.write(body[index:index + 1])
                    handler.wfile.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up, as it should on a hostile body
        handler.close_connection = True

    @staticmethod
    def _send(handler, body, content_type):
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def unmarked_copy(twin, destination):
    """A copy of a sample twin with its twin marks removed, as a product from elsewhere would be.

    The LRSTW* cards go and ORIGIN says where the copy was made, so
    :func:`lrs_helpers.io.sample_twin_info` no longer recognises it.
    """
    from astropy.io import fits

    destination = Path(destination)
    shutil.copyfile(twin, destination)
    with fits.open(destination, mode="update") as hdul:
        header = hdul[0].header
        for keyword in ("LRSTWIN", "LRSTWVER", "LRSTWSED", "LRSTWSCN"):
            header.remove(keyword, ignore_missing=True)
        header["ORIGIN"] = ("TESTSTANDIN", "copy served by the test MAST stand-in")
    return destination


def standin_products(keys, folder):
    """Files for the stand-in to serve: the unmarked sample twin of each manifest key.

    Returns
    -------
    dict of str -> pathlib.Path
        MAST file name -> the file to serve.
    """
    from lrs_helpers import data

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    served = {}
    for key in keys:
        name = data.info(key)["mast_filename"]
        twin = data.get(key, source="sample", verbose=False)
        served[name] = unmarked_copy(twin, folder / name)
    return served


_GUARD = '''\
"""Refuse and log every connection to an address other than the local host (test guard)."""
import os
import socket

_LOG = os.environ["LRS_TEST_OUTSIDE_LOG"]
_LOCAL = {"127.0.0.1", "::1", "localhost"}
_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _refuse(host):
    with open(_LOG, "a") as log:
        log.write(f"{host}\\n")
    raise ConnectionRefusedError(f"outside address {host} blocked by the test")


def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL and host is not None:
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


def connect(self, address):
    if isinstance(address, tuple) and address[0] not in _LOCAL:
        _refuse(address[0])
    return _connect(self, address)


def connect_ex(self, address):
    if isinstance(address, tuple) and address[0] not in _LOCAL:
        _refuse(address[0])
    return _connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
'''


def outside_guard_folder(folder):
    """A folder holding a ``sitecustomize.py`` that refuses and logs outside connections.

    Put the folder first on ``PYTHONPATH`` and set ``LRS_TEST_OUTSIDE_LOG`` to a file: every
    Python process started with that environment (a Jupyter kernel) refuses connections to any
    address other than the local host and appends the host it tried to the log.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_GUARD)
    return folder
