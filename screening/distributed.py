"""Run a screen's candidate evaluations on Dask: a local multi-process cluster or a remote one.

Candidates are grouped into chunks by chemical system (phases of a system and its
sub-systems are shared, so each worker builds each phase set once and reuses its memoised
reactions).  The store is scattered to the workers once; no shared filesystem is assumed.

Resume: with a checkpoint folder every finished chunk is written there atomically (JSON with
its SHA-256: a damaged chunk is recomputed, never trusted) as it arrives.  Dask re-runs the chunks of a worker that dies; if the whole run dies, running
the same screen again with the same checkpoint folder loads the finished chunks and computes
only the rest.  The folder name is a hash of everything the rows depend on (store content,
settings, candidates), so a changed input never reuses old rows.  If the checkpoint folder
disappears during a run (a cleaned cache), it is recreated; if it cannot be, the run goes on
with the rows kept in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING


from screening.errors import InputError
from screening.outputs import atomic_write

if TYPE_CHECKING:  # this module stays light: a local cluster can start before the store loads
    from screening.settings import Settings
    from screening.store import PhaseStore

#: chunks per worker: enough for load balancing, few enough to keep per-task overhead small
CHUNKS_PER_WORKER = 6
#: deadline (s) for a --scheduler to answer, and for a local cluster to start its workers
CONNECT_TIMEOUT_S = 30.0
START_TIMEOUT_S = 180.0


def chunk_candidates(cand: list, n_chunks: int) -> list[list[int]]:
    """Positions of the candidates in about ``n_chunks`` chunks, chemical systems kept together.

    Candidates are ordered by chemical system, so neighbouring candidates share sub-systems
    (and their phase sets); chunks are contiguous runs of that order with whole systems each.
    """
    def system(c) -> str:
        return c.phase.chemsys if c.phase is not None else ""

    order = sorted(range(len(cand)), key=lambda i: (system(cand[i]), cand[i].name, i))
    size = max(1, -(-len(order) // max(1, n_chunks)))
    chunks, current = [], []
    for k, i in enumerate(order):
        current.append(i)
        last = k == len(order) - 1
        if last or (len(current) >= size and system(cand[order[k + 1]]) != system(cand[i])):
            chunks.append(current)
            current = []
    return chunks


def evaluate_chunk(store: PhaseStore, chunk: list, settings: Settings, context) -> list:
    """Rows of one chunk of candidates (runs on a worker)."""
    from screening.ranking import evaluate_all

    return evaluate_all(store, chunk, settings, context)


def run_key(store: PhaseStore, cand: list, settings: Settings, context) -> str:
    """Hash of everything a screen's rows depend on (for checkpoint folders)."""
    h = hashlib.sha256()
    h.update(json.dumps([store.content_key(), settings.key(), context.as_dict() if hasattr(context, "as_dict") else
                         [context.electrolyte.as_dict(), context.voltage_V,
                          None if context.cathode is None else context.cathode.as_dict()]], sort_keys=True).encode())
    for c in cand:
        h.update(json.dumps([c.name, c.kind, c.family, c.note, c.error, c.formula_units,
                             None if c.phase is None else c.phase.as_dict()], sort_keys=True).encode())
    return h.hexdigest()[:16]


MAX_WORKERS_PER_CORE = 2
_SCHEDULER = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/:]+(:\d{1,5})?/?$")


def check_options(workers: int | None, scheduler: str | None, checkpoint=None) -> None:
    """Validate Dask options before any work (InputError naming the fix)."""
    if scheduler is not None:
        if workers is not None:
            raise InputError("give --workers N for a local cluster or --scheduler ADDRESS for a running one, not both")
        if not _SCHEDULER.match(str(scheduler).strip()):
            raise InputError(f"--scheduler {scheduler!r} is not a Dask address: give e.g. tcp://host:8786")
        return
    if workers is None:
        if checkpoint is not None:
            raise InputError("--checkpoint needs --workers N or --scheduler ADDRESS (serial runs keep no checkpoints)")
        raise InputError("give --workers N (N >= 1) for a local cluster or --scheduler tcp://HOST:PORT")
    limit = max(4, MAX_WORKERS_PER_CORE * (os.cpu_count() or 1))
    if not 1 <= int(workers) <= limit:
        raise InputError(f"--workers {workers}: give 1 to {limit} worker processes on this {os.cpu_count()}-core machine")


def _chunk_bytes(rows: list) -> bytes:
    body = json.dumps([r.as_dict() for r in rows], sort_keys=True)
    return json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "rows": body}).encode()


def _save_chunk(folder: Path, k: int, rows: list) -> Path | None:
    """Write a finished chunk (JSON with its SHA-256); recreate a vanished folder; None (no more
    checkpoints) if that fails."""
    for _ in range(2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(folder / f"chunk-{k:05d}.json") as tmp:
                tmp.write_bytes(_chunk_bytes(rows))
            return folder
        except (OSError, InputError):
            continue
    return None


def _read_chunk(path: Path) -> list | None:
    """The rows of a checkpoint chunk; None when it is damaged (its checksum does not match):
    such a chunk is recomputed, never trusted."""
    from monty.json import MontyDecoder

    try:
        doc = json.loads(path.read_bytes())
        body = doc["rows"]
        if hashlib.sha256(body.encode()).hexdigest() != doc["sha256"]:
            return None
        return [MontyDecoder().process_decoded(d) for d in json.loads(body)]
    except Exception:  # unreadable or malformed: recomputed, never trusted
        return None



@contextlib.contextmanager
def _safe_path():
    """Worker processes started here import the installed package whatever the current folder:
    PYTHONSAFEPATH keeps the folder off their sys.path (started from the parent of a clone, a
    ``screening/`` folder there would shadow the package)."""
    before = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = before

@dataclass
class DaskRunner:
    """Evaluate a screen on Dask (callable with the signature of ``ranking.evaluate_all``).

    ``scheduler``: address of a running scheduler (``tcp://host:8786``); otherwise a local
    cluster of ``workers`` single-threaded worker processes is started for the run.
    ``checkpoint``: folder for finished chunks (resume); None disables checkpoints.
    After a run, ``n_chunks``, ``n_resumed`` and ``n_computed`` tell what happened.
    """

    scheduler: str | None = None
    workers: int | None = None
    checkpoint: Path | None = None
    chunks_per_worker: int = CHUNKS_PER_WORKER
    retries: int = 2
    n_chunks: int = 0
    n_resumed: int = 0
    n_computed: int = 0
    _running: tuple | None = field(default=None, repr=False)

    def __post_init__(self):
        check_options(self.workers, self.scheduler)

    def start(self) -> DaskRunner:
        """Connect (or start the local cluster) in the background now, e.g. while the store
        loads; the next run waits for it, uses it and closes it."""
        if self._running is None:
            box: dict = {}

            def connect():
                try:
                    box["client"] = self._client()
                except BaseException as exc:  # re-raised in the caller's thread by _connected()
                    box["error"] = exc

            thread = threading.Thread(target=connect, name="screening-dask-start", daemon=True)
            thread.start()
            self._running = (thread, box)
        return self

    def close(self) -> None:
        """Shut down a started, unused cluster connection (a run closes its own)."""
        if self._running is not None:
            thread, box = self._running
            self._running = None
            thread.join(START_TIMEOUT_S)
            client, cluster = box.get("client", (None, None))
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()

    def _connected(self):
        thread, box = self.start()._running
        limit = CONNECT_TIMEOUT_S if self.scheduler else START_TIMEOUT_S
        thread.join(limit)
        if thread.is_alive():  # the daemon thread is abandoned; nothing of the run was started
            self._running = None
            if self.scheduler:
                raise InputError(f"the Dask scheduler {self.scheduler} did not answer within {limit:.0f} s: check that the "
                                 "address is a running `dask scheduler` (not another service)")
            raise InputError(f"the local Dask workers did not start within {limit:.0f} s: check free memory and "
                             "process limits, or run without --workers")
        if "error" in box:
            self._running = None
            raise box["error"]
        return box["client"]

    def _client(self):
        try:
            import dask
            from distributed import Client, LocalCluster
            from distributed.utils import get_mp_context
        except ImportError:
            raise InputError("Dask is not installed: pip install 'screening[dask]'") from None
        if self.scheduler:
            try:
                return Client(self.scheduler, timeout=f"{CONNECT_TIMEOUT_S:.0f}s"), None
            except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
                raise InputError(f"cannot reach the Dask scheduler {self.scheduler} ({exc.__class__.__name__}): "
                                 "check the address and that `dask scheduler` is running") from None
        # Local workers are forked from a forkserver that imports the screening modules once:
        # quick to start (no per-worker imports) and safe (a plain fork of this process could
        # inherit locks held by solver or I/O threads).  Dask's default MALLOC_TRIM_THRESHOLD_
        # (65536) hands memory back to the OS after every burst of small arrays: ~20 % slower here.
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.worker.multiprocessing-method": method,
                              "distributed.nanny.pre-spawn-environ": env}):
            if method == "forkserver":
                get_mp_context().set_forkserver_preload(["screening._dask_worker", "distributed", "screening.ranking"])
            try:
                with _safe_path():
                    cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
            except (OSError, RuntimeError, MemoryError, TimeoutError) as exc:
                cause = exc.__cause__ or exc.__context__ or exc
                raise InputError(f"the local Dask workers failed to start ({exc.__class__.__name__}: {exc}; "
                                 f"{cause.__class__.__name__}): check free memory, open-file and process limits "
                                 "(ulimit -n, ulimit -v), or run without --workers") from None
        return Client(cluster), cluster

    def __call__(self, store: PhaseStore, cand: list, settings: Settings, context, progress=None) -> list:
        folder, made = None, []
        if self.checkpoint is not None:
            folder = Path(self.checkpoint) / run_key(store, cand, settings, context)
            made = [p for p in [folder, *folder.parents] if not p.exists()]
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"--checkpoint {self.checkpoint}: cannot create {folder} ({exc.strerror}): "
                                 "give a writable folder") from None
        try:
            client, cluster = self._connected()
        except BaseException:
            for p in made:  # an unreachable scheduler leaves none of the folders made for the run behind
                with contextlib.suppress(OSError):
                    p.rmdir()
            raise
        try:
            n_workers = len(client.scheduler_info()["workers"]) or (self.workers or 1)
            chunks = chunk_candidates(cand, n_workers * self.chunks_per_worker)
            self.n_chunks = len(chunks)
            done: dict[int, list] = {}
            todo = []
            for k, chunk in enumerate(chunks):
                path = folder / f"chunk-{k:05d}.json" if folder else None
                got = _read_chunk(path) if path is not None and path.is_file() else None
                if got is not None and [r.candidate for r in got] == [cand[i].name for i in chunk]:
                    done[k] = got
                else:
                    todo.append(k)
            self.n_resumed = len(done)
            finished = sum(len(chunks[k]) for k in done)
            if progress and done:
                progress(finished, len(cand), "resumed")
            if todo:
                from distributed import as_completed

                remote_store = client.scatter(store, broadcast=True, hash=False)
                futures = {client.submit(evaluate_chunk, remote_store, [cand[i] for i in chunks[k]], settings, context,
                                         retries=self.retries, key=f"screen-chunk-{k}-{id(self)}"): k for k in todo}
                for fut in as_completed(futures):
                    k = futures[fut]
                    rows = fut.result()
                    done[k] = rows
                    if folder is not None:
                        folder = _save_chunk(folder, k, rows)
                    finished += len(rows)
                    if progress:
                        progress(finished, len(cand), rows[-1].candidate if rows else "")
            self.n_computed = len(todo)
        finally:
            self._running = None
            client.close()
            if cluster is not None:
                cluster.close()
        out: list = [None] * len(cand)
        for k, chunk in enumerate(chunks):
            for i, row in zip(chunk, done[k], strict=True):
                out[i] = row
        return out
