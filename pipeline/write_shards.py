"""Write graph shards from the workers: a Ray Data Datasink, per-shard records, and the manifest made from them.

Layout of an output folder (a local path or any pyarrow.fs URI: file://, s3://, gs://, ...):
  samples/part-NNNNN.parquet            the input, cut into shards once (SAMPLE_SCHEMA + shard, shard_rows)
  <stage>/<settings hash>/part-NNNNN.parquet          one stage output per shard (tsg or dsg)
  <stage>/<settings hash>/_records/part-NNNNN.json    its STAGE_RECORD, written after the shard is in place
  manifest.json                                        made by the driver from the records, at the end
Every file is written under a temporary dot-name and moved into place, so readers (and pyarrow's dataset discovery,
which skips dot- and underscore-names) see complete files only. A shard is named after its input file, so a task
that Ray retries replaces its shard instead of adding one, and a resumed run skips the shards that have records.
"""

import hashlib
import io
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, UTC
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_dataset
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
import ray
from ray.data import Datasink

from schemas import dsg, manifest, tsg
from schemas.common import SAMPLE_SCHEMA, STATUS_ERROR, STATUS_OK, error_cause

TABLES = {"tsg": tsg, "dsg": dsg}
SAMPLES = "samples"
RECORDS = "_records"
SHARD_COLUMNS = (pa.field("shard", pa.string(), nullable=False), pa.field("shard_rows", pa.int64(), nullable=False))
SHARD_SAMPLE_SCHEMA = pa.schema([*SAMPLE_SCHEMA, *SHARD_COLUMNS])


def filesystem(location: str) -> tuple[pa_fs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI that pyarrow.fs knows (file://, s3://, gs://, ...)."""
    if "://" not in location:
        return pa_fs.LocalFileSystem(), Path(location).expanduser().resolve().as_posix()
    try:
        return pa_fs.FileSystem.from_uri(location)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise ValueError(f"'{location}' is neither a local path nor a filesystem URI pyarrow knows ({exc}); pass a "
                         "folder such as /data/graphs, file:///data/graphs or s3://bucket/graphs.") from exc


def shard_name(index: int) -> str:
    return f"part-{index:05d}"


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


def temporary_path(path: str) -> str:
    """Where `path` is written before it is moved into place: a dot-name that readers and discovery skip."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}.tmp"


def write_bytes_atomically(fs: pa_fs.FileSystem, path: str, data: bytes) -> None:
    tmp = temporary_path(path)
    with fs.open_output_stream(tmp) as stream:
        stream.write(data)
    fs.move(tmp, path)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def write_samples(fs: pa_fs.FileSystem, root: str, rows: Iterable[dict], first_index: int,
                  rows_per_shard: int) -> int:
    """Cut `rows` into sample shards `samples/part-NNNNN.parquet` from `first_index` on; returns the shards made.

    Rows are taken as they come and each shard is written once full, so `rows` may be a generator over a dataset
    larger than memory. The shards stay under temporary names until `rows` is exhausted: a reader that raises
    half-way (a malformed line, a duplicate id) leaves no shard behind."""
    folder = f"{root}/{SAMPLES}"
    fs.create_dir(folder, recursive=True)
    for info in fs.get_file_info(pa_fs.FileSelector(folder)):
        if info.is_file and info.base_name.endswith(".tmp"):  # left by a run killed while cutting
            fs.delete_file(info.path)
    rows, written = iter(rows), []
    try:
        while chunk := list(itertools.islice(rows, rows_per_shard)):
            name = shard_name(first_index + len(written))
            table = pa.Table.from_pylist([row | {"shard": name, "shard_rows": len(chunk)} for row in chunk],
                                         schema=SHARD_SAMPLE_SCHEMA)
            path = f"{folder}/{name}.parquet"
            with fs.open_output_stream(temporary_path(path)) as stream:
                stream.write(parquet_bytes(table))
            written.append((temporary_path(path), path))
    except BaseException:
        for tmp, _ in written:
            fs.delete_file(tmp)
        raise
    for tmp, path in written:
        fs.move(tmp, path)
    return len(written)


def parquet_files(fs: pa_fs.FileSystem, folder: str) -> dict[str, str]:
    """Shard name -> path of every complete part-*.parquet directly in `folder` (none when it does not exist)."""
    infos = fs.get_file_info(pa_fs.FileSelector(folder, allow_not_found=True))
    return {info.base_name.removesuffix(".parquet"): info.path for info in infos
            if info.is_file and info.base_name.startswith("part-") and info.base_name.endswith(".parquet")}


def sample_shards(fs: pa_fs.FileSystem, root: str) -> dict[str, str]:
    return parquet_files(fs, f"{root}/{SAMPLES}")


def partitioned_ids(fs: pa_fs.FileSystem, root: str) -> set[str]:
    """Sample ids already cut into shards: the sample_id column alone is read."""
    paths = sorted(sample_shards(fs, root).values())
    if not paths:
        return set()
    table = pa_dataset.dataset(paths, filesystem=fs, format="parquet").to_table(columns=["sample_id"])
    return set(table.column("sample_id").to_pylist())


def read_records(fs: pa_fs.FileSystem, root: str, stage_dir: str) -> dict[str, dict]:
    """Shard name -> stage record for every shard of `stage_dir` with a record; debris of a killed run is removed."""
    folder = f"{root}/{stage_dir}"
    infos = fs.get_file_info(pa_fs.FileSelector(f"{folder}/{RECORDS}", allow_not_found=True))
    records = {}
    for info in infos:
        if info.is_file and info.base_name.endswith(".json") and not info.base_name.startswith("."):
            with fs.open_input_stream(info.path) as stream:
                record = json.loads(stream.read())
            manifest.validate_record(record)
            records[record["shard"]] = record
    for info in fs.get_file_info(pa_fs.FileSelector(folder, allow_not_found=True)):
        unrecorded = info.base_name.endswith(".parquet") and info.base_name.removesuffix(".parquet") not in records
        if info.is_file and (info.base_name.endswith(".tmp") or unrecorded):
            fs.delete_file(info.path)
    return records


def status_counts(table: pa.Table) -> dict:
    counts = Counter(table.column("status").to_pylist())
    return {STATUS_OK: counts.get(STATUS_OK, 0), STATUS_ERROR: counts.get(STATUS_ERROR, 0)}


class ShardSink(Datasink):
    """Writes each shard's stage outputs on the worker that built them, with a record per shard and stage.

    Rows come in with the sample columns, `shard`, `shard_rows`, and `<stage>.<column>` for each stage in
    `stage_dirs` (stage -> folder under the output root). `write` returns one small result per shard; the driver
    keeps them in `results` (on_write_complete) to make the manifest, and never sees the rows themselves.
    """

    def __init__(self, out: str, stage_dirs: dict[str, str]):
        self.out, self.stage_dirs, self.results = out, dict(stage_dirs), []

    def write(self, blocks, ctx=None) -> list[dict]:
        fs, root = filesystem(self.out)
        tables = [pa.table(block) if not isinstance(block, pa.Table) else block for block in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return []
        batch = pa.concat_tables(tables, promote_options="default")
        results = []
        for name in sorted(set(batch.column("shard").to_pylist())):
            shard = batch.filter(pc.equal(batch["shard"], name))
            expected = shard.column("shard_rows")[0].as_py()
            if shard.num_rows != expected:
                raise ValueError(f"shard {name}: {shard.num_rows} of its {expected} rows reached one write; a shard "
                                 "must stay one block through the stages. Lower --rows-per-shard (or raise "
                                 "--max-shard-mb) so a shard's output fits in one Ray Data block.")
            results.append(self.write_shard(fs, root, name, shard))
        return results

    def write_shard(self, fs: pa_fs.FileSystem, root: str, name: str, shard: pa.Table) -> dict:
        stage_tables = {}
        for stage in self.stage_dirs:
            schema = TABLES[stage].SCHEMA
            table = pa.Table.from_arrays([shard.column(f"{stage}.{column}") for column in schema.names],
                                         schema=schema)
            stage_tables[stage] = validated(table, stage)
        ids = {stage: table.column("sample_id").to_pylist() for stage, table in stage_tables.items()}
        if len({tuple(v) for v in ids.values()}) > 1:
            raise ValueError(f"shard {name}: the stages returned different sample ids {ids}; each stage must keep "
                             "its input rows in order.")
        records = {}
        for stage, table in stage_tables.items():
            folder = f"{root}/{self.stage_dirs[stage]}"
            fs.create_dir(f"{folder}/{RECORDS}", recursive=True)
            data = parquet_bytes(table)
            write_bytes_atomically(fs, f"{folder}/{name}.parquet", data)
            counts = status_counts(table)
            record = {"shard": name, "stage": stage, "path": f"{self.stage_dirs[stage]}/{name}.parquet",
                      "num_rows": table.num_rows, "ok": counts[STATUS_OK], "error": counts[STATUS_ERROR],
                      "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            manifest.validate_record(record)
            write_bytes_atomically(fs, f"{folder}/{RECORDS}/{name}.json", json.dumps(record).encode())
            records[stage] = record
        failed = [False] * shard.num_rows
        causes = Counter()
        for stage, table in stage_tables.items():
            for i, row in enumerate(table.select(["status", "error_message"]).to_pylist()):
                if row["status"] == STATUS_ERROR:
                    failed[i] = True
                    causes[f"{stage}: {error_cause(row['error_message'])}"] += 1
        return {"shard": name, "records": records, "rows": shard.num_rows, "error": sum(failed),
                "ok": shard.num_rows - sum(failed), "causes": dict(causes), "written_at": time.time(),
                "node": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None}

    def on_write_complete(self, write_result) -> None:
        for returned in write_result.write_returns:
            self.results.extend(returned)


def write_manifest(fs: pa_fs.FileSystem, root: str, header: dict, stage_dirs: dict[str, str],
                   records: dict[str, dict[str, dict]]) -> dict:
    """manifest.json from the stage records (stage -> shard -> record): one shard row per shard with both stages."""
    shards = []
    for name in sorted(set(records["tsg"]) & set(records["dsg"])):
        tsg_record, dsg_record = records["tsg"][name], records["dsg"][name]
        if tsg_record["num_rows"] != dsg_record["num_rows"]:
            raise ValueError(f"shard {name}: {tsg_record['path']} has {tsg_record['num_rows']} rows but "
                             f"{dsg_record['path']} has {dsg_record['num_rows']}; rebuild one stage with "
                             "--stages tsg or --stages dsg.")
        shards.append({"shard": name, "tsg_path": tsg_record["path"], "dsg_path": dsg_record["path"],
                       "num_rows": tsg_record["num_rows"], "tsg_ok": tsg_record["ok"],
                       "tsg_error": tsg_record["error"], "dsg_ok": dsg_record["ok"], "dsg_error": dsg_record["error"]})
    counts = {stage: {STATUS_OK: sum(s[f"{stage}_ok"] for s in shards),
                      STATUS_ERROR: sum(s[f"{stage}_error"] for s in shards)} for stage in TABLES}
    document = {
        "format": manifest.FORMAT,
        "schema_versions": {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION, "manifest": manifest.SCHEMA_VERSION},
        **header,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "shards": shards,
        "status_counts": counts,
        "stages": {stage: header.get("stages", {}).get(stage, {}) | {"dir": stage_dir}
                   for stage, stage_dir in stage_dirs.items()},
    }
    manifest.validate(document)
    write_bytes_atomically(fs, f"{root}/{manifest.FILENAME}", (json.dumps(document, indent=2) + "\n").encode())
    return document
