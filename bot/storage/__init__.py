"""Persistence: the async database handle, the mapped models and the migrations."""
