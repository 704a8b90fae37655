"""Evaluation models: registry, catalogue, runs, results and findings (filled in by their issues)."""
