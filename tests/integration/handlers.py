"""Stand-in Lambda handlers for the execution-environment pool's tests."""

from __future__ import annotations

import os
import time
from typing import Any


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answers with the event after ``sleep`` seconds; ``raise`` fails, ``exit`` crashes."""
    time.sleep(float(event.get("sleep", 0)))
    if event.get("raise"):
        raise RuntimeError("asked to fail")
    if event.get("exit"):
        os._exit(3)
    return {"statusCode": 200, "body": str(event.get("n", "")), "pid": os.getpid()}
