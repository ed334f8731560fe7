"""The local stream poller tells the stack when it has caught up after records arrived
(``on_idle``: where ``make run`` lets the collector freeze what survived), once per burst,
never while idle."""

from __future__ import annotations

import threading
from typing import Any

from tests.conftest import Api


def test_on_idle_runs_once_after_each_burst_of_records(api: Api, purge: Any) -> None:
    caught_up: list[int] = []
    burst = threading.Event()
    stop, wake = threading.Event(), threading.Event()

    def on_idle() -> None:
        caught_up.append(purge.read)
        burst.set()

    poller = threading.Thread(
        target=purge.run,
        args=(stop,),
        kwargs={"interval": 0.01, "wake": wake, "idle_interval": 0.02, "on_idle": on_idle},
        daemon=True,
    )
    poller.start()
    try:
        for round_ in range(2):
            burst.clear()
            bin_id = api("POST", "/b", body={"round": round_}).body["metadata"]["id"]
            api("PUT", f"/b/{bin_id}", body={"round": round_, "again": True})
            wake.set()
            assert burst.wait(30), "the poller never caught up"
        reported = len(caught_up)
        stop.wait(0.2)  # idle polls: nothing read, nothing reported
    finally:
        stop.set()
        wake.set()
        poller.join(10)
    # each report follows records read since the one before (a write may split into two bursts)
    assert len(caught_up) == reported >= 2
    assert caught_up == sorted(set(caught_up)) and caught_up[-1] == purge.read
