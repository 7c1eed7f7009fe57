"""Screen tables as files and text: JSON records, CSV (+ provenance sidecar), Markdown, parquet.

Every writer goes through ``screening.outputs`` (atomic, symlink/device aware).  What ``--json``
prints on stdout is a flat array of records; a JSON file written with ``--out`` wraps the same
records with their provenance: ``{"provenance": {...}, "records": [...]}``.  A CSV file gets a
sidecar ``<file>.provenance.json``; parquet files carry the provenance in their metadata;
Markdown files start with it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from screening import provenance as prov_mod
from screening.errors import InputError
from screening.outputs import Target, atomic_write, check_file, write_with_sidecar
from screening.ranking.schema import COLUMNS, TABLE_COLUMNS, header

FORMATS = ("table", "csv", "json", "md", "html", "parquet")
#: parquet type of each column kind of the schema (kept when every row failed and a column is all null)
ARROW_TYPES = {"text": pa.string(), "number": pa.float64(), "integer": pa.int64(), "bool": pa.bool_(),
               "list": pa.list_(pa.string())}
SIDECAR = ".provenance.json"


def plain_value(v):
    if isinstance(v, (list, tuple, np.ndarray)):
        return [plain_value(x) for x in v]
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """Flat JSON-ready records (NaN -> null, lists stay lists, nothing rounded)."""
    cols = list(df.columns)
    return [{c: plain_value(v) for c, v in zip(cols, row, strict=True)} for row in df.itertuples(index=False)]


def flat_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Lists joined by '; ' (for CSV and text)."""
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            out[c] = out[c].map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    return out


def fmt(v) -> str:
    """Table text: '-' for missing values, 3 significant digits."""
    if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "; ".join(map(str, v)) or "-"
    if isinstance(v, (float, np.floating)):
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"
    return str(v)


def cell(column: str, v) -> str:
    """Cell text; a missing oxidation limit means there is no Li to take out, not missing data."""
    if column == "oxidation_limit_V" and (v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v))):
        return "no Li"
    return fmt(v)


def markdown_table(df: pd.DataFrame, columns=TABLE_COLUMNS) -> str:
    cols = [c for c in columns if c in df.columns]
    head = [header(c) for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        lines.append("| " + " | ".join(cell(c, r[c]).replace("|", "/").replace("\n", " ") for c in cols) + " |")
    return "\n".join(lines)


def write_file(df: pd.DataFrame, path, fmt_: str, provenance: dict) -> Target:
    """Write one table file (csv/json/md/parquet) atomically, with its provenance: inside the file
    (JSON, Markdown, parquet metadata) or, for CSV, in a sidecar ``<file>.provenance.json`` that
    records the CSV's SHA-256 and is committed with it as one unit
    (``screening.outputs.write_with_sidecar``)."""
    target = path if isinstance(path, Target) else check_file(path)
    if fmt_ not in ("csv", "json", "md", "parquet"):
        raise InputError(f"cannot write format {fmt_} to a single file: use csv, json, md or parquet")
    if fmt_ == "csv":
        data = flat_frame(df).to_csv(index=False).encode()
        side = {**provenance, "file": Path(target.given).name, "sha256": hashlib.sha256(data).hexdigest()}
        sidecar = None if target.stream else check_file(str(target.path) + SIDECAR, "--out (provenance sidecar)")
        write_with_sidecar(target, data, sidecar, (json.dumps(side, indent=1) + "\n").encode())
        return target
    with atomic_write(target) as tmp:
        if fmt_ == "json":
            tmp.write_text(json.dumps({"provenance": provenance, "records": records(df)}, indent=1) + "\n")
        elif fmt_ == "md":
            head = "\n".join(f"<!-- {line} -->" for line in prov_mod.text_lines(provenance))
            tmp.write_text(head + "\n\n" + markdown_table(df) + "\n")
        else:
            tmp.write_bytes(parquet_bytes(df, provenance))
    return target


def parquet_bytes(df: pd.DataFrame, provenance: dict) -> bytes:
    """The table as parquet with the provenance in its metadata; columns keep their schema types
    even when every row failed (all null)."""
    import io

    tab = pa.Table.from_pandas(df, preserve_index=False)
    for i, f in enumerate(tab.schema):
        col = COLUMNS.get(f.name)
        want = ARROW_TYPES[col.kind] if col else None
        if want is not None and f.type != want:
            tab = tab.set_column(i, f.with_type(want), tab.column(i).cast(want))
    meta = {**(tab.schema.metadata or {}), b"screening_provenance": json.dumps(provenance).encode()}
    buf = io.BytesIO()
    pq.write_table(tab.replace_schema_metadata(meta), buf)
    return buf.getvalue()
