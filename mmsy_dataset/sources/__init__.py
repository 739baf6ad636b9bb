"""Sources of base VQA items. Importing this package registers the built-in ones."""

from mmsy_dataset.sources.base import Source, SourceInfo, get_source, register_source, source_names
from mmsy_dataset.sources.release import ReleaseSource
from mmsy_dataset.sources.synthetic import SyntheticSource
from mmsy_dataset.sources.tdiuc import TdiucSource

__all__ = [
    "ReleaseSource",
    "Source",
    "SourceInfo",
    "SyntheticSource",
    "TdiucSource",
    "get_source",
    "register_source",
    "source_names",
]
