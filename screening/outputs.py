"""Writing outputs without losing anything: every file the package writes goes through here.

Rules, checked before any work starts (``check_file``/``check_folder``) and applied when writing:

* an existing regular file is replaced atomically (a temporary file beside it, then a rename),
  keeping its permission bits; a new file gets the usual umask permissions;
* a symlink is written through: its target is replaced, the link stays a link;
* a character device or FIFO (``/dev/stdout``, ``/dev/null``, a named pipe) is streamed to,
  never replaced; block devices, sockets and folders are refused;
* a report folder keeps every file it did not create (a manifest lists its own files), and a
  folder that holds other files and no manifest is refused;
* temporary files and folders carry the writer's pid (``.screening-tmp-<pid>-*``): they are removed
  on errors, Ctrl-C and SIGTERM (the command line turns SIGTERM into an exception), and the next
  writer in that folder removes those of processes that no longer run (killed with SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from screening.errors import InputError

TMP_PREFIX = ".screening-tmp-"
MANIFEST = ".screening-report.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(folder: Path | str) -> int:
    """Remove temporary files/folders left in ``folder`` by writers that no longer run."""
    n = 0
    try:
        items = list(Path(folder).glob(TMP_PREFIX + "*"))
    except OSError:
        return 0
    for p in items:
        try:
            pid = int(p.name[len(TMP_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                n += 1
    return n


@dataclass(frozen=True)
class Target:
    """Where a file output really goes: ``path`` (symlinks resolved), whether to stream to it, and
    ``fd`` when it is this process's own stdout or stderr (written through that descriptor, so a
    file opened for appending is appended to, never truncated)."""

    path: Path
    stream: bool = False
    given: str = ""
    fd: int | None = None


SYSTEM_TREES = ("/dev/", "/proc/", "/sys/")
KERNEL_TREES = ("/proc/", "/sys/")
#: longest path and file name most file systems take (bytes)
PATH_MAX, NAME_MAX = 4096, 255
_OWN_FDS = {"/dev/stdout": 1, "/dev/stderr": 2, "/dev/fd/1": 1, "/dev/fd/2": 2, "/proc/self/fd/1": 1, "/proc/self/fd/2": 2}


def writable_dir(folder: Path) -> bool:
    """True when a file can really be created in ``folder`` (permission bits lie to root and on
    read-only file systems)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f"{TMP_PREFIX}{os.getpid()}-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def _check_name(given: str, p: Path, option: str, what: str = "file") -> None:
    """Empty paths, NUL characters and names longer than the file system allows are bad input."""
    if not given.strip() or "\0" in given:
        raise InputError(f"{option} {given!r}: empty path or a NUL character: give a {what} name")
    if len(os.fsencode(str(p))) > PATH_MAX:
        raise InputError(f"{option}: the path is {len(os.fsencode(str(p)))} bytes long (at most {PATH_MAX}): give a shorter path")
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise InputError(f"{option}: the name {part[:40]}... is {len(os.fsencode(part))} bytes long (at most {NAME_MAX}): "
                             "give a shorter name")


def check_file(path: Path | str, option: str = "--out") -> Target:
    """Classify a file output path before any work; InputError (one line, the fix) if unusable."""
    given = str(path)
    p = Path(path).expanduser()
    _check_name(given, p, option)
    if str(p) in _OWN_FDS:
        return Target(p, stream=True, given=given, fd=_OWN_FDS[str(p)])
    if str(p).startswith(KERNEL_TREES) or os.path.realpath(p).startswith(KERNEL_TREES):
        raise InputError(f"{option} {given}: files under /proc and /sys belong to the kernel: give a path elsewhere")
    try:
        real = Path(os.path.realpath(p, strict=False))
        st = os.stat(p) if os.path.exists(p) else None  # a dangling link has no target yet
        if st is None and os.path.islink(p):
            try:
                os.stat(p)
            except FileNotFoundError:
                pass  # dangling: its target is made
    except OSError as exc:  # a symlink loop, a too long path ...
        raise InputError(f"{option} {given}: {exc.strerror}: give a plain file path") from None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{option} {given} is a folder: give a file name inside it")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return Target(real, stream=True, given=given)
        if not stat.S_ISREG(mode):
            raise InputError(f"{option} {given} is a device or socket: give a regular file name")
        if not os.access(real, os.W_OK):
            raise InputError(f"{option} {given} is read-only: give a writable file")
    elif os.path.islink(p) and not real.parent.is_dir():
        raise InputError(f"{option} {given}: a link to {real} in a folder that does not exist: fix the link or give another path")
    if str(real).startswith(SYSTEM_TREES) or str(p).startswith(SYSTEM_TREES):
        if st is None or not stat.S_ISREG(st.st_mode):
            raise InputError(f"{option} {given}: no such device, and files are not made under /dev, /proc or /sys: "
                             "give a path elsewhere")
        return Target(real, stream=True, given=given)
    parent = real.parent
    if not parent.is_dir():
        raise InputError(f"{option} {given}: folder {parent} does not exist: create it first")
    if not writable_dir(parent):
        raise InputError(f"{option} {given}: folder {parent} is not writable: choose another place")
    return Target(real, given=given)


@contextlib.contextmanager
def atomic_write(path: Path | str | Target):
    """Yield a temporary path; on success it becomes ``path`` (see the module rules); on any
    error or interrupt it is removed and ``path`` is untouched.  A failed final write (disk full,
    a vanished folder) is an InputError naming the path."""
    target = path if isinstance(path, Target) else check_file(path)
    folder = Path(tempfile.gettempdir()) if target.stream else target.path.parent
    clean_stale(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            if target.fd is not None:
                sys.stdout.flush() if target.fd == 1 else sys.stderr.flush()
                with open(tmp, "rb") as src:
                    for block in iter(lambda: src.read(1 << 16), b""):
                        view = memoryview(block)
                        while view:
                            view = view[os.write(target.fd, view):]
            elif target.stream:
                with open(tmp, "rb") as src, open(target.path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                try:
                    mode = stat.S_IMODE(os.stat(target.path).st_mode)
                except FileNotFoundError:
                    mode = 0o666 & ~_umask()
                os.chmod(tmp, mode)
                os.replace(tmp, target.path)
        except OSError as exc:
            raise InputError(f"cannot write {target.given or target.path} ({exc.strerror}): "
                             "check the disk and the path, nothing was written") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_text(path: Path | str | Target, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: Path | str | Target, data: bytes) -> None:
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)


# --------------------------------------------------------------------------- folders
def _manifest(folder: Path) -> list[str] | None:
    try:
        return list(json.loads((folder / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _conflicts(folder: Path, names, patterns, owned) -> str | None:
    """The first entry of ``folder`` the report would write over that this tool does not own:
    a folder at one of its file names, or a file it did not write at one of its names."""
    for n in sorted(names):
        q = folder / n
        if q.is_dir() and not q.is_symlink():
            return f"{n} is a folder where the report writes a file"
        if n not in owned and (q.exists() or q.is_symlink()):
            return f"{n} exists and was not written by this tool"
    for pattern in patterns:  # names that depend on the results (reaction_1_LiI.png ...)
        for q in sorted(folder.glob(pattern)):
            if q.name not in owned:
                return f"{q.name} has the name of a report file and was not written by this tool"
    return None


def check_folder(path: Path | str, option: str = "--out", names=(), patterns=()) -> Path:
    """Check a report folder before any work: a new folder in a writable parent, an empty
    folder, or a folder this tool wrote (its manifest) where none of the report's file ``names``
    (and names matching ``patterns``) is a folder or a file of somebody else; InputError otherwise."""
    given = str(path)
    _check_name(given, Path(path).expanduser(), option, "folder")
    p = Path(os.path.realpath(Path(path).expanduser()))
    if p.exists():
        if not p.is_dir():
            raise InputError(f"{option} {given} is a file, not a folder: give a new folder name")
        if not writable_dir(p):
            raise InputError(f"{option} {given}: folder is not writable: choose another place")
        owned = _manifest(p)
        if owned is None and any(q for q in p.iterdir() if not q.name.startswith(TMP_PREFIX)):
            raise InputError(f"{option} {given} exists and is not a screening report: choose a new folder")
        problem = _conflicts(p, names, patterns, set(owned or ()))
        if problem:
            raise InputError(f"{option} {given}: {problem}: move it or choose a new folder")
        return p
    if not p.parent.is_dir():
        raise InputError(f"{option} {given}: folder {p.parent} does not exist: create it first")
    if not writable_dir(p.parent):
        raise InputError(f"{option} {given}: folder {p.parent} is not writable: choose another place")
    return p


class InterruptedAfterCommit(BaseException):
    """Ctrl-C or SIGTERM arrived while an output was being committed: it was held back until the
    output was complete, then raised as this (``signum``: the signal; ``path``: what was written).
    A BaseException like KeyboardInterrupt, but not one: click would turn that into a plain abort."""

    def __init__(self, signum: int, path: Path):
        super().__init__(f"interrupted after {path} was written")
        self.signum, self.path = signum, path


@contextlib.contextmanager
def _signals_held(path: Path):
    """Ctrl-C and SIGTERM wait until the block is done (a commit of renames is never cut in half),
    then raise ``InterruptedAfterCommit``.  Python runs signal handlers in the main thread only,
    so the handlers are swapped for ones that take note (blocking the signal would not do: any
    other thread of the process may receive it).  Outside the main thread: nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if pending and old[pending[0]] is not signal.SIG_IGN:
        raise InterruptedAfterCommit(pending[0], path)


def write_with_sidecar(target: Target, data: bytes, sidecar: Target | None, sidecar_data: bytes) -> None:
    """Write a file and its sidecar (e.g. a CSV and its provenance) as one unit: both are staged
    beside their places; then, with Ctrl-C and SIGTERM held back, the old sidecar is removed, the
    file renamed in, the new sidecar renamed in.  An interrupt before leaves the previous pair; a
    kill (SIGKILL) in between leaves the new file without a sidecar, never with another run's.
    A streamed target (stdout, a FIFO) gets no sidecar (``sidecar`` None)."""
    if target.stream or sidecar is None:
        with atomic_write(target) as tmp:
            tmp.write_bytes(data)
        return
    staged: list[Path] = []
    try:
        for t, payload in ((target, data), (sidecar, sidecar_data)):
            clean_stale(t.path.parent)
            fd, tmp = tempfile.mkstemp(dir=t.path.parent, prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=".tmp")
            staged.append(Path(tmp))
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            try:
                mode = stat.S_IMODE(os.stat(t.path).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.chmod(tmp, mode)
        with _signals_held(Path(target.given or target.path)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sidecar.path)
            os.replace(staged[0], target.path)
            os.replace(staged[1], sidecar.path)
    except OSError as exc:
        raise InputError(f"cannot write {target.given or target.path} ({exc.strerror}): check the disk and the path") from None
    finally:
        for tmp in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_folder(path: Path | str, files: dict[str, bytes], option: str = "--out") -> Path:
    """Write ``files`` (name -> bytes) as a report folder, following the module rules: all or
    nothing.

    A new folder is built beside its place and renamed in.  In a folder this tool wrote before,
    every new file is first written as a temporary file beside its place; then, with Ctrl-C and
    SIGTERM held back, the temporary files are renamed over their places, files of the previous
    report that the new one lacks are removed and the manifest is replaced.  Every other file is
    kept.  An interrupt before that commit leaves the previous report as it was.
    """
    folder = check_folder(path, option, names=files)
    clean_stale(folder.parent)
    names = sorted(files)
    manifest = json.dumps({"files": names, "tool": "screening"}, indent=1).encode()
    if not folder.exists():
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{TMP_PREFIX}{os.getpid()}-"))
        try:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            (tmp / MANIFEST).write_bytes(manifest)
            os.chmod(tmp, 0o777 & ~_umask())
            for q in tmp.iterdir():
                os.chmod(q, 0o666 & ~_umask())
            os.rename(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return folder
    clean_stale(folder)
    old = _manifest(folder) or []
    staged: dict[str, Path] = {}
    mine = f"{TMP_PREFIX}{os.getpid()}-"
    try:
        for name, data in [*files.items(), (MANIFEST, manifest)]:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=mine, suffix=".tmp")
            staged[name] = Path(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            try:
                mode = stat.S_IMODE(os.stat(folder / name).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.chmod(tmp, mode)
        with _signals_held(folder):
            for name in names:
                os.replace(staged[name], folder / name)
                del staged[name]
            for name in set(old) - set(files):
                if "/" not in name and name != MANIFEST:
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        (folder / name).unlink()
            os.replace(staged[MANIFEST], folder / MANIFEST)
            del staged[MANIFEST]
    except OSError as exc:
        raise InputError(f"cannot write the report in {path} ({exc.strerror}): check the disk and the path") from None
    finally:  # this writer's temporary files, also one an interrupt left between mkstemp and the bookkeeping
        for tmp in [*staged.values(), *folder.glob(mine + "*.tmp")]:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return folder
