"""Sources of base VQA items. Importing this package registers the built-in ones."""

from mmsy_dataset.sources.base import Source, SourceInfo, get_source, register_source, source_names
from mmsy_dataset.sources.synthetic import SyntheticSource

__all__ = ["Source", "SourceInfo", "SyntheticSource", "get_source", "register_source", "source_names"]
