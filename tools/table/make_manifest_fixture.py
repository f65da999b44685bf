#!/usr/bin/env python3
"""Write fixtures/table/manifest_pyarrow.parquet: a manifest as pandas/pyarrow users write it
(Snappy-compressed, int64 ids, int32 labels with a null, one absolute and one file:// path), read by
vladapt-table's manifest tests. Deterministic: fixed rows, no timestamps in Parquet metadata."""
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

out = Path(__file__).resolve().parents[2] / "fixtures/table/manifest_pyarrow.parquet"
out.parent.mkdir(parents=True, exist_ok=True)
table = pa.table(
    {
        "image": pa.array(["a/0.png", "/data/b/1.jpg", "file:///srv/c/2.webp"], pa.string()),
        "id": pa.array([10, 11, 12], pa.int64()),
        "label": pa.array([0, None, 2], pa.int32()),
    }
)
pq.write_table(table, out, compression="snappy")
print(out)
