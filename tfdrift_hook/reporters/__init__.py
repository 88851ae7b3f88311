"""Reporters: the built-in ways to write a check result (text for people, JSON lines)."""
