"""Localization, the second stage: where in the file the bug is.

`ranking` turns what the tests showed (the traceback, which lines and branches failing and passing tests ran)
into features and ranks statements and functions by fitted weights (`weights.json`); `passes` adds the
readings that cost more (the model's surprisal and infill likelihood, the mutation probe, the second look)
and ranks again; `mutants` is the probe (mutants of a statement, rerun against its tests); `evidence` says
a span's evidence in words.
"""
