#!/usr/bin/env python3
"""Independent check of an `vladapt embed-dataset` output folder with pyarrow, pandas, polars and
DuckDB (none of which share code with the Rust writer).

    python tools/table/check_parquet.py OUT [--fp16]

Checks: the schema (row uint64, id/path string, label int64, embedding fixed_size_list<float32|
float16>[D]); every reader sees the same rows; ids unique; rows strictly increasing; embeddings
L2-normalised; embeddings.npy (when present) equals the Parquet column; errors.jsonl rows are
exactly the rows missing from the table. Prints one JSON line; exits 1 on the first failure.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    out = Path(sys.argv[1])
    table_path = out / "embeddings.parquet"
    plan = json.loads((out / "plan.json").read_text())
    t = pq.read_table(table_path)
    sch = t.schema
    want = {"row": pa.uint64(), "id": pa.string(), "path": pa.string(), "label": pa.int64()}
    for name, ty in want.items():
        if sch.field(name).type != ty:
            fail(f"column {name} is {sch.field(name).type}, expected {ty}")
    et = sch.field("embedding").type
    if not pa.types.is_fixed_size_list(et):
        fail(f"embedding is {et}, expected fixed_size_list")
    dim = et.list_size
    if et.value_type not in (pa.float32(), pa.float16()):
        fail(f"embedding values are {et.value_type}")
    meta = json.loads(sch.metadata[b"vladapt"])
    if meta["dim"] != dim:
        fail(f"metadata dim {meta['dim']} != {dim}")

    emb = t.column("embedding").combine_chunks()
    arr = emb.values.to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float64)
    rows = t.column("row").to_numpy()
    ids = t.column("id").to_pylist()
    if len(set(ids)) != len(ids):
        fail("duplicate ids")
    if np.any(np.diff(rows.astype(np.int64)) <= 0):
        fail("rows are not strictly increasing")
    norms = np.linalg.norm(arr, axis=1)
    tol = 2e-3 if et.value_type == pa.float16() else 1e-5
    if len(norms) and np.max(np.abs(norms - 1)) > tol:
        fail(f"embedding norms off by {np.max(np.abs(norms - 1))}")

    errors = [json.loads(l) for l in (out / "errors.jsonl").read_text().splitlines() if l.strip()]
    err_rows = {e["row"] for e in errors}
    if set(rows.tolist()) & err_rows:
        fail("a row is both embedded and failed")
    if len(rows) + len(errors) != plan["total"] or set(rows.tolist()) | err_rows != set(range(plan["total"])):
        fail("rows + errors do not cover the input exactly once")

    # pandas: one numpy array per cell.
    import pandas as pd

    df = pd.read_parquet(table_path)
    if len(df) != len(rows) or not np.allclose(np.stack(df["embedding"].to_list()), arr):
        fail("pandas sees other values")
    # polars: Array(Float32, D) column.
    import polars as pl

    pf = pl.read_parquet(table_path)
    if pf.height != len(rows) or not np.allclose(pf["embedding"].to_numpy().astype(np.float64), arr):
        fail("polars sees other values")
    # DuckDB: FLOAT[D] arrays, SQL over the file as is.
    import duckdb

    con = duckdb.connect()
    n, nd, d = con.execute(
        f"SELECT count(*), count(DISTINCT id), max(len(embedding)) FROM read_parquet('{table_path}')"
    ).fetchone()
    if (n, nd) != (len(rows), len(rows)) or (n and d != dim):
        fail(f"duckdb: {n} rows, {nd} distinct ids, width {d}")
    if n:
        first = con.execute(
            f"SELECT embedding FROM read_parquet('{table_path}') ORDER BY row LIMIT 1"
        ).fetchone()[0]
        if not np.allclose(np.asarray(first, dtype=np.float64), arr[0]):
            fail("duckdb sees other values")

    npy = out / "embeddings.npy"
    if npy.exists():
        a = np.load(npy)
        if a.shape != (len(rows), dim) or not np.array_equal(a.astype(np.float64), arr):
            fail(f"embeddings.npy {a.shape} differs from the table")
    print(json.dumps({
        "ok": True, "rows": int(len(rows)), "errors": len(errors), "dim": dim,
        "dtype": str(et.value_type), "pyarrow": pa.__version__, "pandas": pd.__version__,
        "polars": pl.__version__, "duckdb": duckdb.__version__, "npy": npy.exists(),
    }))


if __name__ == "__main__":
    main()
