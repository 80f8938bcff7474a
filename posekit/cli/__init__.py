"""The ``posekit`` command line: thin wrappers around library functions."""
