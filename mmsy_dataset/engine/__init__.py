"""The evaluation engine: MM-SY protocol, batched scoring on a prefix tree of KV states, outputs.

Heavy modules (torch, transformers) are imported by the submodules that need them.
"""
