"""The graph-shard contract shared by pipeline/ and model/: Arrow schemas, versions, validation.

Imports only pyarrow and the standard library.
"""

from schemas import common, dsg, manifest, tsg
from schemas.graph import to_networkx
from schemas.read import read_graphs

__all__ = ["common", "dsg", "manifest", "tsg", "to_networkx", "read_graphs"]
