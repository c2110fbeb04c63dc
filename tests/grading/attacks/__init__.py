"""Hostile submissions graded through the real `descentlab grade` (issue 12)."""
