"""Hand-written WebSocket frames over a plain (or already-TLS) socket, for
tests that must send what no well-behaved client library sends, or stop
reading on purpose: a masked client frame encoder and a server-frame reader."""

import os
import struct


def masked_frame(opcode, payload, fin=True):
    """A client frame (masked, RFC 6455 5.2) of opcode with payload."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class FrameReader:
    """Reads server frames from self.sock; self.buf holds bytes read ahead
    (e.g. what followed the 101 reply). Subclasses set both."""

    sock = None
    buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError
            self.buf += data

    def read_frame(self):
        """(opcode, payload) of the next server frame (unmasked, as sent)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return b0 & 0x0F, payload
