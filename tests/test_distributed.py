"""Whole-database screen: candidates, equality with plain pymatgen, Dask runs, resume, worker death."""

import json
import os
import random
import signal

import pandas as pd
import psutil
import pytest
from pymatgen.core import Composition

from screening import ranking
from screening.distributed import DaskRunner, chunk_candidates
from screening.errors import InputError
from screening.thermo.reference import reference_row


@pytest.fixture(scope="module")
def li_cand(store):
    return ranking.all_li_candidates(store)


@pytest.fixture(scope="module")
def subset(li_cand):
    """A fixed random subset of the Li-bearing phases (fast enough for several Dask runs)."""
    return li_cand.sample(n=90, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(store, subset):
    return ranking.screen(store, subset)


def test_all_li_candidates(store, li_cand):
    assert len(li_cand) == 1735  # Li-bearing hull phases of the snapshot, Li metal excluded
    assert "Li" not in set(li_cand.formula) and li_cand.formula.is_unique
    assert {"LiI", "Li2O", "Li7La3Zr2O12", "Li3PS4"} <= set(li_cand.formula)
    assert (li_cand.kind == "interlayer").all()


def test_rows_equal_plain_pymatgen(store, li_cand):
    """40 random Li phases: windows, interphase with Li and reaction with LLZO agree with the
    straightforward pymatgen loop (PhaseDiagram + get_element_profile + InterfacialReactivity)."""
    sample = random.Random(7).sample(list(li_cand.formula), 40)
    rows = ranking.screen(store, sample).set_index("input_formula")
    for f in sample:
        ref, r = reference_row(store, f), rows.loc[f]
        assert r.reduction_limit_V == pytest.approx(ref.reduction_limit_V, abs=0.01), f
        if ref.oxidation_limit_V is not None:
            assert r.oxidation_limit_V == pytest.approx(ref.oxidation_limit_V, abs=0.01), f
        assert r.li_reaction_energy_eV_per_atom == pytest.approx(ref.li_reaction_energy_eV_per_atom, abs=1e-3), f
        assert r.electrolyte_reaction_energy_eV_per_atom == pytest.approx(ref.electrolyte_reaction_energy_eV_per_atom, abs=1e-3), f
        assert tuple(sorted(r.interphase.split(" + "))) == ref.interphase, f
        if ref.electrolyte_reaction_products:
            assert tuple(sorted(r.electrolyte_reaction_products.split(" + "))) == ref.electrolyte_reaction_products, f


def test_chunks_keep_systems_together(subset):
    chunks = chunk_candidates(subset, 7)
    assert sorted(i for c in chunks for i in c.index) == list(subset.index)
    systems = [{Composition(f).chemical_system for f in c.formula} for c in chunks]
    for a in range(len(systems)):
        for b in range(a + 1, len(systems)):
            assert not systems[a] & systems[b]


def test_dask_equals_serial_and_resumes(store, subset, serial, tmp_path):
    runner = DaskRunner(workers=2, checkpoint=tmp_path)
    df = ranking.screen(store, subset, runner=runner)
    pd.testing.assert_frame_equal(df, serial)
    assert runner.n_computed == runner.n_chunks > 2 and runner.n_resumed == 0
    (run_dir,) = tmp_path.iterdir()
    files = sorted(run_dir.glob("chunk-*.parquet"))
    assert len(files) == runner.n_chunks

    again = DaskRunner(workers=2, checkpoint=tmp_path)  # everything resumed, nothing computed
    pd.testing.assert_frame_equal(ranking.screen(store, subset, runner=again), serial)
    assert again.n_resumed == again.n_chunks and again.n_computed == 0

    files[0].unlink()  # a lost chunk ...
    files[1].write_bytes(b"not parquet")  # ... and a damaged one are recomputed
    third = DaskRunner(workers=2, checkpoint=tmp_path)
    pd.testing.assert_frame_equal(ranking.screen(store, subset, runner=third), serial)
    assert third.n_computed == 2 and third.n_resumed == third.n_chunks - 2

    other = DaskRunner(workers=2, checkpoint=tmp_path)  # another electrolyte never reuses these rows
    ranking.screen(store, subset.head(10), electrolyte="Li3PS4", runner=other)
    assert other.n_resumed == 0 and len(list(tmp_path.iterdir())) == 2


def test_interrupted_run_resumes(store, subset, serial, tmp_path):
    """The client dies after two chunks: a new run computes only the rest."""

    class Crash(Exception):
        pass

    seen = []

    def crash_after_two(done, total, formula):
        seen.append(done)
        if len(seen) == 2:
            raise Crash

    first = DaskRunner(workers=2, checkpoint=tmp_path)
    with pytest.raises(Crash):
        ranking.screen(store, subset, runner=first, progress=crash_after_two)
    second = DaskRunner(workers=2, checkpoint=tmp_path)
    pd.testing.assert_frame_equal(ranking.screen(store, subset, runner=second), serial)
    assert second.n_resumed >= 2 and second.n_computed == second.n_chunks - second.n_resumed


def test_worker_killed_mid_run(store, subset, serial, tmp_path):
    """SIGKILL one worker process after the first finished chunk: Dask re-runs its tasks
    elsewhere and the result is identical."""
    killed = []

    def kill_one(done, total, formula):
        if not killed:
            # workers are forked by the multiprocessing forkserver (not the resource tracker)
            servers = [p for p in psutil.Process().children(recursive=True) if "forkserver" in " ".join(p.cmdline())]
            workers = [w for s in servers for w in s.children()]
            assert len(workers) == 2, "expected two worker processes"
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    runner = DaskRunner(workers=2, checkpoint=tmp_path, chunks_per_worker=8)
    pd.testing.assert_frame_equal(ranking.screen(store, subset, runner=runner, progress=kill_one), serial)
    assert killed and runner.n_computed == runner.n_chunks


def test_filters(serial):
    ok = ranking.filter_ranking(serial, max_red_V=0.0, insulating_only=True, electrolyte_stable=True)
    assert len(ok) > 0
    assert (ok.reduction_limit_V <= 1e-9).all() and (ok.electronic_character == "insulating").all()
    assert (ok.electrolyte_penalty_eV_per_atom == 0).all()
    assert list(ok["rank"]) == sorted(ok["rank"])  # order kept
    loose = ranking.filter_ranking(serial, max_red_V=1.0)
    assert len(ok) < len(loose) < len(serial)


def test_bad_runner_input():
    with pytest.raises(InputError, match="--workers"):
        DaskRunner(workers=0)


def test_cli_all_li_on_dask_with_filters(run_cli, tmp_path):
    out = tmp_path / "stable.json"
    run_cli("screen", "--all-li", "--workers", "2", "--checkpoint", str(tmp_path / "ck"), "--max-red-V", "0",
            "--insulating-only", "--electrolyte-stable", "--format", "json", "--out", str(out), check_rc=0)
    rows = json.loads(out.read_text())
    assert 20 <= len(rows) < 1735
    assert all(r["reduction_limit_V"] <= 1e-9 and r["electronic_character"] == "insulating" for r in rows)
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    assert {"LiF", "LiCl", "Li2O"} <= {r["candidate"] for r in rows}


@pytest.mark.parametrize("args,word", [
    (("--all-li", "LiI"), "only one of them"),
    (("--all-li", "--workers", "0"), "--workers 0"),
    (("--all-li", "--scheduler", "tcp://127.0.0.1:9"), "cannot reach the Dask scheduler"),
    (("--all-li", "--max-red-V", "-1"), "--max-red-V"),
    (("LiI", "--workers", "1", "--checkpoint", "/proc/no-such-folder"), "give a writable folder"),
])
def test_cli_bad_input(run_cli, args, word):
    proc = run_cli("screen", *args)
    assert proc.returncode == 2 and word in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_started_runner_closes_cleanly_when_unused():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    runner = DaskRunner(workers=1).start()
    runner.close()
    runner.close()  # idempotent
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE and "forkserver" not in " ".join(p.cmdline())
            and "resource_tracker" not in " ".join(p.cmdline())]
    assert left == []
