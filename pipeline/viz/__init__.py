"""Pictures of graphs (DSG keyframes, TSG, HSG cross edges) and the static HTML report of a shard set."""
