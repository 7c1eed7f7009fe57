"""Writers keep what a path is: files replaced atomically, symlinks written through, devices and
FIFOs streamed to, folders refused, report folders keep foreign files, temporaries never left."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from screening.errors import InputError
from screening.outputs import MANIFEST, TMP_PREFIX, atomic_write, check_file, clean_stale, write_folder, write_text


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_regular_file_replaced_keeping_its_mode(tmp_path):
    p = tmp_path / "out.csv"
    p.write_text("old")
    os.chmod(p, 0o640)
    write_text(p, "new")
    assert p.read_text() == "new" and stat.S_IMODE(p.stat().st_mode) == 0o640
    q = tmp_path / "fresh.csv"
    write_text(q, "x")
    assert stat.S_IMODE(q.stat().st_mode) == 0o666 & ~_umask()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fresh.csv", "out.csv"]


def test_failed_write_leaves_the_old_file(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert p.read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["out.txt"]


def test_symlink_is_written_through(tmp_path):
    target = tmp_path / "real" / "data.csv"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "real" / "created.csv")
    write_text(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "real" / "created.csv").read_text() == "made"


def test_character_device_is_streamed_not_replaced():
    t = check_file("/dev/null")
    assert t.stream
    write_text("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_fifo_is_streamed(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_text(fifo, "through the pipe")
    reader.join(5)
    assert got == ["through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("make,word", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "does not exist"),
])
def test_refused_paths(tmp_path, make, word):
    p = tmp_path / "x"
    make(p)
    target = p if word == "is a folder" else tmp_path / "missing" / "out.csv"
    with pytest.raises(InputError, match=word):
        check_file(target)


def test_unwritable_folder_refused(tmp_path):
    with pytest.raises(InputError, match="belong to the kernel"):
        check_file("/sys/nope.csv")  # sysfs: creating a file fails even for root
    with pytest.raises(InputError, match="not made under /dev, /proc or /sys"):
        check_file("/dev/nope.csv")


def test_report_folder_keeps_foreign_files(tmp_path):
    folder = tmp_path / "rep"
    write_folder(folder, {"a.txt": b"1", "b.txt": b"2"})
    assert (folder / MANIFEST).is_file()
    (folder / "notes.txt").write_text("mine")
    (folder / "sub").mkdir()
    (folder / "sub" / "x").write_text("mine too")
    write_folder(folder, {"a.txt": b"one"})  # b.txt was ours and is gone from the new report
    assert (folder / "a.txt").read_bytes() == b"one" and not (folder / "b.txt").exists()
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "sub" / "x").read_text() == "mine too"
    (folder / "c.txt").write_text("user file with a report name")
    with pytest.raises(InputError, match="c.txt exists and was not written by this tool"):
        write_folder(folder, {"c.txt": b"report"})
    assert (folder / "c.txt").read_text() == "user file with a report name"


def test_interrupted_rewrite_keeps_the_previous_report(tmp_path, monkeypatch):
    """Ctrl-C while a report folder is rewritten: the previous report stays whole, nothing new
    is left beside it, and the next run is not refused."""
    import screening.outputs as outputs

    folder = tmp_path / "rep"
    write_folder(folder, {"a.txt": b"old a", "b.txt": b"old b"})
    real_mkstemp, calls = outputs.tempfile.mkstemp, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 3:  # two new files staged, then Ctrl-C
            raise KeyboardInterrupt
        return real_mkstemp(*a, **k)

    monkeypatch.setattr(outputs.tempfile, "mkstemp", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_folder(folder, {"a.txt": b"new a", "c.txt": b"new c", "d.txt": b"new d"})
    monkeypatch.undo()
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "a.txt", "b.txt"]
    assert (folder / "a.txt").read_bytes() == b"old a" and (folder / "b.txt").read_bytes() == b"old b"
    write_folder(folder, {"a.txt": b"new a", "c.txt": b"new c"})
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "a.txt", "c.txt"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_commit_waits_for_it(tmp_path, monkeypatch, signum):
    """Ctrl-C or SIGTERM while the new files are renamed in: the commit completes, then the run
    stops with InterruptedAfterCommit naming what was written (never a mixed report)."""
    import screening.outputs as outputs

    folder = tmp_path / "rep"
    write_folder(folder, {"a.txt": b"old a", "b.txt": b"old b"})
    real_replace, calls = os.replace, []

    def replace_with_a_signal(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signum)  # delivered while the first file is renamed in
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace_with_a_signal)
    before = signal.getsignal(signum)
    with pytest.raises(outputs.InterruptedAfterCommit) as e:
        write_folder(folder, {"a.txt": b"new a", "c.txt": b"new c"})
    monkeypatch.undo()
    assert e.value.signum == signum and e.value.path == folder and len(calls) == 3  # a, c, then the manifest
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "a.txt", "c.txt"]
    assert (folder / "a.txt").read_bytes() == b"new a" and signal.getsignal(signum) == before


def test_report_names_are_checked_before_any_work(tmp_path):
    from screening.outputs import check_folder

    folder = tmp_path / "rep"
    write_folder(folder, {"report.html": b"x"})
    (folder / "ranking.csv").mkdir()
    with pytest.raises(InputError, match="ranking.csv is a folder where the report writes a file"):
        check_folder(folder, names=("report.html", "ranking.csv"))
    (folder / "ranking.csv").rmdir()
    (folder / "reaction_1_LiI.png").write_text("the user's own figure")
    with pytest.raises(InputError, match="reaction_1_LiI.png has the name of a report file"):
        check_folder(folder, names=("report.html",), patterns=("reaction_*.png",))
    assert check_folder(folder, names=("report.html",)) == folder


@pytest.mark.parametrize("path,word", [("x" * 300 + ".csv", "304 bytes long"), ("/".join(["d" * 200] * 25), "at most 4096"),
                                        ("/proc/self/comm", "belong to the kernel"), ("/proc/version", "belong to the kernel"),
                                        ("/sys/kernel/notes", "belong to the kernel")])
def test_long_names_and_kernel_files_refused(path, word):
    with pytest.raises(InputError, match=word):
        check_file(path)


def test_foreign_folder_refused(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="not a screening report"):
        write_folder(mine, {"report.html": b"x"})
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        write_folder(f, {"a": b"b"})


def test_new_report_folder_permissions(tmp_path):
    folder = write_folder(tmp_path / "rep", {"a.txt": b"1"})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~_umask()
    assert stat.S_IMODE((folder / "a.txt").stat().st_mode) == 0o666 & ~_umask()


def test_own_stdout_is_written_through_its_descriptor(tmp_path):
    """`--out /dev/stdout` with stdout appended to a log: the log keeps what it had."""
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    code = "from screening.outputs import write_text; write_text('/dev/stdout', 'data\\n')"
    with open(log, "a") as fh:
        subprocess.run([sys.executable, "-c", code], stdout=fh, check=True)
    assert log.read_text() == "earlier\ndata\n"
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert piped.stdout == "data\n"


def test_full_disk_and_link_loops_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="cannot write /dev/full .*No space left"):
        write_text("/dev/full", "x")
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="Too many levels of symbolic links"):
        check_file(loop)
    with pytest.raises(InputError, match="not made under /dev"):
        check_file("/dev/new-file.png")


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale_file = tmp_path / f"{TMP_PREFIX}{pid}-abc.tmp"
    stale_file.write_text("left by a SIGKILL")
    stale_dir = tmp_path / f"{TMP_PREFIX}{pid}-rep"
    stale_dir.mkdir()
    mine = tmp_path / f"{TMP_PREFIX}{os.getpid()}-live.tmp"
    mine.write_text("in use")
    write_text(tmp_path / "out.txt", "x")  # any write in the folder cleans up
    assert not stale_file.exists() and not stale_dir.exists() and mine.exists()
    assert clean_stale(tmp_path) == 0


def test_sigterm_removes_temporaries(tmp_path):
    code = textwrap.dedent(f"""
        import signal, sys, time
        from screening import cli
        from screening.outputs import atomic_write
        signal.signal(signal.SIGTERM, cli._terminate)
        try:
            with atomic_write({str(tmp_path / 'out.csv')!r}) as tmp:
                tmp.write_text("partial")
                print("ready", flush=True)
                time.sleep(30)
        except SystemExit as exc:
            sys.exit(exc.code)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 143
    assert list(tmp_path.iterdir()) == []


def test_csv_and_its_provenance_are_one_unit(tmp_path, monkeypatch):
    """The sidecar records the CSV's SHA-256; the old sidecar goes before the new CSV comes in, so
    a kill between the two renames leaves the new CSV with no sidecar, never with the previous
    run's provenance."""
    import hashlib
    import json

    import pandas as pd

    from screening.report.tables import write_file

    out = tmp_path / "f.csv"
    write_file(pd.DataFrame({"a": [1]}), out, "csv", {"parameters": {"weights": "li=1"}})
    side = json.loads((tmp_path / "f.csv.provenance.json").read_text())
    assert side["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() and side["parameters"]["weights"] == "li=1"
    calls = []
    real = os.replace

    def killed_between(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the sidecar's rename: as if the process died right before it
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", killed_between)
    with pytest.raises(KeyboardInterrupt):
        write_file(pd.DataFrame({"a": [5]}), out, "csv", {"parameters": {"weights": "li=5"}})
    assert out.read_text() == "a\n5\n" and not (tmp_path / "f.csv.provenance.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]  # no temporary file left either
