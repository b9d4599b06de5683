"""How good a stage is: the DSG against the demo ground truth, the TSG against FACTUAL gold graphs."""
