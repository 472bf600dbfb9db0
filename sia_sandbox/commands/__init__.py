"""Implementations of CLI verbs (kept out of cli.py so each has one job)."""
