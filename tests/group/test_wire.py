"""Framing of the supervisor's channels."""

from __future__ import annotations

from sluicegate.group.wire import Lines


def test_lines_come_whole_however_the_reads_cut_them() -> None:
    lines = Lines()
    assert lines.feed(b'["a",1]\n["b"') == [b'["a",1]']
    assert lines.feed(b",2") == []
    assert lines.feed(b"]\n") == [b'["b",2]']
    assert lines.feed(b"x\ny\nz") == [b"x", b"y"]
    assert lines.feed(b"\n\n") == [b"z", b""]


def test_a_long_line_in_many_reads_is_one_line() -> None:
    lines = Lines()
    chunk = b"x" * 65_536
    assert all(lines.feed(chunk) == [] for _ in range(64))
    [line] = lines.feed(b"\n")
    assert line == chunk * 64
