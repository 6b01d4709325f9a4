"""Benchmarks of the RAG toolkit: figures, not pass/fail tests (run with `make bench`)."""
