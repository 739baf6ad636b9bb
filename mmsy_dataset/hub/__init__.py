"""Hub-layout dataset folders: writer, card, manifest, reader."""

from mmsy_dataset.hub.manifest import MANIFEST, Manifest, read_manifest, verify_folder
from mmsy_dataset.hub.reader import read_columns, read_records, resolve_dataset

__all__ = ["MANIFEST", "Manifest", "read_columns", "read_manifest", "read_records", "resolve_dataset", "verify_folder"]
