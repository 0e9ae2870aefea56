"""Synthetic media for the demo, the tests and the evaluation: never real footage."""
