"""The results store and claims: the files of a job and of a suite, their schema, who
runs which job, and which finished jobs may be pooled."""
