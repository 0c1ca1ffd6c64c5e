"""Benchmarks run by command (`python -m bench`), never as timed tests."""
