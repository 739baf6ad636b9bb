"""Models built by this project (the tiny LLaVA used by tests, benchmarks and the reference model)."""
