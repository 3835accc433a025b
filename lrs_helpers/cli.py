"""The ``lrs-helpers`` command line: fetch products, build the sample twins, diagnose files.

Exit codes: 0 clean, 1 findings (a warning or a problem in a diagnosis), 2 bad input or failure.
Errors are one line on stderr naming the file (or key) and what is wrong; no traceback.
"""

import argparse
import contextlib
import logging
import sys
import warnings
from pathlib import Path

from astropy.utils.console import ProgressBar

from . import __version__, background, data, diagnosis, emi, sample, segments
from .io import LRSInputError, os_cause

EXIT_CLEAN, EXIT_FINDINGS, EXIT_FAILURE = 0, 1, 2
PROG = "lrs-helpers"

_DESCRIPTION = """\
Helpers for the JWST MIRI LRS known issues: get the walkthroughs' data, build the sample
twins, and diagnose your own products."""

_EPILOG = f"""\
examples:
  {PROG} fetch slitless_rateints             path of one product (sample twin offline)
  {PROG} fetch --all --source mast           download every real product from MAST
  {PROG} sample --out twins/                 build every sample twin into twins/sample/
  {PROG} diagnose jw*_x1dints.fits --html report.html
  {PROG} diagnose jw*-seg*_uncal.fits --scheduler local    every segment, one per core
  {PROG} emicorr jw*-seg*_uncal.fits --out corrected/       EMI removed from every segment

exit codes: 0 clean, 1 findings (warning or problem), 2 bad input or failure.
Run '{PROG} COMMAND --help' for the options of each command."""

_FETCH_EPILOG = f"""\
Prints the path of each product on stdout, one per line, and which source it came from on
stderr. Keys are those of data_manifest.csv. Stops at the first product it cannot get.

sources:
  auto    the cached real MAST product when present, else the sample twin (no network)
  sample  always the sample twin (a realistic pipeline-format copy with the issue injected)
  mast    the real product, downloaded into the cache when missing

examples:
  {PROG} fetch emi_uncal jump_calints
  {PROG} fetch --all --source sample
  {PROG} fetch nods_x1d_nod1 --source mast     (LRS_HELPERS_MAST_SERVER sets the server)"""

_SAMPLE_EPILOG = f"""\
Each twin is written with its truth (truth.json, truth.npz) into DIR/sample/<scenario>/
(default: the cache, $LRS_HELPERS_CACHE or the per-user cache folder). Builds are
deterministic per seed and reused when already complete.

examples:
  {PROG} sample
  {PROG} sample emi_tso jump_bright --out /tmp/twins
  {PROG} sample --force --seed 7"""

_SCHEDULER_HELP = ("where the files run: serial, local (a Dask LocalCluster, one worker per core), auto "
                   "(serial for one file, else local; the default) or a Dask scheduler address, e.g. "
                   "tcp://host:8786 from dask-jobqueue")

_CORRECT_EPILOG = f"""\
Each input gets its own corrected copy (the input is never changed), written to a temporary
name and renamed; a file that fails is reported on stderr and the others go on. Segments are
streamed a chunk of integrations at a time and run at once on Dask workers (--scheduler).

  emicorr   uncal/ramp -> <root>_emicorr_ramp.fits (emi.correct_file: 390.625 and 10.04 Hz)
  bkgsub    slitless rateints -> <root>_bkgsub_rateints.fits and its extract_1d JSON
            (background.subtract_rateints)

examples:
  {PROG} emicorr jw*-seg*_uncal.fits --out corrected/
  {PROG} bkgsub jw*-seg*_rateints.fits --scheduler local

exit codes: 0 every file written, 2 a file could not be read or written."""

_DIAGNOSE_EPILOG = f"""\
Runs every known-issue check that applies to each product: EMI in subarray ramps, jump flags
and dropouts at the trace peak, unsubtracted slitless background, fold-over rows, ERR against
the scatter of integrations, nod disparity (slit x1d pairs), pointing on a TA image. Each
finding has a severity (ok, info, warning, problem, failed), measured numbers and the
notebook to read.

Two slit x1d files whose names differ only in the exposure number (the two nods,
..._00001_mirimage_x1d.fits and ..._00002_...) are diagnosed as a pair; a lone nod is paired
with its partner when that file sits beside it.

Many files (the segments of a time series) run at once on Dask workers (--scheduler); each
file gets its own report, the same as a serial run, and a file that fails is reported
without stopping the others. Ramps are read a chunk of integrations at a time: a 2 GB
segment needs well under 1 GB of memory.

examples:
  {PROG} diagnose jw01536027001_03102_00001_mirimage_x1d.fits jw01536027001_03102_00002_mirimage_x1d.fits
  {PROG} diagnose *_uncal.fits *_calints.fits --html diagnosis.html
  {PROG} diagnose jw*-seg*_uncal.fits --scheduler tcp://scheduler:8786

exit codes: 0 nothing beyond info, 1 a warning or problem, 2 a file could not be read or a
check failed."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (the usage text is one --help away)."""

    def error(self, message):
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser():
    parser = _Parser(prog=PROG, description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fetch = commands.add_parser("fetch", help="path of a product by its manifest key (download with --source mast)",
                                description="Get products by their key in data_manifest.csv.",
                                epilog=_FETCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    fetch.add_argument("keys", nargs="*", metavar="KEY", help="manifest keys, e.g. emi_uncal")
    fetch.add_argument("--all", action="store_true", help="every key of the manifest")
    fetch.add_argument("--source", choices=("auto", "sample", "mast"), default=None,
                       help="where the product comes from (default: $LRS_HELPERS_SOURCE, else auto)")

    sample_command = commands.add_parser("sample", help="build the sample twins (all, or the named scenarios)",
                                 description="Build the sample twins with their truth.",
                                 epilog=_SAMPLE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sample_command.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names (default: all)")
    sample_command.add_argument("--out", metavar="DIR", type=Path, help="folder to build into (default: the cache)")
    sample_command.add_argument("--seed", type=_seed, default=None,
                        help="random seed, 0 to 4294967295 (default: the fixed one)")
    sample_command.add_argument("--force", action="store_true", help="rebuild even when a complete build exists")

    diagnose = commands.add_parser("diagnose", help="run the known-issue checks on LRS product files",
                                   description="Diagnose MIRI LRS products.", epilog=_DIAGNOSE_EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    diagnose.add_argument("files", nargs="+", metavar="FILE", type=Path, help="product files (*.fits)")
    diagnose.add_argument("--html", metavar="OUT", type=Path,
                          help="also write a standalone HTML page with the tables and plots")
    diagnose.add_argument("--scheduler", default="auto", metavar="SCHEDULER", help=_SCHEDULER_HELP)

    for name, summary in (("emicorr", "remove the 390 Hz and 10 Hz EMI from uncal/ramp files"),
                          ("bkgsub", "subtract the slitless background from rateints files")):
        correct = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                                      epilog=_CORRECT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        correct.add_argument("files", nargs="+", metavar="FILE", type=Path, help="product files (*.fits)")
        correct.add_argument("--out", metavar="DIR", type=Path,
                             help="folder for the corrected files (default: beside each input)")
        correct.add_argument("--overwrite", action="store_true", help="replace corrected files written before")
        correct.add_argument("--scheduler", default="auto", metavar="SCHEDULER", help=_SCHEDULER_HELP)
    return parser


def _seed(text):
    """A random seed numpy accepts (0 to 2**32 - 1), for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed; expected an integer from 0 to 4294967295")
    return value


def _error(message):
    """One line on stderr."""
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


@contextlib.contextmanager
def _progress(total, label):
    """An astropy progress bar on stderr when it is a terminal and there is more than one item;
    yields a function that advances it."""
    if total < 2 or not sys.stderr.isatty():
        yield lambda *_: None
        return
    print(label, file=sys.stderr)
    with ProgressBar(total, file=sys.stderr) as bar:
        yield lambda *_: bar.update()


@contextlib.contextmanager
def _quiet_libraries():
    """Keep third-party warnings and log lines (pysiaf's network probe, numpy's all-NaN slices,
    schema notices) out of the command's output; errors still show."""
    previous = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # logging.disable, not setLevel: creating a library's logger early breaks libraries
        # that install their own logger class (astroquery)
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


def _fetch(args):
    if args.all == bool(args.keys):
        _error("fetch: name KEY(s) or pass --all (not both); keys: " + ", ".join(data.manifest()["key"]))
        return EXIT_FAILURE
    keys = [str(key) for key in data.manifest()["key"]] if args.all else args.keys
    with _progress(len(keys), f"fetching {len(keys)} products") as advance:
        for key in keys:
            # stop at the first failure: offline, every download would fail the same way
            try:
                # data.get says which source it used: to stderr, so stdout holds only paths
                with contextlib.redirect_stdout(sys.stderr):
                    path = data.get(key, source=args.source)
            except KeyError as error:
                _error(error.args[0] if error.args else error)
                return EXIT_FAILURE
            except (OSError, ValueError) as error:  # DownloadError is an OSError
                _error(error)
                return EXIT_FAILURE
            print(path)
            advance()
    return EXIT_CLEAN


def _sample(args):
    names = args.scenarios or list(sample.SCENARIOS)
    unknown = [name for name in names if name not in sample.SCENARIOS]
    if unknown:
        _error(f"sample: unknown scenario(s) {', '.join(unknown)}; expected some of "
               f"{', '.join(sample.SCENARIOS)}")
        return EXIT_FAILURE
    if args.out is not None and not _made_output_folder(args.out):
        return EXIT_FAILURE
    seed = sample.DEFAULT_SEED if args.seed is None else args.seed
    with _progress(len(names), f"building {len(names)} sample twins") as advance:
        for name in names:
            try:
                files = sample.build(name, cache_dir=args.out, seed=seed, force=args.force)
            except OSError as error:  # LRSOutputError and SampleCacheError name the folder
                message = str(error) if error.errno is None else \
                    f"{error.filename or name}: {os_cause(error)}"
                _error(f"sample {name}: {message}")
                return EXIT_FAILURE
            print(f"{name:20s} {Path(files['truth']).parent}")
            advance()
    return EXIT_CLEAN


def _diagnose(args):
    status = EXIT_CLEAN
    reports = []
    with _progress(len(args.files), f"diagnosing {len(args.files)} files") as advance:
        results = diagnosis.diagnose_files(args.files, progress=advance, scheduler=args.scheduler)
    for path, result in results:
        if isinstance(result, LRSInputError):
            _error(result)
            status = EXIT_FAILURE
        elif isinstance(result, Exception):
            _error(f"{path}: could not be diagnosed ({type(result).__name__}: {result})")
            status = EXIT_FAILURE
        else:
            reports.append(result)
            print(result)
            print()
            status = max(status, result.exit_code)
    if args.html is not None and reports:
        try:
            written = diagnosis.write_html(reports, args.html)
        except (OSError, ValueError) as error:
            _error(error)
            return EXIT_FAILURE
        print(f"wrote {written}", file=sys.stderr)
    return status


def _output_path(path, out, suffix):
    """``<root>_<suffix>`` in ``out`` (default: beside the input), root without the level."""
    root = path.name.split("_uncal.fits")[0].split("_ramp.fits")[0].split("_rateints.fits")[0]
    return (out if out is not None else path.parent) / f"{root.removesuffix('.fits')}_{suffix}"


def _emicorr_one(item):
    """One file of ``emicorr`` (module level, for Dask workers): the written path."""
    path, target, overwrite = item
    return emi.correct_file(path, target, overwrite=overwrite, progress=False)


def _bkgsub_one(item):
    """One file of ``bkgsub`` (module level, for Dask workers): the written path."""
    path, target, overwrite = item
    background.subtract_rateints(path, target, overwrite=overwrite, progress=False)
    return target


def _made_output_folder(folder):
    """Create ``folder`` (and its parents); False, after one error line, when it cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _error(f"{folder}: cannot create the output folder ({os_cause(error)})")
        return False
    return True


def _correct(args):
    if args.out is not None and not _made_output_folder(args.out):
        return EXIT_FAILURE
    one, suffix = {"emicorr": (_emicorr_one, "emicorr_ramp.fits"),
                   "bkgsub": (_bkgsub_one, "bkgsub_rateints.fits")}[args.command]
    items = [(path, _output_path(path, args.out, suffix), args.overwrite) for path in args.files]
    with _progress(len(items), f"{args.command}: {len(items)} files") as advance:
        results = segments.map_segments(one, items, scheduler=args.scheduler, progress=advance)
    status = EXIT_CLEAN
    for (path, _, _), result in results:
        if isinstance(result, Exception):
            message = str(result) if isinstance(result, (LRSInputError, OSError)) and str(path) in str(result) \
                else f"{path}: could not be corrected ({type(result).__name__}: {result})"
            _error(message)
            status = EXIT_FAILURE
        else:
            print(result)
    return status


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 clean, 1 findings, 2 bad input or failure (argparse usage errors too).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # --help and --version exit 0; usage errors exit 2 (argparse has printed one line)
        return int(exit_.code or 0)
    run = {"fetch": _fetch, "sample": _sample, "diagnose": _diagnose, "emicorr": _correct,
           "bkgsub": _correct}[args.command]
    with _quiet_libraries():
        try:
            return run(args)
        except Exception as error:  # anything the commands do not name themselves: still one line
            _error(f"{args.command}: {os_cause(error)}")
            return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
