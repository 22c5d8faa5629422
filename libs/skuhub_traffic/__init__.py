"""Realistic, deterministic upstream traffic for the demo, the tests and the benchmarks.

One seeded generator builds a catalog (families, attributes, product models with
variants, kits, locales, channels, locations with valid GLNs, SKUs with valid
GTINs) and a stream of stock movements shaped like the real world. An
independent oracle computes the positions that stream must produce.

API (stable; the demo, tests and ``skuhub bench`` use it):

- :class:`TrafficConfig` — every knob, with a seed.
- :func:`build_catalog` → :class:`Catalog`.
- :func:`generate_deliveries` → list of :class:`Delivery` (what goes on the wire, in order).
- :class:`Oracle` — expected positions from the deliveries, computed without skuhub code.
- :func:`publish` — send deliveries through a real Kafka client at a fixed rate or flat out.
"""
