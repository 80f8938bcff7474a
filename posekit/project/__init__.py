"""Project folder tree, discovery of sessions / trials / cameras, and the step runner."""

from posekit.project.layout import Project, Session, Trial, natural_key

__all__ = ["Project", "Session", "Trial", "natural_key"]
