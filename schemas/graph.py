"""Turn one TSG or DSG row into a networkx graph: a plain dict (table.to_pylist()), a pyarrow row (a one-row table
or record batch, a StructScalar) or a pandas row (a Series from df.iloc / iterrows, an itertuples tuple, a dict from
df.to_dict("records"), whose lists are numpy arrays)."""

import pyarrow as pa


def plain(value):
    """`value` with numpy arrays and scalars (what pandas gives for list and struct columns) as lists and Python
    numbers, recursively."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist())
    return value


def as_row(row) -> dict:
    """One row of any of the kinds this module takes, as a plain dict of Python values."""
    if isinstance(row, (pa.Table, pa.RecordBatch)):
        if row.num_rows != 1:
            raise ValueError(f"to_networkx: a pyarrow table or batch must hold exactly one row; this one holds "
                             f"{row.num_rows}. Pass table.slice(i, 1) or one element of table.to_pylist().")
        return row.to_pylist()[0]
    if isinstance(row, pa.StructScalar):
        return row.as_py()
    if hasattr(row, "_asdict"):  # DataFrame.itertuples()
        row = row._asdict()
    elif hasattr(row, "to_dict") and not isinstance(row, dict):  # a pandas Series
        row = row.to_dict()
    if not isinstance(row, dict):
        raise ValueError(f"to_networkx: expected a row as a dict, a pandas row or a one-row pyarrow table; got a "
                         f"{type(row).__name__}.")
    return plain(row)


def to_networkx(row, table: str | None = None):
    """A networkx.MultiDiGraph of a TSG row (has 'nodes') or a DSG row (has 'objects').

    `table` ("tsg" or "dsg") picks the graph of a joined row that has both (schemas.read_graphs); by default the
    row's columns decide, TSG first.
    TSG: node i has the attributes of nodes[i]; edges carry `kind`.
    DSG: node i is objects[i] (frame, track_id, class_name, score, box, attributes); relation edges carry
    `kind="relation"`, `predicate`, `score`; temporal edges carry `kind="temporal"`. A unary relation
    ("appears") is kept on its subject node under `unary`.
    """
    # Imported here so that `import schemas` needs pyarrow and the standard library only.
    import networkx as nx

    row = as_row(row)
    if table not in (None, "tsg", "dsg"):
        raise ValueError(f"to_networkx: table is '{table}', expected 'tsg', 'dsg' or None (decided by the columns).")
    table = table or ("tsg" if "nodes" in row else "dsg" if "objects" in row else None)
    needed = {"tsg": "nodes", "dsg": "objects"}.get(table)
    if needed is None or needed not in row:
        raise ValueError(f"to_networkx: row has neither 'nodes' (TSG) nor 'objects' (DSG) for table {table!r}; "
                         f"keys are {sorted(row)}.")
    graph = nx.MultiDiGraph(sample_id=row.get("sample_id"))
    if table == "tsg":
        for i, node in enumerate(row["nodes"] or []):
            graph.add_node(i, **node)
        for edge in row.get("edges") or []:
            graph.add_edge(edge["source"], edge["target"], kind=edge["kind"])
    else:
        for i, obj in enumerate(row["objects"] or []):
            graph.add_node(i, **obj, unary=[])
        for rel in row.get("relations") or []:
            if rel["object"] is None:
                graph.nodes[rel["subject"]]["unary"].append(rel["predicate"])
            else:
                graph.add_edge(rel["subject"], rel["object"], kind="relation", predicate=rel["predicate"],
                               score=rel["score"], frame=rel["frame"])
        for link in row.get("temporal_links") or []:
            graph.add_edge(link["source"], link["target"], kind="temporal")
    return graph
