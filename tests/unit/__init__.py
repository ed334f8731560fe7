"""Unit tests: settings, JSONPath parsing, template.yaml and its SAM transform, the import
layers; no moto and no handler call (those are in tests/api)."""
