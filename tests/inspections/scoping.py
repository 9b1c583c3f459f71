"""Factories of this app's scoped models for the generic scoping test (see tests/scoping_factories.py)."""
