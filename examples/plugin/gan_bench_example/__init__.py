"""An example gan-bench plugin: one G/D pair, one trick and one dataset, found by entry points."""
