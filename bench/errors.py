"""The `BenchError` family: every error a user can cause, with an actionable message.

The CLI prints these as one line (no traceback) and exits with `exit_code`.
"""


class BenchError(Exception):
    """Base of every error gan-bench raises on purpose."""

    exit_code = 1


class ConfigError(BenchError):
    """A suite file or an override is malformed, unknown or out of range."""

    exit_code = 2


class DataError(BenchError):
    """A dataset cannot be found, read or downloaded."""

    exit_code = 2


class MetricsError(BenchError):
    """A metric or its backbone cannot be computed as asked (e.g. missing weights offline)."""

    exit_code = 2


class ResultsError(BenchError):
    """The results store is missing, empty or inconsistent for what was asked."""

    exit_code = 2


class PluginError(BenchError):
    """A plugin cannot be imported, registers a taken name, or builds nets that do not fit."""

    exit_code = 2
