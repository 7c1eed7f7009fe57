"""Run a screen's candidate evaluations on Dask: a local multi-process cluster or a remote one.

Candidates are grouped into chunks by chemical system (phases of a system and its
sub-systems are shared, so each worker builds each phase set once and reuses its memoised
reactions).  The store is scattered to the workers once; no shared filesystem is assumed.

Resume: with a checkpoint folder every finished chunk is written there atomically (parquet)
as it arrives.  Dask re-runs the chunks of a worker that dies; if the whole run dies, running
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

import pandas as pd

from screening.data.formula import parse_formula, split_identifier
from screening.errors import InputError
from screening.outputs import atomic_write

if TYPE_CHECKING:  # this module stays light: a local cluster can start before the store loads
    from screening.settings import Settings
    from screening.store import PhaseStore

#: chunks per worker: enough for load balancing, few enough to keep per-task overhead small
CHUNKS_PER_WORKER = 6


def chunk_candidates(cand: pd.DataFrame, n_chunks: int) -> list[pd.DataFrame]:
    """Split candidates into about ``n_chunks`` chunks, keeping chemical systems together.

    Candidates are ordered by chemical system (elements sorted), so neighbouring candidates
    share sub-systems; chunks are contiguous slices of that order with whole systems each.
    """
    def system(text: str) -> str:
        formula, pid = split_identifier(text)
        return parse_formula(formula).chemical_system if formula else pid

    systems = cand.formula.map(system)
    order = cand.assign(_sys=systems).sort_values(["_sys", "formula"], kind="stable")
    size = max(1, -(-len(order) // max(1, n_chunks)))
    chunks, current, n = [], [], 0
    for _, group in order.groupby("_sys", sort=False):
        current.append(group)
        n += len(group)
        if n >= size:
            chunks.append(pd.concat(current).drop(columns="_sys"))
            current, n = [], 0
    if current:
        chunks.append(pd.concat(current).drop(columns="_sys"))
    return chunks


def evaluate_chunk(store: PhaseStore, chunk: pd.DataFrame, settings: Settings, v_red: float) -> pd.DataFrame:
    """Unranked rows of one chunk, indexed like the candidate DataFrame (runs on a worker)."""
    from screening.ranking.rows import evaluate_all

    rows = evaluate_all(store, chunk, settings, None, v_red)
    return pd.DataFrame(rows, index=chunk.index)


def run_key(store: PhaseStore, cand: pd.DataFrame, settings: Settings) -> str:
    """Hash of everything a screen's rows depend on (for checkpoint folders)."""
    h = hashlib.sha256()
    h.update(json.dumps([store.content_key(), settings.key()], sort_keys=True).encode())
    h.update(pd.util.hash_pandas_object(cand[["formula", "kind"]], index=True).to_numpy().tobytes())
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


def _save_chunk(folder: Path, k: int, df: pd.DataFrame) -> Path | None:
    """Write a finished chunk; recreate a vanished folder; None (no more checkpoints) if that fails."""
    for _ in range(2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(folder / f"chunk-{k:05d}.parquet") as tmp:
                df.to_parquet(tmp)
            return folder
        except (OSError, InputError):
            continue
    return None


def _read_chunk(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_parquet(path)
    except Exception:  # a damaged checkpoint is recomputed, never trusted
        return None


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
            thread.join()
            client, cluster = box.get("client", (None, None))
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()

    def _connected(self):
        thread, box = self.start()._running
        thread.join()
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
                return Client(self.scheduler, timeout="10s"), None
            except (OSError, TimeoutError) as exc:
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
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50)
        return Client(cluster), cluster

    def __call__(self, store: PhaseStore, cand: pd.DataFrame, settings: Settings, progress=None,
                 v_red: float = 0.0) -> list[dict]:
        folder, made = None, []
        if self.checkpoint is not None:
            folder = Path(self.checkpoint) / run_key(store, cand, settings)
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
            done: dict[int, pd.DataFrame] = {}
            todo = []
            for k, chunk in enumerate(chunks):
                path = folder / f"chunk-{k:05d}.parquet" if folder else None
                got = _read_chunk(path) if path is not None and path.is_file() else None
                if got is not None and list(got.index) == list(chunk.index):
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
                futures = {client.submit(evaluate_chunk, remote_store, chunks[k], settings, v_red,
                                         retries=self.retries, key=f"screen-chunk-{k}-{id(self)}"): k for k in todo}
                for fut in as_completed(futures):
                    k = futures[fut]
                    df = fut.result()
                    done[k] = df
                    if folder is not None:
                        folder = _save_chunk(folder, k, df)
                    finished += len(df)
                    if progress:
                        progress(finished, len(cand), df.candidate.iat[-1] if len(df) else "")
            self.n_computed = len(todo)
        finally:
            self._running = None
            client.close()
            if cluster is not None:
                cluster.close()
        rows = pd.concat([done[k] for k in sorted(done)]).sort_index()
        return rows.to_dict("records")
