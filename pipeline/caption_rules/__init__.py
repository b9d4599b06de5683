"""The caption rules: a spaCy dependency parse -> a TSG, by rules in named passes (build.PASSES gives their order).

  words.py        closed word classes (colours, garments, containers, pronouns, ...)
  tokens.py       predicates on one token (is it an object head, a direction word, a misparsed adjective, ...)
  tsg_builder.py  TSGBuilder, which collects nodes and edges
  state.py        CaptionState, what the passes share, and the relation rule they all use
  directions.py, objects.py, events.py, temporal.py   the passes
  repair.py       parsing again a caption whose parse reads a verb as a noun
  build.py        build_tsg: the passes in order
  parse.py        load_spacy, parse_doc: the entry points of the stage and of the learned parser (caption_model/)
"""
