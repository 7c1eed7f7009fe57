"""Whole-database screen on Dask: equality with serial and with plain pymatgen, resume, a killed
worker, a vanished checkpoint folder, filters, the command line."""

import json
import os
import random
import shutil
import signal
from pathlib import Path

import pandas as pd
import psutil
import pytest

from screening import api
from screening import ranking
from screening.distributed import DaskRunner, chunk_candidates
from screening.errors import InputError
from screening.thermo.reference import reference_row

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def li_cand(store):
    return ranking.all_li_candidates(store)


@pytest.fixture(scope="module")
def subset(li_cand):
    """A fixed random subset of the Li-bearing phases (fast enough for several Dask runs)."""
    return li_cand.sample(n=90, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(store, subset):
    return api.screen(store, subset)


def test_all_li_candidates(store, li_cand):
    hull = store.table[(store.table.e_above_hull_eV_per_atom <= 1e-6) & store.table.chemsys.str.contains("Li")]
    assert len(li_cand) == hull[hull.formula != "Li"].formula.nunique()
    assert "Li" not in set(li_cand.formula) and li_cand.formula.is_unique
    assert {"LiI", "Li2O", "Li3PS4", "MgLi2O2"} - set(li_cand.formula) <= {"MgLi2O2"}
    assert (li_cand.kind == "interlayer").all()
    wider = ranking.all_li_candidates(store, 0.05)
    assert len(wider) > len(li_cand) and all(":" in f for f in wider.formula)
    assert "Li7La3Zr2O12:mp-942733" in set(wider.formula)  # 6.8 meV/atom above the hull


def test_rows_equal_plain_pymatgen(store, li_cand):
    """40 random Li phases: windows, interphase with Li and reaction with LLZO agree with the
    straightforward pymatgen loop (PhaseDiagram + get_element_profile + InterfacialReactivity)."""
    sample = random.Random(7).sample(list(li_cand.formula), 40)
    rows = api.screen(store, sample).set_index("candidate")
    for f in sample:
        ref, r = reference_row(store, f), rows.loc[f]
        assert r.reduction_limit_V == pytest.approx(ref.reduction_limit_V, abs=1e-4), f
        if ref.oxidation_limit_V is not None:
            assert r.oxidation_limit_V == pytest.approx(ref.oxidation_limit_V, abs=1e-4), f
        assert r.li_reaction_energy_eV_per_atom == pytest.approx(ref.li_reaction_energy_eV_per_atom, abs=1e-6), f
        assert r.electrolyte_reaction_energy_eV_per_atom == pytest.approx(ref.electrolyte_reaction_energy_eV_per_atom, abs=1e-6), f
        assert tuple(sorted(r.interphase.split(" + "))) == ref.interphase, f


def test_metastable_rows_equal_plain_pymatgen(store):
    """Metastable candidates too, stabilized onto the hull first: LiTi2Ir and Li2CaAl, which would
    fall apart releasing Li metal, and Li3ClO are their own interphase (their own metastability is
    neither a reaction nor an expansion; pymatgen's profile on the stabilized diagram agrees)."""
    sample = ["LiTi2Ir:mp-1185428", "Li2CaAl:mp-1185028", "Li7La3Zr2O12:mp-942733", "Li3ClO:mp-985585",
              "LiI:mp-22899", "Li10Ge(PS6)2:mp-696138"]
    rows = api.screen(store, sample).set_index("candidate")
    for f in sample:
        ref, r = reference_row(store, f), rows.loc[f]
        assert r.li_reaction_energy_eV_per_atom == pytest.approx(ref.li_reaction_energy_eV_per_atom, abs=1e-6), f
        assert r.electrolyte_reaction_energy_eV_per_atom == pytest.approx(ref.electrolyte_reaction_energy_eV_per_atom, abs=1e-6), f
        assert tuple(sorted(r.interphase.split(" + "))) == ref.interphase, f
        assert r.reduction_limit_V == pytest.approx(ref.reduction_limit_V, abs=1e-4), f
    for f in ("LiTi2Ir:mp-1185428", "Li2CaAl:mp-1185028", "Li3ClO:mp-985585"):
        assert rows.loc[f, "interphase"] == f.split(":")[0] and rows.loc[f, "li_consumed_per_formula_unit"] == 0.0
        assert rows.loc[f, "li_reaction_energy_eV_per_atom"] == 0.0 and rows.loc[f, "volume_ratio"] == 1.0
        assert rows.loc[f, "e_above_hull_eV_per_atom"] > 0.005


def test_chunks_keep_systems_together(store, subset):
    cand = api.resolve_candidates(store, subset)
    chunks = chunk_candidates(cand, 7)
    assert sorted(i for c in chunks for i in c) == list(range(len(subset)))
    systems = [{cand[i].phase.chemsys for i in c} for c in chunks]
    for a in range(len(systems)):
        for b in range(a + 1, len(systems)):
            assert not systems[a] & systems[b]


@pytest.mark.dask
def test_dask_equals_serial_and_resumes(store, subset, serial, tmp_path):
    runner = DaskRunner(workers=2, checkpoint=tmp_path)
    df = api.screen(store, subset, runner=runner)
    pd.testing.assert_frame_equal(df, serial)
    assert runner.n_computed == runner.n_chunks > 2 and runner.n_resumed == 0
    (run_dir,) = tmp_path.iterdir()
    files = sorted(run_dir.glob("chunk-*.json"))
    assert len(files) == runner.n_chunks

    again = DaskRunner(workers=2, checkpoint=tmp_path)  # everything resumed, nothing computed
    pd.testing.assert_frame_equal(api.screen(store, subset, runner=again), serial)
    assert again.n_resumed == again.n_chunks and again.n_computed == 0

    files[0].unlink()  # a lost chunk ...
    files[1].write_bytes(files[1].read_bytes().replace(b"0", b"1", 1))  # ... and a damaged one are recomputed
    third = DaskRunner(workers=2, checkpoint=tmp_path)
    pd.testing.assert_frame_equal(api.screen(store, subset, runner=third), serial)
    assert third.n_computed == 2 and third.n_resumed == third.n_chunks - 2

    other = DaskRunner(workers=2, checkpoint=tmp_path)  # another electrolyte never reuses these rows
    api.screen(store, subset.head(10), electrolyte="Li3PS4", runner=other)
    assert other.n_resumed == 0 and len(list(tmp_path.iterdir())) == 2


@pytest.mark.dask
def test_checkpoint_folder_vanishing_mid_run(store, subset, serial, tmp_path):
    """The cache folder is removed during the run: it is recreated, every row still comes back."""
    gone = []

    def remove_once(done, total, formula):
        if not gone:
            shutil.rmtree(tmp_path / "ck")
            gone.append(done)

    runner = DaskRunner(workers=2, checkpoint=tmp_path / "ck")
    pd.testing.assert_frame_equal(api.screen(store, subset, runner=runner, progress=remove_once), serial)
    assert gone and (tmp_path / "ck").is_dir()
    (run_dir,) = (tmp_path / "ck").iterdir()
    assert 0 < len(list(run_dir.glob("chunk-*.json"))) < runner.n_chunks  # chunks after the removal


@pytest.mark.dask
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
        api.screen(store, subset, runner=first, progress=crash_after_two)
    second = DaskRunner(workers=2, checkpoint=tmp_path)
    pd.testing.assert_frame_equal(api.screen(store, subset, runner=second), serial)
    assert second.n_resumed >= 2 and second.n_computed == second.n_chunks - second.n_resumed


@pytest.mark.dask
def test_worker_killed_mid_run(store, subset, serial, tmp_path):
    """SIGKILL one worker process after the first finished chunk: Dask re-runs its tasks
    elsewhere and the result is identical."""
    killed = []

    def kill_one(done, total, formula):
        if not killed:
            servers = [p for p in psutil.Process().children(recursive=True) if "forkserver" in " ".join(p.cmdline())]
            workers = [w for s in servers for w in s.children()]
            assert len(workers) == 2, "expected two worker processes"
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    runner = DaskRunner(workers=2, checkpoint=tmp_path, chunks_per_worker=8)
    pd.testing.assert_frame_equal(api.screen(store, subset, runner=runner, progress=kill_one), serial)
    assert killed and runner.n_computed == runner.n_chunks


def test_filters(serial):
    ok, removed = ranking.filter_ranking(serial, max_red_V=0.0, insulating_only=True, electrolyte_stable=True)
    assert len(ok) > 0 and removed == len(serial) - len(ok)
    assert (ok.reduction_limit_V <= 1e-9).all() and (ok.electronic_character == "insulating").all()
    assert (ok.electrolyte_penalty_eV_per_atom == 0).all()
    assert list(ok["rank"]) == sorted(ok["rank"])  # order kept
    loose, _ = ranking.filter_ranking(serial, max_red_V=1.0)
    assert len(ok) < len(loose) < len(serial)
    same, none_removed = ranking.filter_ranking(serial)
    assert same is serial and none_removed == 0  # no filter: nothing dropped, errors included


@pytest.mark.parametrize("kw,word", [({"workers": 0}, "--workers 0"), ({"workers": 10_000}, "--workers 10000"),
                                     ({"scheduler": "garbage"}, "not a Dask address"), ({"scheduler": ""}, "not a Dask address"),
                                     ({"workers": 2, "scheduler": "tcp://h:1"}, "not both"), ({}, "give --workers")])
def test_bad_runner_input(kw, word):
    with pytest.raises(InputError, match=word):
        DaskRunner(**kw)


@pytest.mark.dask
def test_cli_all_li_on_dask_with_filters(cli, tmp_path):
    out = tmp_path / "stable.json"
    r = cli("screen", "--all-li", "--workers", "2", "--checkpoint", tmp_path / "ck", "--max-red-V", "0",
            "--insulating-only", "--electrolyte-stable", "--format", "json", "--out", out)
    assert r.code == 0, r.err
    rows = json.loads(out.read_text())["records"]
    assert 20 <= len(rows) < 1500
    assert all(x["reduction_limit_V"] <= 1e-9 and x["electronic_character"] == "insulating" for x in rows)
    assert [x["rank"] for x in rows] == sorted(x["rank"] for x in rows)
    assert {"LiF", "LiCl", "Li2O"} <= {x["candidate"] for x in rows}
    assert "rows removed by the filters" in r.err


@pytest.mark.parametrize("args,word", [
    (("--all-li", "LiI"), "only one of them"),
    (("--all-li", "--workers", "0"), "--workers 0"),
    (("--all-li", "--scheduler", "tcp://127.0.0.1:9"), "cannot reach the Dask scheduler"),
    (("--all-li", "--max-red-V", "-1"), "--max-red-V"),
    (("LiI", "--workers", "1", "--checkpoint", "/proc/no-such-folder"), "give a writable folder"),
    (("LiI", "--checkpoint", "ck"), "--checkpoint needs --workers"),
])
def test_cli_bad_input(cli, args, word):
    r = cli("screen", *args)
    assert r.code == 2 and word in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not (Path(os.environ["SCREENING_CACHE"]) / "runs").exists()  # no empty checkpoint folder left behind


@pytest.mark.dask
def test_started_runner_closes_cleanly_when_unused():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    runner = DaskRunner(workers=1).start()
    runner.close()
    runner.close()  # idempotent
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE and "forkserver" not in " ".join(p.cmdline())
            and "resource_tracker" not in " ".join(p.cmdline())]
    assert left == []


@pytest.mark.dask
def test_ctrl_c_on_a_dask_run_is_one_line(tmp_path):
    """Ctrl-C reaches the whole process group (the client and its worker processes): the workers
    ignore it, the client stops the cluster and prints one line, nothing is written."""
    import subprocess
    import sys
    import time

    out = tmp_path / "x.csv"
    proc = subprocess.Popen([sys.executable, "-m", "screening", "screen", "--all-li", "--workers", "2", "--max-red-V", "0",
                             "--format", "csv", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, "SCREENING_CACHE": str(tmp_path / "c")})
    def workers() -> int:  # the worker processes: children of the forkserver
        n = 0
        for p in psutil.Process(proc.pid).children():
            try:
                if "forkserver" in " ".join(p.cmdline()):
                    n += len(p.children())
            except psutil.Error:
                continue
        return n

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and workers() < 2:
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["error: interrupted; nothing was written"]
    assert not out.exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.dask
def test_a_real_scheduler_and_two_workers_equal_serial(store, subset, serial, tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1 (free ports, no dashboard),
    started from an empty folder as a cluster would be: a --scheduler screen through them equals
    the serial one."""
    import subprocess
    import sys
    import time

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for k in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                           "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{k}"],
                                          cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    if len(c.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the cluster did not start"
            time.sleep(0.5)
        runner = DaskRunner(scheduler=address, checkpoint=tmp_path / "ck")
        df = api.screen(store, subset, runner=runner)
        pd.testing.assert_frame_equal(df, serial)
        assert runner.n_computed == runner.n_chunks >= 2 * 2
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
