"""Tenant records kept per container for a short, configured time: the broker's one cache of entitlement data.

A token needs the caller's user record and their tenant's record. User records are read fresh for every token
(strongly consistent), so disabling or re-pointing a user applies to the very next request. Tenant records
change rarely (an operator disables a tenant, moves it to another site or secret) and are read by every user of
the tenant, so each container keeps the parsed record for ``ttl_seconds``: a tenant change applies to new tokens
within that bound, and steady state costs one DynamoDB round trip per token instead of two.

What is cached is exactly what was read, enabled or not: a disabled tenant stays refused for the whole bound
even if it is re-enabled meanwhile, and an enabled one stays served for at most the bound after it is disabled.
Nothing else is cached: a missing tenant or a malformed record is read again on the next request (an operator
fixing it sees the fix at once, and an error never outlives the request that met it).

``ttl_seconds=0`` turns caching off (every token reads both records). The cache is bounded to ``max_entries``
tenants, least recently used first out, and an entry whose timestamp lies in the future (the clock went back)
counts as expired, so a clock jump can only shorten the bound, never lengthen it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tableau_broker.clock import Clock
    from tableau_broker.entitlements import TenantRecord

DEFAULT_TENANT_CACHE_TTL_SECONDS = 60
MAX_TENANT_CACHE_TTL_SECONDS = 300
DEFAULT_TENANT_CACHE_MAX_ENTRIES = 1024


class TenantCache:
    def __init__(self, ttl_seconds: int, clock: Clock, *, max_entries: int = DEFAULT_TENANT_CACHE_MAX_ENTRIES) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be >= 0 and max_entries >= 1")
        self._ttl = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, TenantRecord]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def now(self) -> float:
        """The cache's clock: callers take ``read_at`` from it before they read."""
        return self._clock()

    def get(self, tenant_id: str) -> TenantRecord | None:
        """The record read less than ``ttl_seconds`` ago, or None."""
        if self._ttl == 0:
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is None:
                return None
            read_at, record = entry
            if not read_at <= now < read_at + self._ttl:
                del self._entries[tenant_id]
                return None
            self._entries.move_to_end(tenant_id)
            return record

    def put(self, record: TenantRecord, *, read_at: float) -> None:
        """Keep ``record``, read from DynamoDB at ``read_at`` (taken before the read, so the bound holds)."""
        if self._ttl == 0:
            return
        with self._lock:
            self._entries[record.tenant_id] = (read_at, record)
            self._entries.move_to_end(record.tenant_id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
