"""Marshmallow schemas: the web edge's input and output shapes (and the OpenAPI document)."""
