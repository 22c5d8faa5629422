"""The skuhub command line."""
