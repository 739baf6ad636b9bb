"""Sycophancy mitigations (paper 3.2 and 4.3): each method in its own module.

Heavy modules (torch, transformers, TRL) are imported by the modules that need them.
"""
