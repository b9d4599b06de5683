"""Columns every table shares: the sample key and the per-sample status (declared once, here)."""

import re

import pyarrow as pa

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUSES = (STATUS_OK, STATUS_ERROR)

# One sample is one caption segment of one video.
SAMPLE_KEY_FIELDS = [
    pa.field("sample_id", pa.string(), nullable=False),
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
]
STATUS_FIELDS = [
    pa.field("status", pa.string(), nullable=False),
    pa.field("error_message", pa.string()),
]

# What a dataset reader emits per sample, before any stage runs.
SAMPLE_SCHEMA = pa.schema(
    SAMPLE_KEY_FIELDS
    + [
        pa.field("video_path", pa.string(), nullable=False),
        pa.field("start", pa.float64(), nullable=False),
        pa.field("end", pa.float64(), nullable=False),
        pa.field("caption", pa.string(), nullable=False),
        # The captions before this one in its video's paragraph (ActivityNet's sentences), in order: what a pronoun
        # opening it refers to. Null where a video's captions stand alone (MSR-VTT's 20 annotators).
        pa.field("previous_captions", pa.list_(pa.string())),
    ]
    + STATUS_FIELDS
)


def check_columns(table: pa.Table, schema: pa.Schema, name: str) -> None:
    """Raise ValueError naming each missing column or each column whose type differs from `schema`."""
    for field in schema:
        if field.name not in table.column_names:
            raise ValueError(
                f"{name} table: missing column '{field.name}' (expected type {field.type}); "
                f"found columns {table.column_names}. Build the table with {name}.SCHEMA."
            )
        found = table.schema.field(field.name).type
        if found != field.type:
            raise ValueError(
                f"{name} table: column '{field.name}' has type {found}, expected {field.type}. "
                f"Cast it with table.cast({name}.SCHEMA) or rebuild it with that schema."
            )
        if not field.nullable and table.column(field.name).null_count:
            raise ValueError(f"{name} table: column '{field.name}' has nulls; it must be set on every row.")


def check_rows_status(rows: list[dict], name: str) -> None:
    """Status is 'ok' or 'error'; an error row says why, an ok row carries no error message."""
    seen = set()
    for i, row in enumerate(rows):
        sid = row["sample_id"]
        if sid in seen:
            raise ValueError(f"{name} table: sample_id '{sid}' appears twice (row {i}); each sample is one row.")
        seen.add(sid)
        if row["status"] not in STATUSES:
            raise ValueError(f"{name} table: row {i} ('{sid}') has status '{row['status']}', "
                             f"expected one of {STATUSES}.")
        if row["status"] == STATUS_ERROR and not row["error_message"]:
            raise ValueError(f"{name} table: row {i} ('{sid}') has status 'error' but no error_message saying why.")
        if row["status"] == STATUS_OK and row["error_message"]:
            raise ValueError(f"{name} table: row {i} ('{sid}') has status 'ok' but error_message "
                             f"'{row['error_message']}'.")


def make_sample_id(video_id: str, segment_index: int) -> str:
    """The id of a video's `segment_index`-th caption segment; readers, the demo and the trainer all use this."""
    return f"{video_id}#{segment_index}"


def error_cause(message: str) -> str:
    """An error message with its specifics (paths, quoted names, numbers) blanked, to group errors by cause."""
    message = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message or "")
    message = re.sub(r"(/[^\s:,;]+)+", "…", message)
    return re.sub(r"\d+(\.\d+)?", "N", message)[:160]
