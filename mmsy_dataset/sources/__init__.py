"""Sources of base VQA items. Importing this package registers the built-in ones."""

from mmsy_dataset.sources.base import Source, SourceInfo, get_source, register_source, source_names

__all__ = ["Source", "SourceInfo", "get_source", "register_source", "source_names"]
