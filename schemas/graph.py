"""Turn one TSG or DSG row (a dict, as from table.to_pylist()) into a networkx graph."""


def to_networkx(row: dict):
    """A networkx.MultiDiGraph of a TSG row (has 'nodes') or a DSG row (has 'objects').

    TSG: node i has the attributes of nodes[i]; edges carry `kind`.
    DSG: node i is objects[i] (frame, track_id, class_name, score, box, attributes); relation edges carry
    `kind="relation"`, `predicate`, `score`; temporal edges carry `kind="temporal"`. A unary relation
    ("appears") is kept on its subject node under `unary`.
    """
    # Imported here so that `import schemas` needs pyarrow and the standard library only.
    import networkx as nx

    graph = nx.MultiDiGraph(sample_id=row.get("sample_id"))
    if "nodes" in row:
        for i, node in enumerate(row["nodes"] or []):
            graph.add_node(i, **node)
        for edge in row["edges"] or []:
            graph.add_edge(edge["source"], edge["target"], kind=edge["kind"])
    elif "objects" in row:
        for i, obj in enumerate(row["objects"] or []):
            graph.add_node(i, **obj, unary=[])
        for rel in row["relations"] or []:
            if rel["object"] is None:
                graph.nodes[rel["subject"]]["unary"].append(rel["predicate"])
            else:
                graph.add_edge(rel["subject"], rel["object"], kind="relation", predicate=rel["predicate"],
                               score=rel["score"], frame=rel["frame"])
        for link in row["temporal_links"] or []:
            graph.add_edge(link["source"], link["target"], kind="temporal")
    else:
        raise ValueError(f"to_networkx: row has neither 'nodes' (TSG) nor 'objects' (DSG); keys are {sorted(row)}.")
    return graph
