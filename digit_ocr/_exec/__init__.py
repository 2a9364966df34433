"""Wrappers around external programs."""
