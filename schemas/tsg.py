"""TSG table: the textual scene graph of each caption segment, one row per sample.

Nodes are a list; an edge names its two nodes by their position in that list.
  node kinds: object ("man"), attribute ("red", "2"), relation ("hand", "in front of"), modifier ("quickly")
  edge kinds: attribute  object -> attribute
              subject    object -> relation   (the relation's subject)
              object     relation -> object   (the relation's object)
              modifier   relation -> modifier
              before     relation -> relation (the source event happens before the target event)
              while      relation -> relation (the two events overlap in time)
Token spans are [token_start, token_end) in the caption's spaCy tokenisation.
"""

import pyarrow as pa

from schemas.common import SAMPLE_KEY_FIELDS, STATUS_FIELDS, STATUS_OK, check_columns, check_rows_status

SCHEMA_VERSION = "1.0"

NODE_KINDS = ("object", "attribute", "relation", "modifier")
EDGE_KINDS = ("attribute", "subject", "object", "modifier", "before", "while")
# The node kinds each edge kind connects: (source kind, target kind).
EDGE_ENDPOINTS = {
    "attribute": ("object", "attribute"),
    "subject": ("object", "relation"),
    "object": ("relation", "object"),
    "modifier": ("relation", "modifier"),
    "before": ("relation", "relation"),
    "while": ("relation", "relation"),
}

NODE_TYPE = pa.struct(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lemma", pa.string(), nullable=False),
        pa.field("token_start", pa.int32(), nullable=False),
        pa.field("token_end", pa.int32(), nullable=False),
    ]
)
EDGE_TYPE = pa.struct(
    [
        pa.field("source", pa.int32(), nullable=False),
        pa.field("target", pa.int32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
    ]
)

SCHEMA = pa.schema(
    SAMPLE_KEY_FIELDS
    + [
        pa.field("caption", pa.string(), nullable=False),
        pa.field("nodes", pa.list_(NODE_TYPE)),
        pa.field("edges", pa.list_(EDGE_TYPE)),
    ]
    + STATUS_FIELDS,
    metadata={"finsta.table": "tsg", "finsta.schema_version": SCHEMA_VERSION},
)


def validate(table: pa.Table) -> None:
    """Raise ValueError naming the column, row and rule when `table` breaks the TSG contract."""
    check_columns(table, SCHEMA, "tsg")
    rows = table.select(["sample_id", "status", "error_message", "nodes", "edges"]).to_pylist()
    check_rows_status(rows, "tsg")
    for i, row in enumerate(rows):
        where = f"tsg table: row {i} ('{row['sample_id']}')"
        nodes, edges = row["nodes"] or [], row["edges"] or []
        for j, node in enumerate(nodes):
            if node["kind"] not in NODE_KINDS:
                raise ValueError(f"{where}: nodes[{j}].kind is '{node['kind']}', expected one of {NODE_KINDS}.")
            if not 0 <= node["token_start"] < node["token_end"]:
                raise ValueError(
                    f"{where}: nodes[{j}] token span [{node['token_start']}, {node['token_end']}) is empty or "
                    "negative; expected 0 <= token_start < token_end."
                )
        if row["status"] == STATUS_OK and not any(n["kind"] == "object" for n in nodes):
            raise ValueError(f"{where}: status 'ok' but column 'nodes' has no object node; a TSG needs at least one.")
        for j, edge in enumerate(edges):
            if edge["kind"] not in EDGE_KINDS:
                raise ValueError(f"{where}: edges[{j}].kind is '{edge['kind']}', expected one of {EDGE_KINDS}.")
            for end in ("source", "target"):
                if not 0 <= edge[end] < len(nodes):
                    raise ValueError(
                        f"{where}: edges[{j}].{end} = {edge[end]} is not a node index (row has {len(nodes)} nodes)."
                    )
            kinds = (nodes[edge["source"]]["kind"], nodes[edge["target"]]["kind"])
            if kinds != EDGE_ENDPOINTS[edge["kind"]]:
                raise ValueError(
                    f"{where}: edges[{j}] of kind '{edge['kind']}' joins {kinds[0]} -> {kinds[1]}, "
                    f"expected {EDGE_ENDPOINTS[edge['kind']][0]} -> {EDGE_ENDPOINTS[edge['kind']][1]}."
                )
