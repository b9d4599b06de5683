"""A caption parser learned from FACTUAL's gold scene graphs, on top of the rules in pipeline.parse_captions.

The rules propose candidate tuples from the spaCy parse; a small model trained on the train split keeps or drops
each candidate and picks among naming variants (see candidates.py, model.py). `LearnedCaptionParser` is the
stage; `make tsg-parser` (python -m pipeline.learned_parser.train) rebuilds the weights and prints dev F1.
"""
