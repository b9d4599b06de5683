"""The demo dataset (rendered shape videos, ground truth, captions, hard negatives) and the project's shape detector."""
