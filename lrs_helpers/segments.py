"""A whole time series at once: the same helper on every segment, serially or on Dask workers.

A MIRI LRS time series (a phase curve, an eclipse) is written as tens of segments
(``..._00001-seg001_mirimage_uncal.fits``, ``-seg002``, ...), each of one to two gigabytes.
Every file-level helper reads a segment a chunk of integrations at a time, so one segment needs
well under a gigabyte; :func:`map_segments` runs such a helper on many segments at once, one
segment per Dask worker (``dask.distributed``), and returns one result per segment, in the
order given, the same as a serial run. A segment that fails gives its exception in place of
its result; the others go on.

Schedulers (the ``scheduler`` argument, and ``--scheduler`` of the command line):

``"serial"``
    In this process, one segment after the other (no Dask).
``"local"``
    A ``dask.distributed.LocalCluster`` sized to this machine: one single-threaded worker
    process per core (at most one per segment), started for the call and shut down after it.
``"auto"``
    ``"serial"`` for one segment or on a one-core machine, else ``"local"``.
an address (``"tcp://host:8786"``)
    A running Dask scheduler, e.g. one started on a cluster by dask-jobqueue
    (``SLURMCluster(...).scheduler_address``); its workers must be able to import lrs_helpers
    and read the files.
a ``distributed.Client`` or a cluster object
    Used as given (and left running).

Every worker runs with BLAS and OpenMP held to one thread (threadpoolctl, set by a worker
plugin on each worker's main thread, now and on workers that join later; the setting stays
with the worker): the workers already take one core each, and the helpers' matrix products are
small (one integration, or blocks of bootstrap resamples), where extra threads cost more than
they gain (2.6-5x slower for the EMI fit and the bootstrap on 2 cores). Dask's nanny sets
OMP/MKL/OPENBLAS_NUM_THREADS=1 for the workers it starts, but not every worker is started by
one; and a limit set inside a task does not hold: with the OpenBLAS numpy ships (0.3.31), a
thread count set from a worker's task thread is not the one its BLAS calls read.
"""

import contextlib
import os

from threadpoolctl import threadpool_limits

#: the scheduler names :func:`map_segments` understands besides an address or a client
SCHEDULERS = ("auto", "serial", "local")


def local_workers(nsegments=None):
    """Worker processes of the ``"local"`` cluster: one per core available to this process, at
    most one per segment."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, nsegments or cores))


def resolve(scheduler, nsegments):
    """What ``scheduler`` means for ``nsegments`` segments: ``"serial"``, ``"local"`` or itself."""
    if scheduler is None or scheduler == "serial":
        return "serial"
    if scheduler == "auto":
        return "serial" if nsegments < 2 or local_workers() < 2 else "local"
    return scheduler


#: settings of the workers :func:`map_segments` starts itself ("local"). Dask's defaults return
#: freed memory to the system above 64 KiB (``MALLOC_TRIM_THRESHOLD_``) and sample every task's
#: stack 100 times a second: with chunks of tens of MB allocated and freed over and over, a
#: diagnose ran 2.7x slower in a worker than in a plain process (13.6 s against 5.1 s on a 0.4 GB
#: segment), so 2 workers on 2 cores were no faster than one process. With these, 7.5 s.
LOCAL_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 128 * 2**20,
                       "distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def _client(scheduler, nsegments):
    """A dask.distributed Client for ``scheduler``; what this call started is shut down after."""
    import dask
    from dask.distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler == "local":
        # single-threaded worker processes: the helpers hold one segment's chunk each and run
        # numpy / stcal code that does not release the GIL throughout
        with dask.config.set(LOCAL_WORKER_CONFIG), \
                LocalCluster(n_workers=local_workers(nsegments), threads_per_worker=1, processes=True,
                             dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
    elif isinstance(scheduler, str):
        with Client(scheduler) as client:
            yield client
    else:  # a cluster object (LocalCluster, dask-jobqueue's SLURMCluster, ...)
        with Client(scheduler) as client:
            yield client


def _one_thread_plugin():
    """A Dask worker plugin that holds BLAS and OpenMP to one thread in every worker process
    (defined here: distributed is imported only when Dask is used)."""
    from distributed import WorkerPlugin

    class OneThread(WorkerPlugin):
        name = "lrs_helpers-one-thread"  # registering it again replaces it

        def setup(self, worker):
            threadpool_limits(limits=1)

    return OneThread()


def map_segments(function, items, *, scheduler="serial", progress=None):
    """``function(item)`` for every item, serially or on Dask workers; one result per item.

    Parameters
    ----------
    function : callable
        A module-level function (Dask sends it to the workers by reference), taking one item.
    items : sequence
        One per segment: a path, or a tuple of arguments the function unpacks.
    scheduler : str, distributed.Client or cluster
        See the module notes; default ``"serial"``.
    progress : callable, optional
        Called with each item when it is done (in the order they finish).

    Returns
    -------
    list of (item, result or Exception)
        In the order of ``items``: the function's result, or the exception it raised (the other
        items still run).
    """
    items = list(items)
    mode = resolve(scheduler, len(items))
    results = [None] * len(items)
    if mode == "serial":
        for index, item in enumerate(items):
            try:
                results[index] = (item, function(item))
            except Exception as error:  # reported per segment by the caller
                results[index] = (item, error)
            if progress is not None:
                progress(item)
        return results
    from dask.distributed import as_completed

    with _client(mode, len(items)) as client:
        # pure=False: a segment rewritten under the same name is computed again
        client.register_plugin(_one_thread_plugin())
        futures = [client.submit(function, item, pure=False) for item in items]
        index_of = {future.key: index for index, future in enumerate(futures)}
        for future in as_completed(futures):
            index = index_of[future.key]
            if future.status == "error":
                results[index] = (items[index], future.exception())
            else:
                results[index] = (items[index], future.result())
            future.release()
            if progress is not None:
                progress(items[index])
    return results
