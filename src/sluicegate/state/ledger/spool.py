"""The spool: an append-only file each record reaches before its response ends.

A record is one ``write()`` of one line to a file opened with ``O_APPEND``.
Once ``write()`` returns, the bytes are in the kernel's page cache and survive
the process being killed (``kill -9``); a machine crash is what fsync would
add, at a cost per request no gateway can pay. The shipper moves spooled
records into the ledger store in batches, off the request path.

Every live process holds an exclusive ``flock`` on the file it appends to.
A spool file nobody holds a lock on is complete: its writer rotated away from
it or died, and whoever locks it first ships it and deletes it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import msgspec

from sluicegate.state.ledger.record import LedgerRecord

SUFFIX = ".spool"
# Rotate once a file holds this much, so shipped files can be deleted.
ROTATE_BYTES = 8 * 1024 * 1024

_encode = msgspec.json.Encoder().encode


class Spool:
    def __init__(self, directory: Path, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.directory = directory
        self.rotate_bytes = rotate_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._sequence = 0
        self._fd = -1
        self.path = self._open_new()

    @property
    def size(self) -> int:
        """Bytes written to the current file."""
        return self._size

    @property
    def full(self) -> bool:
        return self._size >= self.rotate_bytes

    def append(self, record: LedgerRecord) -> None:
        line = _encode(record) + b"\n"
        os.write(self._fd, line)
        self._size += len(line)

    def rotate(self) -> None:
        """Start a new file and unlock the old one, which is then complete."""
        old = self._fd
        self.path = self._open_new()
        os.close(old)  # releases its lock: the file is now complete

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open_new(self) -> Path:
        # Lock under a temporary name and only then rename into view, so no
        # shipper ever sees an unlocked file that is about to be written.
        self._sequence += 1
        name = f"{os.getpid()}-{os.urandom(4).hex()}-{self._sequence:06d}"
        temporary = self.directory / f"{name}.new"
        fd = os.open(temporary, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        final = self.directory / f"{name}{SUFFIX}"
        os.rename(temporary, final)
        self._fd, self._size = fd, 0
        return final


class ClaimedFile:
    """A complete spool file this process has locked for shipping, or None if another has."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def claim(cls, path: Path) -> ClaimedFile | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if not path.exists():  # shipped and deleted by another process meanwhile
            os.close(fd)
            return None
        return cls(path, fd)

    def release(self, *, delete: bool) -> None:
        if delete:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)


def decode_lines(data: bytes) -> tuple[list[LedgerRecord], int]:
    """Records in ``data`` up to its last complete line, and how many bytes that is.

    A torn last line (a writer killed mid-write) is left for later, or, in a
    complete file, dropped: its response never finished either.
    """
    end = data.rfind(b"\n") + 1
    if end == 0:
        return [], 0
    decoder = _decoder
    records = []
    for line in data[:end].splitlines():
        if line:
            try:
                records.append(decoder.decode(line))
            except msgspec.DecodeError:
                continue  # a line torn by a crash; never part of a complete response
    return records, end


_decoder = msgspec.json.Decoder(LedgerRecord)
