"""The learned caption parser, trained on FACTUAL's gold scene graphs, on top of the rules in pipeline/caption_rules/.

The rules propose candidate tuples from the spaCy parse; a small model trained on the train split keeps or drops
each candidate and picks among naming variants. `parse.LearnedParser` parses; the stage
(pipeline.parse_captions.CaptionParser, parser="learned") runs it. `make tsg-parser` (python -m
jobs.train_tsg_parser) rebuilds the weights and prints dev F1.

  features.py  candidates (compound, relation, attribute decisions) and their hashed features
  model.py     HashedFeatureClassifier, one per decision
  repairs.py   rule repairs for video sentences (participles, clause events, a paragraph's pronouns)
  parse.py     LearnedParser: rules, repairs, then the learned decisions
  tuples.py    tuples as FACTUAL's scorer sees them, per-kind P/R/F1 (training labels and eval-tsg)
  train.py     training on FACTUAL train, thresholds on dev, the weights file
"""

from pathlib import Path

# Here rather than in parse.py, so the build-graphs driver can hash the weights without importing torch.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "tsg_learned.pt"
