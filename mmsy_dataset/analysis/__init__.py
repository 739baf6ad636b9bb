"""Inside the model (paper section 4): layer-wise probing and attention to the image.

`contexts.collect` runs the probing config's sycophancy contexts through any local adapter,
with the engine's shared-prefix scorer, and keeps per layer the last token's hidden state and
the answer position's attention; `probe` and `attention` turn them into the per-layer figures
of Figure 3, and `plots` draws them. `run` does it all for a list of models (loading each,
installing attention amplification where asked, writing the results and figures) and is what
`mmsy analyze` calls; `tables` formats the results for the terminal. Confidence and flip
dynamics, which need no model internals, live in the scoring library (`mmsy_dataset.scoring.confidence`, `.flips`).
"""

from mmsy_dataset.analysis.capture import AnalysisError

__all__ = ["AnalysisError"]
