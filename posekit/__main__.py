"""``python -m posekit`` runs the command line."""

from posekit.cli.main import main

main()
