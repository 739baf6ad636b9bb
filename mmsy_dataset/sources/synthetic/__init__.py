"""The offline synthetic visual world (OpenMoji scenes), registered as source "synthetic"."""

from mmsy_dataset.sources.synthetic.source import ATTRIBUTION, GENERATORS, SyntheticSource

__all__ = ["ATTRIBUTION", "GENERATORS", "SyntheticSource"]
