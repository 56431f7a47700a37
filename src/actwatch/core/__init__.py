"""Concepts every stage shares, each defined once: provisions, links, text, the clock, states.

Nothing here imports a stage, a face or the database engine, so any stage may import it.
"""
