"""Microservice-assisted LAM inference (issue 12)."""
