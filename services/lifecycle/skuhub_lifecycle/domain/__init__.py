"""Lifecycle domain model: pure, synchronous, standard library only."""
