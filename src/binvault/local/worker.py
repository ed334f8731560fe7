"""One Lambda execution environment of the local stack (started by ``binvault.local.pool``).

    python -m binvault.local.worker MODULE:FUNCTION REPLY_FD

Imports the handler once (its cold start), says ``{"ready": true}``, then serves one
event per line read from stdin, writing one JSON reply per line to REPLY_FD. stdout and
stderr stay the stack's, so the function's logs appear where they did before. A handler
exception is reported as Lambda reports it (errorType, errorMessage) and the environment
keeps serving.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from typing import Any

from binvault.local.events import LocalContext


def main(argv: list[str]) -> int:
    target, reply_fd = argv
    # Ctrl-C reaches the whole process group: the stack stops its environments itself
    # (closing stdin), and an environment whose stack died sees stdin close too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    module_name, _, function_name = target.partition(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    replies = os.fdopen(int(reply_fd), "w", encoding="utf-8")
    replies.write('{"ready": true}\n')
    replies.flush()
    for line in sys.stdin:
        event = json.loads(line)
        try:
            reply: dict[str, Any] = handler(event, LocalContext())
        except Exception as error:
            traceback.print_exc()  # what Lambda logs for an unhandled exception
            reply = {"errorType": type(error).__name__, "errorMessage": str(error)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
