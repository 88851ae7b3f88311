"""Reporters: the built-in writers of a check result (text for people, JSON lines)."""
