"""Running jobs, in four sub-layers: the results store and claims (`store/`), one job
(`job/`), the executors that spread jobs over processes, GPUs and Ray (`executors/`), and the
run as a whole (this package's own modules; docs/architecture.md)."""
