"""A bounded log of accepted sign-ins, for tests. The caller holds the state's lock."""

from __future__ import annotations

from collections import deque
from typing import Final

from .records import SigninRecord

DEFAULT_MAX_SIGNIN_RECORDS: Final = 500


class SigninLog:
    def __init__(self, max_records: int = DEFAULT_MAX_SIGNIN_RECORDS) -> None:
        self._records: deque[SigninRecord] = deque(maxlen=max_records)

    def append(self, record: SigninRecord) -> None:
        self._records.append(record)

    def records(self) -> list[SigninRecord]:
        return list(self._records)

    def clear(self) -> None:
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)
