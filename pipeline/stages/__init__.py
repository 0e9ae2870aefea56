"""Stages: thin orchestration of load -> pure functions -> save, one module per stage."""
