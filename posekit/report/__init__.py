"""Results a person looks at: labeled videos (:mod:`.labels`), plotly and PNG figures
(:mod:`.figures`) and the per-trial HTML report with its index (:mod:`.html`)."""
