"""Sycophancy mitigations: the trained ones of paper section 3.2 and the evaluation-time one of 4.3.

Each method lives in its own module so the package stays importable without the optional
training stack (`pip install mmsy[train]`): import the module you need.
"""
