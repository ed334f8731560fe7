"""The one way binvault makes an id (bins, collections, schema docs: JSONBin's shape).

Below logic/ so that every use case can make one without importing another use case's
module (logic/schema_docs once imported logic/bins for it: a cycle inside the layer)."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """24 lowercase hex characters, ObjectId-shaped: a 4-byte timestamp and 8 random bytes."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{os.urandom(8).hex()}"
