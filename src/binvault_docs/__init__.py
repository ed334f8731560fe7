"""Build-time tools for binvault's documentation (the OpenAPI document, docs/api.md).

Not part of the Lambda artifact (scripts/package.sh copies only ``src/binvault``), so
they may use pydantic and Powertools' OpenAPI models freely; the request path never
imports them.
"""
