"""The evaluation engine: MM-SY protocol, batched scoring with shared-prefix KV reuse, outputs.

Heavy modules (torch, transformers) are imported by the submodules that need them.
"""
