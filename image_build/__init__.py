"""The SD image builder."""
