"""How good is a trained model: retrieval R@K (retrieval.py) and the compositional benchmark (compositional.py)."""
