"""Sequential seeds: run a suite in stages and stop each comparison once it is decided.

`stage.py` tests the open comparisons on a stage's finished jobs; `runner.py` runs the stages
and records the decisions (`results/<suite>/stages.json`). The decision rule itself is
`bench.stats.sequential`; docs/statistics.md ("Sequential seeds") says why it is valid.
"""
