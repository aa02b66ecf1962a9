"""Statistics over seeds that know nothing of results tables: bootstrap intervals
(`bootstrap`), exact rank tests (`ranktests`), multiple-comparison corrections
(`corrections`) and what a design can decide (`power`). `bench.report`, `bench.regress` and
`bench.design` import them; this package imports none of those."""
