"""Whole studies as task graphs: on a local process pool, or on a Dask cluster.

``posekit run-all`` builds one graph for the whole selection (:mod:`.graph`), runs it
(:mod:`.run`) on an executor (:mod:`.executors`) whose workers call :mod:`.tasks`. See
docs/compute.md.
"""
