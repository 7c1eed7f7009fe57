"""Report folders: one self-contained interactive page, Markdown, CSV/JSON, PNGs, provenance."""

import json

import pytest

from screening import api
from screening import provenance, report
from screening.errors import InputError
from screening.settings import Settings

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def screened(store):
    return api.screen(store, ["I2", "LiF", "ZnO", "Al2O3", "Li3N", "Li5O3"])


@pytest.fixture(scope="module")
def figures(store, screened):
    return api.report_inputs(store, screened, Settings())


@pytest.fixture(scope="module")
def seed(store):
    return report.seed_case_text(api.seed_case(store))


def test_seed_case_text_has_the_balanced_reaction(seed):
    assert "I2 + 2 Li -> 2 LiI: -1.422 eV/atom" in seed and "V(2 LiI)/V(I2) = 1.277" in seed
    assert "Li7La3Zr2O12 | Li: -0.0104 eV/atom  [within DFT error]" in seed


def test_report_folder_is_complete_and_self_contained(store, screened, figures, seed, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    s = Settings()
    folder = report.write_report(screened, tmp_path / "rep", s, provenance.record(s, "screening test", store), figures, seed)
    names = {p.name for p in folder.iterdir()}
    assert {"report.md", "report.html", "ranking.csv", "ranking.csv.provenance.json", "ranking.json", "ranking.png",
            "windows.png", ".screening-report.json"} <= names
    assert any(n.startswith("reaction_1_") for n in names)
    page = (folder / "report.html").read_text()
    assert 'src="http' not in page and "<script>" in page and page.count('class="plotly-graph-div"') >= 4
    assert 'id="fig-ranking"' in page and 'id="filter"' in page and "aria-sort" in page
    assert "1970-01-01T00:00:00+00:00" in page and "MP data: CC BY 4.0" in page and "command: screening test" in page
    assert "I2 + 2 Li -&gt; 2 LiI" in page  # the seed case readable as text
    assert "Li5O3: Li5O3 is not in the phase store" in page  # failed rows listed, not dropped
    doc = json.loads((folder / "ranking.json").read_text())
    assert len(doc["records"]) == len(screened) and doc["provenance"]["parameters"]["gap_threshold_eV"] == 1.0
    md = (folder / "report.md").read_text()
    assert "| rank | rank low | rank high | candidate |" in md and "![ranking.png](ranking.png)" in md


def test_failed_report_writes_nothing(store, screened, figures, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "html_report", boom)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(screened, tmp_path / "rep", Settings(), provenance.record(Settings(), "t", store), figures)
    assert list(tmp_path.iterdir()) == []


def test_foreign_folder_refused(store, screened, figures, tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="not a screening report"):
        report.write_report(screened, mine, Settings(), provenance.record(Settings(), "t", store), figures)
    assert (mine / "thesis.tex").read_text() == "precious"
