"""Construction of MM-SY records from base items: options, templates, allocation to splits."""

from mmsy_dataset.construction.plan import Construction, Sizes, construct
from mmsy_dataset.construction.records import RecordFactory

__all__ = ["Construction", "RecordFactory", "Sizes", "construct"]
