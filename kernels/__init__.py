"""Optimised kernels for the benchmark tasks (trusted references live beside untrusted-style submissions)."""
