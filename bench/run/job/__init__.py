"""One job: the entry point every executor runs it through, its phases (load, train,
score, write), and the sampler, scoring and figures those phases use."""
