"""The local API Gateway in its own process: the HTTP front and the execution-environment
pool (started by ``binvault.local.stack`` when BINVAULT_CONCURRENCY > 0).

    python -m binvault.local.gateway LISTEN_FD CONCURRENCY READY_FD

Why a process of its own: the stack's process runs the embedded DynamoDB (moto), which is
where a request spends most of its CPU; parsing HTTP and shuttling events in that same
process took a share of its one interpreter lock. The stack binds the API port itself (so
a busy port is reported there, at once) and hands the listening socket over. This process
stops when the stack closes its stdin, or dies (kill -9: stdin closes too), and its
environments follow it the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

from binvault.local.pool import Pool
from binvault.local.server import make_server
from binvault.local.usage_logs import Shipper


def main(argv: list[str]) -> int:
    listen_fd, concurrency, ready_fd = (int(value) for value in argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stack's to handle
    # The environments' usage lines go to the usage-logs function, as the log group's
    # subscription filter sends them when deployed (binvault.local.usage_logs).
    shipper = Shipper()
    shipping, shipper_thread = shipper.start()
    pool = Pool(concurrency, on_output=shipper.feed)
    pool.start()
    sock = socket.socket(fileno=listen_fd)
    host, port = sock.getsockname()[:2]
    server = make_server(host, port, pool, sock=sock)

    def stop_with_the_stack() -> None:
        sys.stdin.read()  # returns at EOF: the stack stopped or died
        server.shutdown()

    threading.Thread(target=stop_with_the_stack, name="stack-watch", daemon=True).start()
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        pool.close()
        shipping.set()
        shipper_thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
