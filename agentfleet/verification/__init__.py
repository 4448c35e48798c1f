"""Completion as a checked fact: outputs and claims against the workspace and journal."""
