"""Running jobs: the results store, one job end to end, and the local runner."""
