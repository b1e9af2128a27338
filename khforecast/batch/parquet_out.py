"""Results of a large run as partitioned Parquet, written as they stream in, committed at the end.

``forecasts/``, ``assessment/`` and ``paths_sample/`` each hold one file per partition
(``province=<code>/part-0.parquet``, Hive style, so ``pandas.read_parquet(folder)`` or any
Arrow engine reads the whole table back). A partition is written once its last row has
arrived (units arrive in place order), so memory holds one partition's small tables, never the
run. Everything is written under a hidden temporary folder that is renamed into place only
when the run finished: a failed run leaves nothing half-written. Files carry the run's labels
in their schema metadata (``khforecast`` key), e.g. that commune data are illustrative, and are
byte-identical for identical inputs (fixed writer options, no timestamps).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from khforecast.errors import KhforecastError

__all__ = ["TABLES", "StreamingParquetSink"]

#: the tables a streaming run writes, one folder each
TABLES: tuple[str, ...] = ("forecasts", "assessment", "paths_sample")
_WRITE = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
          "write_statistics": True, "row_group_size": 1 << 20}


class StreamingParquetSink:
    """Receives unit results in place order and writes each partition when it is complete.

    Parameters
    ----------
    out_dir
        The folder that will hold ``forecasts/``, ``assessment/`` and ``paths_sample/``.
    partition_of
        Place code -> partition key (e.g. a commune's province).
    labels
        JSON-able metadata stored in every file (``illustrative``, ``seed``, a note, ...).
    partition_name
        The partition column's name in the folder names (``province``).
    """

    def __init__(self, out_dir: str | os.PathLike[str], partition_of: Callable[[str], str],
                 labels: Mapping[str, Any], partition_name: str = "province") -> None:
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=".stream-", dir=self.out))
        self.partition_of = partition_of
        self.partition_name = partition_name
        self.meta = {b"khforecast": json.dumps(dict(labels), sort_keys=True, ensure_ascii=False).encode()}
        self._key: str | None = None
        self._buf: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
        self._done: set[str] = set()
        self.rows = {t: 0 for t in TABLES}

    def add(self, result: Any) -> None:
        """Take one unit's result (``forecasts``, ``assessment``, ``sample`` frames)."""
        keys = {self.partition_of(p) for p in result.places}
        if len(keys) != 1:
            raise KhforecastError(f"a unit spans partitions {sorted(keys)}: units must not cross "
                                  f"a {self.partition_name}")
        key = keys.pop()
        if key != self._key:
            self._flush()
            if key in self._done:
                raise KhforecastError(f"{self.partition_name} {key!r} arrived twice: units must "
                                      "come in partition order")
            self._key = key
        for table, frame in zip(TABLES, (result.forecasts, result.assessment, result.sample)):
            if len(frame):
                self._buf[table].append(frame)

    def _flush(self) -> None:
        """Write the current partition's tables (an empty table is not written)."""
        import pyarrow as pa  # heavy, needed only by large runs
        import pyarrow.parquet as pq

        if self._key is None:
            return
        for table, frames in self._buf.items():
            if not frames:
                continue
            frame = pd.concat(frames, ignore_index=True)
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **self.meta})
            folder = self.tmp / table / f"{self.partition_name}={self._key}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(arrow, folder / "part-0.parquet", **_WRITE)
            self.rows[table] += len(frame)
        self._done.add(self._key)
        self._buf = {t: [] for t in TABLES}
        self._key = None

    def commit(self) -> None:
        """Write the last partition and move the tables into place (replacing older ones)."""
        self._flush()
        for table in TABLES:
            src, dst = self.tmp / table, self.out / table
            if not src.exists():
                src.mkdir()
            if dst.exists():
                old = self.out / f".old-{table}-{os.getpid()}"
                dst.rename(old)
                src.rename(dst)
                shutil.rmtree(old)
            else:
                src.rename(dst)
        shutil.rmtree(self.tmp)

    def abort(self) -> None:
        """Drop everything written so far (the run failed)."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.tmp)
