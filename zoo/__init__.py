"""Command-line scripts (absl flags): train, evaluate, benchmark, demo."""
