"""Thin tasks: each passes ids to a use case in domain/."""
