"""Executors: how a run's jobs are spread over this process, a pool of CPU worker
processes, packed GPU workers or Ray tasks, and the slots and threads each one gets."""
