"""Charging one request to an account's quota: exactly, or from a lease.

``QUOTA_LEASE_SIZE`` = 1 (the default) is exact: every request is one conditional
decrement of one of the account's quota shards, which is also the key check
(``dal.accounts.consume_request``, docs/quota.md).

``QUOTA_LEASE_SIZE`` = N > 1 trades exactness for writes: a warm container takes up to N
requests from one shard in one conditional write (a *lease*, ``dal.accounts.take_lease``) and spends them
locally, so most requests write nothing. A lease is spent only until it expires
(``QUOTA_LEASE_SECONDS``); the container's next lease write gives back what it did not
use, and a lease whose container died is refunded in full by another container's lease
write once it has been expired for a minute. What that means for an account with Q requests:

- a request is never refused while the account counter has requests left, and a refusal
  takes nothing;
- at most N x (live containers) requests are held in leases at any time, so an account
  may be refused while containers still hold that many unspent (they return when settled);
- requests served never exceed Q, except by what containers that died holding a lease had
  already spent of it (refunded in full, so at most N - 1 per such container).

The key is checked on every request whatever the lease: with leases, by a strongly
consistent read of the key's item, which rotation deletes (a read costs half a write).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from binvault.dal import accounts
from binvault.models.bins import Charging
from binvault.models.settings import get_settings

# A lease is not spent in its last second: a request that started with it ends in time.
EXPIRY_MARGIN_SECONDS = 1.0
_clock = time.time  # tests move it, never the wall clock


@dataclass
class _Held:
    lease: accounts.Lease
    used: int

    def usable(self, now: float) -> bool:
        return self.used < self.lease.size and now < self.lease.until - EXPIRY_MARGIN_SECONDS


class LeaseBook:
    """One container's leases, one per account it serves (module state: per container)."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def spend(self, account_id: str, charging: Charging) -> None:
        """Spend one request of the account's lease, taking a new lease when none is usable."""
        settings = get_settings()
        with self._lock:  # one lease write at a time per container
            held = self._held.get(account_id)
            if held is not None and held.usable(_clock()):
                held.used += 1
                return
            settle = (held.lease, held.lease.size - held.used) if held is not None else None
            lease = accounts.take_lease(
                account_id, charging, settings.quota_lease_size, settings.quota_lease_seconds, settle
            )
            self._held[account_id] = _Held(lease, used=1)

    def holding(self, account_id: str) -> int:
        """Requests this container holds for the account and has not spent (for tests)."""
        with self._lock:
            held = self._held.get(account_id)
            return 0 if held is None else held.lease.size - held.used


BOOK = LeaseBook()


def charge(account_id: str, charging: Charging) -> None:
    """Charge one request to the account, while ``charging``'s key is still valid."""
    if get_settings().quota_lease_size == 1:
        accounts.consume_request(account_id, charging)
    else:
        BOOK.spend(account_id, charging)
