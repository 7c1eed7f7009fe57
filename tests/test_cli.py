"""The command line, in-process: output contract, every row out, provenance, bad input (one line,
exit 2, nothing written), outputs that keep what a path is."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from screening import __version__, api
from screening.outputs import write_folder

pytestmark = pytest.mark.data


def _listing(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# --------------------------------------------------------------------------- conventions
def test_version_and_help(cli):
    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"screening {__version__}"
    r = cli("-h")
    assert r.code == 0 and "Usage: screening" in r.out and "lithiate" in r.out
    for cmd in ("screen", "window", "react", "interphase", "lithiate", "explain", "demo", "data"):
        h = cli(cmd, "--help")
        assert h.code == 0 and "<bool>" not in h.out and "Usage:" in h.out


def test_json_shapes(cli):
    windows = json.loads(cli("window", "LiI", "Li7La3Zr2O12", "--json").out)
    assert isinstance(windows, list) and [w["formula"] for w in windows] == ["LiI", "Li7La3Zr2O12"]
    assert windows[1]["material_id"] == "mp-942733" and isinstance(windows[1]["warnings"], list)
    rx = json.loads(cli("react", "Li7La3Zr2O12", "Li", "--json").out)
    assert isinstance(rx, dict) and rx["products"] == ["La2O3", "Li2O", "Zr4O"] and rx["energy_basis"] == "eV per atom of mixture"
    ips = json.loads(cli("interphase", "I2", "ZnO", "--json").out)
    assert [i["precursor"] for i in ips] == ["I2", "ZnO"] and ips[0]["electronic_character"] == "insulating"
    paths = json.loads(cli("lithiate", "Al2O3", "--json").out)
    assert paths[0]["precursor"] == "Al2O3" and paths[0]["stages"][0]["products"] == ["Al", "LiAl5O8"]
    phases = json.loads(cli("phase", "LiI", "LiI:mp-22899", "--json").out)
    assert [p["phase_id"] for p in phases] == ["mp-570935", "mp-22899"]
    info = json.loads(cli("data", "info", "--json").out)
    assert info["n_phases"] == info["n_hull_phases"] + info["n_metastable_phases"]
    rows = json.loads(cli("screen", "I2", "LiF", "--json").out)
    assert isinstance(rows, list) and {r["candidate"] for r in rows} == {"I2", "LiF"}
    assert isinstance(rows[0]["warnings"], list)


def test_status_lines_on_stderr(cli, tmp_path):
    r = cli("screen", "I2", "LiF", "--format", "csv", "--out", tmp_path / "r.csv")
    assert r.code == 0 and r.out == "" and "2 rows written" in r.err


# --------------------------------------------------------------------------- every row out
def test_every_row_comes_out(cli):
    r = cli("screen", "LiI", "Li5O3", "Li3N", "--json")
    rows = json.loads(r.out)
    assert [r["candidate"] for r in rows if r["error"]] == ["Li5O3"]
    assert len(rows) == 3 and "not in the phase store" in rows[-1]["error"] and rows[-1]["rank"] is None
    assert "1 of 3 candidates could not be evaluated" in r.err and "(Li5O3)" in r.err
    table = cli("screen", "LiI", "Li5O3", "Li3N")  # the terminal table shows the error too
    assert table.code == 0 and "error" in table.out and "Li5O3 is not" in table.out  # (wrapped in its cell)


def test_csv_columns_do_not_depend_on_the_first_row(cli):
    a = cli("screen", "Li5O3", "LiI", "--format", "csv").out.splitlines()[0]
    b = cli("screen", "LiI", "Li5O3", "--format", "csv").out.splitlines()[0]
    c = cli("screen", "Li5O3", "Li9O", "--format", "csv").out.splitlines()[0]  # every candidate fails
    assert a == b == c and a.startswith("rank,rank_label,rank_low,rank_high,candidate,")


def test_parquet_types_do_not_depend_on_failures(cli, tmp_path):
    import pyarrow.parquet as pq

    cli("screen", "Li5O3", "Li9O", "--format", "parquet", "--out", tmp_path / "bad.parquet")  # every candidate fails
    cli("screen", "LiI", "Li5O3", "--format", "parquet", "--out", tmp_path / "mixed.parquet")
    bad, mixed = pq.read_schema(tmp_path / "bad.parquet"), pq.read_schema(tmp_path / "mixed.parquet")
    assert [str(bad.field(c).type) for c in ("li_within_dft_error", "warnings")] == ["bool", "list<element: string>"]
    assert bad.names == mixed.names and all(bad.field(n).type == mixed.field(n).type for n in ("li_within_dft_error",
                                                                                                 "warnings", "warning_kinds"))


def test_error_rows_in_every_format(cli, tmp_path):
    md = cli("screen", "LiI", "Li5O3", "--format", "md").out
    assert "Li5O3 is not in the phase store" in md
    r = cli("screen", "LiI", "Li5O3", "ZnO", "--max-e-hull", "0.05", "--json")
    assert {x["candidate"] for x in json.loads(r.out)} == {"LiI", "ZnO"} and "1 of 3 rows removed" in r.err


def test_out_to_own_stdout(cli, tmp_path):
    r = cli("screen", "LiI", "--format", "csv", "--out", "/dev/stdout")
    assert r.code == 0


def test_filters_say_what_they_removed(cli):
    r = cli("screen", "LiI", "Li5O3", "ZnO", "LiF", "--insulating-only", "--json")
    rows = json.loads(r.out)
    assert {x["candidate"] for x in rows} == {"LiI", "LiF"}
    assert "2 of 4 rows removed by the filters" in r.err


def test_candidate_csv_rows(cli, tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("formula,kind\nLiI,interlayer\nLi5O3,interlayer\nI2,\n")
    rows = json.loads(cli("screen", "--candidates", p, "--json").out)
    assert [r["candidate"] for r in sorted(rows, key=lambda r: r["candidate"])] == ["I2", "Li5O3", "LiI"]
    assert {r["candidate"]: r["kind"] for r in rows}["I2"] == "precursor"  # guessed


@pytest.mark.parametrize("body,word", [
    ("formula,kind\n", "has no candidates"),
    ("formula,kind\nLiI,interlayer\nLi2O-,interlayer\n", "row 3: malformed formula 'Li2O-'"),
    ("formula,kind\nLiI,cathode\n", "row 2: kind 'cathode'"),
    ("name,kind\nLiI,interlayer\n", "no 'formula' column"),
    ("formula\nLi1e400O\n", "exponents are not allowed"),
])
def test_bad_candidate_files(cli, tmp_path, body, word):
    p = tmp_path / "c.csv"
    p.write_text(body)
    r = cli("screen", "--candidates", p)
    assert r.code == 2 and word in r.err and len(r.err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- outputs
def test_formats_and_provenance(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    for fmt in ("csv", "json", "md", "parquet"):
        out = tmp_path / f"r.{fmt}"
        assert cli("screen", "I2", "LiF", "ZnO", "--format", fmt, "--out", out).code == 0
    prov = json.loads((tmp_path / "r.csv.provenance.json").read_text())
    assert prov["version"] == __version__ and prov["date"] == "2023-11-14T22:13:20+00:00"
    assert prov["parameters"]["tolerance_eV_per_atom"] == 0.02 and "CC BY 4.0" in prov["attribution"]
    assert prov["command"].startswith("screening screen I2 LiF ZnO --format csv")
    assert len(pd.read_csv(tmp_path / "r.csv")) == 3
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["provenance"]["version"] == __version__ and len(doc["records"]) == 3
    import pyarrow.parquet as pq

    meta = pq.read_table(tmp_path / "r.parquet").schema.metadata
    assert json.loads(meta[b"screening_provenance"])["attribution"].startswith("MP data: CC BY 4.0")
    assert "MP data: CC BY 4.0" in (tmp_path / "r.md").read_text()


def test_outputs_are_byte_identical(cli, tmp_path, monkeypatch):
    """The same command twice (same output paths: the command is part of the provenance)."""
    import shutil

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    saved = {}
    for k in (1, 2):
        assert cli("screen", "I2", "LiF", "ZnO", "Al2O3", "--format", "html", "--out", tmp_path / "rep").code == 0
        for fmt in ("csv", "json", "parquet"):
            assert cli("screen", "I2", "LiF", "--format", fmt, "--out", tmp_path / f"r.{fmt}").code == 0
        if k == 1:
            shutil.copytree(tmp_path / "rep", tmp_path / "first")
            saved = {fmt: (tmp_path / f"r.{fmt}").read_bytes() for fmt in ("csv", "json", "parquet")}
    for name in sorted(os.listdir(tmp_path / "first")):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "rep" / name).read_bytes(), name
    for fmt, data in saved.items():
        assert (tmp_path / f"r.{fmt}").read_bytes() == data, fmt


def test_report_states_the_parameters_used(cli, tmp_path):
    r = cli("screen", "I2", "LiF", "--format", "html", "--out", tmp_path / "rep", "--tolerance", "0.05", "--gap", "0.5")
    assert r.code == 0
    page = (tmp_path / "rep" / "report.html").read_text()
    md = (tmp_path / "rep" / "report.md").read_text()
    for text in (page, md):
        assert "50 meV/atom" in text and "0.5 eV" in text and "20 meV/atom" not in text
    assert '<meta name="viewport"' in page and "Plotly.newPlot" in page and 'src="http' not in page


def test_report_rerun_keeps_user_files(cli, tmp_path):
    folder = tmp_path / "rep"
    assert cli("screen", "I2", "LiF", "--format", "html", "--out", folder).code == 0
    (folder / "notes.txt").write_text("mine")
    (folder / "figs").mkdir()
    assert cli("screen", "I2", "ZnO", "--format", "html", "--out", folder).code == 0
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "figs").is_dir()
    assert "ZnO" in (folder / "report.html").read_text()


def test_out_symlink_is_written_through(cli, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert cli("screen", "LiF", "--format", "csv", "--out", link).code == 0
    assert link.is_symlink() and target.read_text().startswith("rank,")


def test_out_device_is_streamed(cli):
    r = cli("screen", "LiF", "--format", "csv", "--out", "/dev/null")
    assert r.code == 0 and os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.parametrize("args,word", [
    (("screen", "LiF", "--format", "csv", "--out", "{tmp}"), "is a folder"),
    (("screen", "LiF", "--format", "csv", "--out", "{tmp}/missing/r.csv"), "does not exist"),
    (("screen", "LiF", "--format", "csv", "--out", "/sys/r.csv"), "belong to the kernel"),
    (("screen", "LiF", "--format", "csv", "--out", "/proc/self/comm"), "belong to the kernel"),
    (("screen", "LiF", "--format", "csv", "--out", "/dev/r.csv"), "not made under /dev, /proc or /sys"),
    (("screen", "LiF", "--format", "csv", "--out", "{tmp}/" + "a" * 300 + ".csv"), "at most 255"),
    (("screen", "LiF", "--format", "html", "--out", "{tmp}/rep"), "ranking.csv is a folder where the report writes"),
    (("screen", "LiF", "--format", "html", "--out", "{tmp}/rep2"), "reaction_1_LiF.png has the name of a report file"),
    (("screen", "LiF", "--format", "csv", "--out", "{tmp}/loop.csv"), "symbolic links"),
    (("window", "LiI", "--plot", "/dev/stdout.png"), "no such device"),
    (("screen", "LiF", "--format", "html", "--out", "{tmp}/file.txt"), "is a file"),
    (("window", "LiI", "--plot", "{tmp}/w.txt"), ".png, .svg or .pdf"),
    (("window", "LiI", "--plot", "{tmp}/missing/w.png"), "does not exist"),
    (("demo", "--out", "{tmp}/file.txt"), "is a file"),
])
def test_bad_output_paths_fail_before_any_work(cli, tmp_path, monkeypatch, args, word):
    (tmp_path / "file.txt").write_text("keep")
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    for name, clash in (("rep", "ranking.csv"), ("rep2", "reaction_1_LiF.png")):  # earlier reports, then the user's
        write_folder(tmp_path / name, {"report.html": b"earlier"})
        (tmp_path / name / clash).mkdir() if clash.endswith(".csv") else (tmp_path / name / clash).write_text("mine")

    def never(*a, **k):
        raise AssertionError("computed before checking the output path")

    monkeypatch.setattr(api, "screen", never)
    before = _listing(tmp_path)
    r = cli(*[a.format(tmp=tmp_path) for a in args])
    assert r.code == 2 and word in r.err and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert _listing(tmp_path) == before and (tmp_path / "file.txt").read_text() == "keep"


# --------------------------------------------------------------------------- bad input
BAD = [
    (("window", "Xx2O"), "unknown element"),
    (("window", "Li0.000000001O"), "too small"),
    (("window", "LiO0.000000001"), "too small"),
    (("screen", "LiI", "--electrolyte", "O2"), "holds no Li"),
    (("react", "LiI", "Li", "--open-li", "1"), "leave --open-li out"),
    (("window", "Li1e400O"), "exponents are not allowed"),
    (("window", "LiO0"), "is zero"),
    (("window", "D2O"), "isotope"),
    (("window", "Li"), "reference electrode"),
    (("window", "LiI:mp-1"), "not in the store"),
    (("react", "LiI", "LiI"), "both LiI"),
    (("react", "LiI", "Li", "--open-li", "100"), "--open-li 100"),
    (("react", "LiI", "Li", "--open-li", "nan"), "--open-li"),
    (("react", "LiI", "Li", "--tolerance", "-1"), "--tolerance"),
    (("interphase", "I2", "--electrolyte", "Li"), "Li metal is the anode"),
    (("interphase", "I2", "--gap", "inf"), "--gap"),
    (("lithiate", "Li"), "anode itself"),
    (("screen", "--format", "xml"), "--format xml"),
    (("screen", "--electrolyte", "Li7La3Zr2O13"), "not in the phase store"),
    (("screen", "--electrolyte", "Li"), "Li metal is the anode"),
    (("screen", "--anode", "Na"), "only Li metal"),
    (("screen", "--weights", "li=abc"), "not a number"),
    (("screen", "--weights", "li=1,li=2"), "given twice"),
    (("screen", "--weights", "li=1e308,electrolyte=1e308,insulation=1e308"), "--weights li=1e+308"),
    (("screen", "--candidates", "nope.csv"), "not found"),
    (("screen", "LiI", "--candidates", "nope.csv"), "only one of them"),
    (("screen", "--format", "html"), "give --out FOLDER"),
    (("screen", "--top", "-1"), "--top -1"),
    (("screen", "--stage", "half"), "--stage 'half'"),
    (("screen", "--max-e-hull", "100"), "--max-e-hull"),
    (("screen", "LiI", "--json", "--format", "csv"), "disagree"),
    (("screen", "LiI", "--workers", "1000"), "--workers 1000"),
    (("screen", "LiI", "--scheduler", "garbage"), "not a Dask address"),
    (("screen", "LiI", "--scheduler", ""), "not a Dask address"),
    (("--phases", "nope.csv", "window", "LiI"), "--phases nope.csv not found"),
    (("--shared", "nope", "window", "LiI"), "--shared nope is not a folder"),
    (("explain", "Xx"), "unknown element"),
    (("phase", "LiI:"), "give a phase id after the colon"),
    (("fetch", "--chemsys", "Li-Qq"), "unknown element"),
    (("phase", "Li5O3", "--polymorphs"), "Li5O3 is not in the phase store"),
    (("--phases", "{tmp}", "window", "LiI"), "is a folder"),
    (("--exclude-artefacts", "window", "LiMg149"), "left out as a dilute-supercell artefact"),
    (("window", "Li\x1b[2JO"), "'Li\\x1b[2JO'"),
]


@pytest.mark.parametrize("args,word", BAD)
def test_bad_input_one_line_exit_2(cli, tmp_path, args, word):
    before = _listing(tmp_path)
    r = cli(*[a.format(tmp=tmp_path) for a in args])
    assert r.code == 2, (r.out, r.err)
    assert word in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("body,word", [
    ("formula,energy_eV\nLi3I,inf\n", "out of range"),
    ("formula,energy_eV\nLi3I,-1e6\n", "out of range"),
    ("formula,energy_eV,band_gap_eV\nLi3I,-6,-1\n", "band_gap_eV"),
    ("formula,energy_eV,density_g_cm3\nLi3I,-6,0\n", "density_g_cm3"),
    ("formula,energy_eV\nLi3I,abc\n", "not a number"),
    ("formula,energy_eV\n", "has no rows"),
    ("formula,name,energy_eV\nLi3I,a,-6\nLi3I,a,-6\n", "appears twice"),
])
def test_bad_user_phases(cli, tmp_path, body, word):
    p = tmp_path / "p.csv"
    p.write_text(body)
    r = cli("--phases", p, "window", "LiI")
    assert r.code == 2 and word in r.err and len(r.err.strip().splitlines()) == 1


def test_environment_checked_before_any_work(cli, monkeypatch, capsys):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    r = cli("window", "LiI")
    assert r.code == 2 and "SOURCE_DATE_EPOCH='yesterday' is not a date" in r.err and r.out == ""
    assert cli("--version").code == 0
    from screening import cli as cli_mod

    monkeypatch.setattr(sys, "stdout", None)  # started with stdout closed (>&-)
    assert cli_mod.main(["window", "LiI"]) == 2
    assert capsys.readouterr().err.strip() == "error: standard output is closed: redirect it to a file (> out.txt) or to /dev/null"


def test_full_disk_on_stdout_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "screening", "window", "LiI", "--json"], stdout=open("/dev/full", "w"),
                       stderr=subprocess.PIPE, text=True, env={**os.environ, "SCREENING_CACHE": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: cannot read or write standard output (No space left on device): check the path, the disk and the permissions"]


def test_user_phases_are_used(cli, tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("formula,name,e_above_hull_eV_per_atom,band_gap_eV,density_g_cm3\nLi3OI,hypo,-0.05,4,3.7\n")
    w = json.loads(cli("--phases", p, "window", "user:hypo", "--json").out)[0]
    assert w["material_id"] == "user:hypo" and w["e_above_hull_eV_per_atom"] == 0.0


def test_interrupt_exits_130_and_writes_nothing(store, tmp_path, monkeypatch, capsys):
    from screening import cli as cli_mod

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "screen", interrupted)
    out = tmp_path / "r.csv"
    assert cli_mod.main(["screen", "LiI", "--format", "csv", "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted; nothing was written"
    assert list(tmp_path.iterdir()) == []


def test_interrupt_after_a_complete_output_says_so(store, tmp_path, monkeypatch, capsys):
    """A SIGTERM held back until a report folder was complete: exit 143, and the line says what was written."""
    import signal

    from screening import cli as cli_mod
    from screening import report
    from screening.outputs import InterruptedAfterCommit

    def committed_then_terminated(df, folder, *a, **k):
        raise InterruptedAfterCommit(signal.SIGTERM, folder)

    monkeypatch.setattr(report, "write_report", committed_then_terminated)
    assert cli_mod.main(["screen", "LiI", "--format", "html", "--out", str(tmp_path / "rep")]) == 143
    assert capsys.readouterr().err.strip() == (f"error: terminated after {tmp_path / 'rep'} was written in full; "
                                               "nothing else was written")


def test_explain(cli):
    r = cli("explain", "LiF", "--json")
    doc = json.loads(r.out)
    text = "\n".join(doc["explanation"])
    assert r.code == 0 and "s_insulation" in text and "score =" in text and doc["row"]["candidate"] == "LiF"
    plain = cli("explain", "LiF").out
    assert plain.startswith("LiF (interlayer") and "rank" in plain
