"""Write graph shards: validated Parquet files renamed into place, and a manifest kept in step with them.

A shard is a pair of files with the same samples, `tsg/part-NNNNN.parquet` and `dsg/part-NNNNN.parquet`. Both are
written under temporary names, validated, then renamed (TSG first, DSG last): a shard counts only when both final
files exist, so a run killed at any moment leaves complete shards and debris that the next run removes.
"""

import json
import os
import re
from collections import Counter
from datetime import datetime, UTC
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import dsg, manifest, tsg
from schemas.common import STATUS_ERROR, STATUS_OK

TABLES = {"tsg": tsg, "dsg": dsg}
PART = re.compile(r"^part-(\d{5,})\.parquet$")


def error_row_like(row: dict, message: str) -> dict:
    """`row` turned into an error row: graph columns emptied, the cause recorded."""
    keep = {"sample_id", "video_id", "split", "caption", "video_path", "start", "end", "frame_width", "frame_height"}
    out = {key: (value if key in keep else None) for key, value in row.items()}
    return out | {"status": STATUS_ERROR, "error_message": message}


def validated(table: pa.Table, name: str) -> pa.Table:
    """`table` if it validates; else each row that breaks the contract becomes an error row saying how."""
    module = TABLES[name]
    try:
        module.validate(table)
        return table
    except ValueError:
        pass
    rows = []
    for row in table.to_pylist():
        try:
            module.validate(pa.Table.from_pylist([row], schema=module.SCHEMA))
            rows.append(row)
        except ValueError as exc:
            rows.append(error_row_like(row, f"produced an invalid {name.upper()} row: {exc}"))
    fixed = pa.Table.from_pylist(rows, schema=module.SCHEMA)
    module.validate(fixed)
    return fixed


def write_atomically(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def complete_shards(out: Path) -> dict[str, tuple[Path, Path]]:
    """Shard name -> (tsg path, dsg path) for every shard whose two files exist."""
    found = {}
    for path in sorted((out / "dsg").glob("part-*.parquet")):
        if PART.match(path.name) and (out / "tsg" / path.name).is_file():
            found[path.stem] = (out / "tsg" / path.name, path)
    return found


def status_counts(table: pa.Table) -> dict:
    counts = Counter(table.column("status").to_pylist())
    return {STATUS_OK: counts.get(STATUS_OK, 0), STATUS_ERROR: counts.get(STATUS_ERROR, 0)}


def shard_record(name: str, tsg_table: pa.Table, dsg_table: pa.Table) -> dict:
    tsg_counts, dsg_counts = status_counts(tsg_table), status_counts(dsg_table)
    return {"shard": name, "tsg_path": f"tsg/{name}.parquet", "dsg_path": f"dsg/{name}.parquet",
            "num_rows": tsg_table.num_rows, "tsg_ok": tsg_counts[STATUS_OK], "tsg_error": tsg_counts[STATUS_ERROR],
            "dsg_ok": dsg_counts[STATUS_OK], "dsg_error": dsg_counts[STATUS_ERROR]}


class ShardWriter:
    """Collects joined TSG/DSG rows and writes bounded, validated shards plus the manifest.

    On construction it removes debris of a killed run (temporary files, half-written shards) and picks up the
    complete shards already there: `done_ids` are their sample ids, so a rerun skips them.
    """

    def __init__(self, out: str | Path, header: dict, max_rows: int = 512, max_bytes: int = 128 * 2**20):
        self.out, self.header = Path(out), header
        self.max_rows, self.max_bytes = max_rows, max_bytes
        for name in TABLES:
            (self.out / name).mkdir(parents=True, exist_ok=True)
        complete = complete_shards(self.out)
        for name in TABLES:
            for path in (self.out / name).iterdir():
                if path.stem not in complete:
                    path.unlink()
        self.records, self.done_ids = [], set()
        for shard, (tsg_path, dsg_path) in complete.items():
            tsg_table, dsg_table = pq.read_table(tsg_path), pq.read_table(dsg_path)
            self.records.append(shard_record(shard, tsg_table, dsg_table))
            self.done_ids.update(tsg_table.column("sample_id").to_pylist())
        self.next_index = 1 + max((int(PART.match(f"{s}.parquet").group(1)) for s in complete), default=-1)
        self.pending = {name: [] for name in TABLES}
        self.pending_rows = self.pending_bytes = 0
        self.write_manifest()

    def add(self, tsg_table: pa.Table, dsg_table: pa.Table) -> None:
        """Queue one batch (same sample ids, same order, in both tables); write shards when the bounds are hit."""
        self.pending["tsg"].append(tsg_table)
        self.pending["dsg"].append(dsg_table)
        self.pending_rows += tsg_table.num_rows
        self.pending_bytes += tsg_table.nbytes + dsg_table.nbytes
        if self.pending_rows >= self.max_rows or self.pending_bytes >= self.max_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.pending_rows:
            return
        tables = {name: pa.concat_tables(parts) for name, parts in self.pending.items()}
        self.pending = {name: [] for name in TABLES}
        self.pending_rows = self.pending_bytes = 0
        start = 0
        while start < tables["tsg"].num_rows:
            # Several small batches may overshoot the bound together; cut them into shards of max_rows.
            length = self.max_rows
            self.write_shard(tables["tsg"].slice(start, length), tables["dsg"].slice(start, length))
            start += length

    def write_shard(self, tsg_table: pa.Table, dsg_table: pa.Table) -> None:
        if tsg_table.column("sample_id").to_pylist() != dsg_table.column("sample_id").to_pylist():
            raise ValueError("ShardWriter.add: the TSG and DSG tables must hold the same sample ids in the same order.")
        tsg_table, dsg_table = validated(tsg_table, "tsg"), validated(dsg_table, "dsg")
        name = f"part-{self.next_index:05d}"
        write_atomically(tsg_table, self.out / "tsg" / f"{name}.parquet")
        write_atomically(dsg_table, self.out / "dsg" / f"{name}.parquet")
        self.next_index += 1
        self.records.append(shard_record(name, tsg_table, dsg_table))
        self.done_ids.update(tsg_table.column("sample_id").to_pylist())
        self.write_manifest()

    def write_manifest(self) -> dict:
        counts = {name: {STATUS_OK: sum(r[f"{name}_ok"] for r in self.records),
                         STATUS_ERROR: sum(r[f"{name}_error"] for r in self.records)} for name in TABLES}
        document = {
            "format": manifest.FORMAT,
            "schema_versions": {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION,
                                "manifest": manifest.SCHEMA_VERSION},
            **self.header,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "shards": sorted(self.records, key=lambda r: r["shard"]),
            "status_counts": counts,
        }
        manifest.validate(document)
        path = self.out / manifest.FILENAME
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(tmp, path)
        return document
