"""Reusable helpers for the tests and soak scripts (not tests themselves)."""
