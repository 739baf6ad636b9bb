"""Sycophancy mitigations of paper section 3.2 (and their evaluation-time counterparts).

Each method lives in its own module so the package stays importable without the optional
training stack (`pip install mmsy[train]`): import the module you need.
"""
