"""Many segments at once on Dask: a LocalCluster of 2 worker processes gives the serial results.

The series: three segments of the EMI twin built with the EMI scaled by 1, 0.5 and 0 (so that
a result landing on the wrong segment shows), plus a damaged fourth segment. The cluster is
started once for the module and shut down at its end (context managers: no process is left
behind, even when a test fails).
"""

import functools
import shutil

import numpy as np
import pytest
from astropy.io import fits
from dask.distributed import Client, LocalCluster

from lrs_helpers import cli, diagnosis, io, sample, segments
from lrs_helpers.sample import emi_tso

EMI_SCALES = (1.0, 0.5, 0.0)
ROOT = "jw01033005001_04103_00001"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Paths of the three twin segments and the damaged one (its data cut short)."""
    folder = tmp_path_factory.mktemp("series")
    paths = []
    for number, scale in enumerate(EMI_SCALES, start=1):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(emi_tso, "simulate", functools.partial(emi_tso.simulate, emi_scale=scale))
            built = emi_tso.build(tmp_path_factory.mktemp(f"seg{number}"), sample.DEFAULT_SEED)["uncal"]
        paths.append(folder / f"{ROOT}-seg{number:03d}_mirimage_uncal.fits")
        shutil.copyfile(built, paths[-1])
    damaged = folder / f"{ROOT}-seg004_mirimage_uncal.fits"
    damaged.write_bytes(paths[0].read_bytes()[:200_000])
    return paths + [damaged]


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as dask_client:
        yield dask_client


def _summary(report):
    """Everything a report says, for comparison (plots are functions: left out)."""
    return [(f.check, f.severity, f.message, f.measured) for f in report.findings]


def test_diagnose_on_two_workers_matches_serial(series, client):
    serial = diagnosis.diagnose_files(series, scheduler="serial")
    done = []
    parallel = diagnosis.diagnose_files(series, scheduler=client, progress=done.append)
    assert [path for path, _ in parallel] == [path for path, _ in serial] == series
    assert sorted(done) == sorted(series)  # the progress callback saw every segment once
    for (path, ours), (_, theirs) in zip(serial[:3], parallel[:3]):
        assert _summary(ours) == _summary(theirs), path.name
    # each segment's own EMI: 4.87 DN injected at scale 1 (2% as in test_diagnose), half of it,
    # none (below the 0.05 DN of the clean twin)
    amplitudes = [report["emi"].measured["amplitude_390Hz"][0] for _, report in parallel[:3]]
    truth = sample.load_truth("emi_tso")["emi"]["390.625"]["amplitude_dn"]
    assert amplitudes[0] == pytest.approx(truth, rel=0.02)
    assert amplitudes[1] == pytest.approx(truth / 2, rel=0.02)
    assert amplitudes[2] < 0.05
    # the damaged segment is reported, the others are not stopped by it
    for result in (serial[3][1], parallel[3][1]):
        assert isinstance(result, io.LRSInputError) and series[3].name in str(result)


def test_emi_correction_on_two_workers_matches_serial(series, client, tmp_path):
    items = {name: [(path, tmp_path / name / path.name.replace("_uncal", "_emicorr_ramp"), False)
                    for path in series] for name in ("serial", "dask")}
    for name in items:
        (tmp_path / name).mkdir()
    serial = segments.map_segments(cli._emicorr_one, items["serial"], scheduler="serial")
    parallel = segments.map_segments(cli._emicorr_one, items["dask"], scheduler=client)
    for (_, ours), (_, theirs) in zip(serial[:3], parallel[:3]):
        with fits.open(ours) as a, fits.open(theirs) as b:
            np.testing.assert_array_equal(a["SCI"].data, b["SCI"].data)
            np.testing.assert_array_equal(a["GROUPDQ"].data, b["GROUPDQ"].data)
    assert isinstance(serial[3][1], io.LRSInputError) and isinstance(parallel[3][1], io.LRSInputError)


def test_command_line_on_a_scheduler_address(series, client, capsys):
    code = cli.main(["diagnose", *map(str, series), "--scheduler", client.scheduler.address])
    out, err = capsys.readouterr()
    assert code == 2  # the damaged segment
    assert [line.split(" (")[0] for line in out.splitlines() if line.endswith(", sample twin)")] == \
        [path.name for path in series[:3]]
    errors = err.strip().splitlines()
    assert len(errors) == 1 and series[3].name in errors[0]


def test_auto_scheduler_is_serial_for_one_segment():
    assert segments.resolve("auto", 1) == "serial"
    assert segments.resolve(None, 5) == "serial"
    assert segments.resolve("tcp://127.0.0.1:8786", 1) == "tcp://127.0.0.1:8786"
    assert 1 <= segments.local_workers(3) <= 3


def test_each_segment_runs_on_one_blas_thread(client):
    """Whatever the worker's BLAS setting was, a segment's work sees one BLAS thread (the worker
    plugin of map_segments): two workers on two cores, each with a BLAS pool the size of the
    machine, would run 4 threads on 2 cores."""

    def blas_threads(_):
        from threadpoolctl import threadpool_info

        return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)

    def raise_threads():  # as on a worker started without dask's nanny environment
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=4, user_api="blas")

    client.run(raise_threads)
    results = segments.map_segments(blas_threads, [1, 2, 3, 4], scheduler=client)
    assert [threads for _, threads in results] == [1, 1, 1, 1]
