"""Sycophancy mitigations trained on MM-SY (paper 3.2: SFT, DPO) and the tables that compare
every mitigation. The evaluation-time one (4.3, attention amplification) acts inside the
engine's forward and KV cache, so it lives there: `mmsy_dataset.engine.amplify`.

Each method lives in its own module so the package stays importable without the optional
training stack (`pip install mmsy[train]`): import the module you need.
"""
