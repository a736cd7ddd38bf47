"""Open a capture file for streaming, decompressing gzip, zstd and lz4 on the fly.

The compression is recognised by the file's first bytes (never by its name).  Every stream is
read a bounded piece at a time, so memory does not grow with the decompressed size.  The file is
untrusted, so the decompressed size is bounded too (see :data:`MAX_RATIO`): a decompression bomb
stops with one sentence instead of costing unbounded time.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import Any, Final, Protocol

from tcptrace_viz.errors import BadInputError

MAX_RATIO: Final = 100
"""A compressed capture may decompress to at most this many times its own size ..."""
MIN_DECOMPRESSED_LIMIT: Final = 256 << 20
"""... or to this many bytes, whichever is larger (real captures compress 2 to 20 times; a
small file of repeated packets may compress far more, and is cheap to read anyway)."""
_PIECE: Final = 1 << 16  # decompressed bytes asked for at once: a cut stream loses no more
_ZSTD_FEED: Final = 1024  # compressed bytes given to zstd at once: at most ~32 MiB out of it

_MAGICS: Final = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"),
                  (b"\x04\x22\x4d\x18", "lz4"))


class DecompressionBombError(Exception):
    """The decompressed data outgrew the bound; the message is one sentence."""


class _Readable(Protocol):
    def readinto(self, buffer: memoryview) -> int: ...


def compression_of(head: bytes) -> str:
    """``"gzip"``, ``"zstd"``, ``"lz4"``, or ``""`` when ``head`` starts no such stream."""
    return next((tool for magic, tool in _MAGICS if head.startswith(magic)), "")


class CaptureStream:
    """A capture file's bytes, decompressed when it is compressed.

    ``readinto`` fills a buffer as a file does (0 at the end) and raises ``EOFError`` when a
    compressed stream ends early, ``OSError`` or ``ValueError`` when it is damaged, and
    ``DecompressionBombError`` past the bound.
    """

    def __init__(self, raw: io.BufferedIOBase, name: str, size: int, compression: str) -> None:
        self.raw, self.name, self.size, self.compression = raw, name, size, compression
        """The file, its name, its size on disk and its compression (``""``: none)."""
        self.limit = max(size * MAX_RATIO, MIN_DECOMPRESSED_LIMIT)
        """Most bytes a compressed file may decompress to."""
        self.produced = 0
        """Bytes handed out so far."""
        self._inner: _Readable = _decompressor(raw, compression) if compression else raw

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next bytes; return how many (0 at the end)."""
        if self.compression:  # one piece at a time: what came before a failure is kept
            got = self._inner.readinto(buffer[:_PIECE])
        else:
            got = self._inner.readinto(buffer)
        self.produced += got
        if self.compression and self.produced > self.limit:
            raise DecompressionBombError(
                f"it decompresses ({self.compression}) to more than {self.limit:,} bytes, over "
                f"{MAX_RATIO} times its {self.size:,} bytes, so reading stopped there as a "
                "likely decompression bomb (decompress it yourself if it is genuine)")
        return got

    def read(self, count: int) -> bytes:
        """Up to ``count`` bytes (fewer only at the end)."""
        buffer = bytearray(count)
        view, filled = memoryview(buffer), 0
        while filled < count and (got := self.readinto(view[filled:])):
            filled += got
        return bytes(buffer[:filled])

    def consumed(self) -> int:
        """Bytes of the file on disk read so far (for progress)."""
        return min(self.raw.tell(), self.size) if self.compression else self.produced

    def close(self) -> None:
        """Close the file."""
        self.raw.close()


def capture_stream(raw: io.BufferedIOBase, name: str) -> CaptureStream:
    """The capture in the open file ``raw``, decompressed when its first bytes say so.

    Raises ``BadInputError`` (one sentence) when the file cannot be read.
    """
    try:
        size = os.fstat(raw.fileno()).st_size
        head = raw.read(4)
        raw.seek(0)
    except OSError as error:
        raise BadInputError(f"{name} cannot be read: {error.strerror or error}.") from None
    return CaptureStream(raw, name, size, compression_of(head))


def _decompressor(raw: io.BufferedIOBase, compression: str) -> _Readable:
    if compression == "gzip":
        return _OnePiece(gzip.GzipFile(fileobj=raw, mode="rb"))
    if compression == "lz4":
        import lz4.frame  # type: ignore[import-untyped]

        return _OnePiece(lz4.frame.LZ4FrameFile(raw, mode="rb"))
    return _ZstdReader(raw)


class _OnePiece:
    """A decompressing file read with ``read1``: what one raw read gave, so an error in the
    next read cannot swallow data already decompressed (``readinto`` loops and would)."""

    def __init__(self, inner: gzip.GzipFile | Any) -> None:
        self._inner = inner

    def readinto(self, buffer: memoryview) -> int:
        data = self._inner.read1(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _ZstdReader:
    """zstd frames one after another, with a stream that ends inside a frame reported as
    ``EOFError`` (zstandard's own stream reader says nothing then).

    The compressed bytes go in small pieces, which bounds what one call can produce.
    """

    def __init__(self, raw: io.BufferedIOBase) -> None:
        import zstandard

        self._raw, self._decompressor = raw, zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._pending, self._at, self._started, self._eof = b"", 0, False, False

    def readinto(self, buffer: memoryview) -> int:
        while self._at == len(self._pending):
            if self._eof:
                return 0
            self._pending, self._at = self._decompress_more(), 0
        count = min(len(buffer), len(self._pending) - self._at)
        buffer[:count] = self._pending[self._at:self._at + count]
        self._at += count
        return count

    def _decompress_more(self) -> bytes:
        import zstandard

        data = self._raw.read(_ZSTD_FEED)
        if not data:
            self._eof = True
            if self._started:
                raise EOFError("the zstd stream ends inside a frame")
            return b""
        try:
            if self._frame.eof:
                self._frame = self._decompressor.decompressobj()
            out = self._frame.decompress(data)
            while self._frame.eof and self._frame.unused_data:  # the next frame starts here
                rest = self._frame.unused_data
                self._frame = self._decompressor.decompressobj()
                out += self._frame.decompress(rest)
        except zstandard.ZstdError as error:
            raise ValueError(f"the zstd stream is damaged ({error})") from None
        self._started = not self._frame.eof
        return out


#: What a damaged compressed stream raises while it is read.
STREAM_ERRORS: Final = (OSError, EOFError, ValueError, zlib.error, RuntimeError)
