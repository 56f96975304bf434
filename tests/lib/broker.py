"""Start and stop a real wsbroker process for tests (Python stdlib only).

Interop and conformance tests drive the running broker over a socket; this
module owns that process so each test file does not reinvent it:

    from broker import Broker, broker_path

    with Broker(broker_path()) as b:          # --listen 127.0.0.1:0
        connect(b.url_for("/echo"))           # ws://127.0.0.1:40213/echo

    with start_broker_ipv6(broker_path(), ["--workers", "2"]) as b:
        ...                                   # ws://[::1]:40213

What it guarantees:
  * start() waits (bounded, 10 s by default) for the broker's
    `listening on ws://HOST:PORT` line and exposes host, port and url.
  * A thread keeps draining stderr into a buffer for the whole run, so the
    pipe never fills and blocks the broker's logging.
  * stop() sends SIGTERM to this broker's PID only, waits (bounded), and
    raises BrokerCheckError unless the exit status is 0 and stderr holds no
    sanitizer report ("AddressSanitizer", "LeakSanitizer", "runtime error:").
    If the broker does not exit in time it is SIGKILLed (same PID) and the
    check fails.

Run as a program it is a launcher for tests written in other languages: it
starts the broker, runs a command with WSB_URL / WSB_HOST / WSB_PORT set,
stops the broker, and exits non-zero if either the command or the broker
check failed:

    python3 tests/lib/broker.py --broker build/broker/wsbroker \
        [--ipv6] [--broker-arg=--workers --broker-arg=2] -- node --test x.mjs
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

LISTENING_RE = re.compile(r"listening on ws://(\S+):(\d+)")

# Lines that mean a sanitizer build found a bug, even if the exit status was 0.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:")

DEFAULT_START_TIMEOUT_S = 10.0
# The broker waits up to drain-timeout (5 s by default) for clients to close
# after SIGTERM; leave room for that plus a slow sanitizer build.
DEFAULT_STOP_TIMEOUT_S = 20.0


class BrokerError(RuntimeError):
    """The broker could not be started (bad path, early exit, no listen line)."""


class BrokerCheckError(AssertionError):
    """The broker ran but ended badly: non-zero exit, hang, sanitizer report."""


def broker_path(argv_value=None):
    """The broker binary: an explicit value, else $WSB_BROKER; must exist."""
    path = argv_value or os.environ.get("WSB_BROKER")
    if not path:
        raise BrokerError("no broker binary: pass --broker PATH or set WSB_BROKER")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BrokerError(f"broker binary {path!r} is missing or not executable")
    return path


def ipv6_loopback_available():
    """True when this machine can bind a socket to [::1]."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Broker:
    """One wsbroker process. Not reusable: start() once, stop() once."""

    def __init__(self, binary, args=(), listen="127.0.0.1:0",
                 start_timeout=DEFAULT_START_TIMEOUT_S,
                 stop_timeout=DEFAULT_STOP_TIMEOUT_S, env=None):
        self.binary = binary
        self.args = list(args)
        self.listen = listen
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.env = env
        self.proc = None
        self.host = None        # as printed, without brackets: "127.0.0.1", "::1"
        self.port = None
        self.returncode = None
        self._lines = []        # every stderr line so far, decoded
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None

    # --- addresses ---------------------------------------------------------

    @property
    def url(self):
        """ws://HOST:PORT with the host bracketed when it is IPv6."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    def url_for(self, path="/echo"):
        return self.url + path

    @property
    def family(self):
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def connect_raw(self, timeout=10.0):
        """A plain TCP socket to the broker, for hand-written requests."""
        s = socket.socket(self.family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((self.host, self.port))
        return s

    # --- lifecycle ---------------------------------------------------------

    def start(self):
        if self._reader is not None:
            raise BrokerError("Broker.start() called twice; make a new Broker")
        env = dict(os.environ if self.env is None else self.env)
        # Only matters for a sanitizer build; harmless otherwise.
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        cmd = [self.binary, "--listen", self.listen, *self.args]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, env=env)
        except OSError as e:
            raise BrokerError(f"cannot run {cmd!r}: {e}") from e
        self._reader = threading.Thread(target=self._drain_stderr,
                                        name=f"broker-stderr-{self.proc.pid}",
                                        daemon=True)
        self._reader.start()

        deadline = time.monotonic() + self.start_timeout
        with self._cond:
            while True:
                m = self._find_listening_line()
                if m:
                    break
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        if not m:
            why = "exited" if self._eof else f"printed no listen line in {self.start_timeout:g} s"
            self._kill()
            raise BrokerError(f"broker {cmd!r} {why} (status {self.returncode}); "
                              f"stderr:\n{self.stderr()}")
        host, port = m.group(1), int(m.group(2))
        self.host = host[1:-1] if host.startswith("[") else host
        self.port = port
        return self

    def stop(self, check=True):
        """SIGTERM, bounded wait, then the exit-status and sanitizer checks.

        Returns the list of problems found; raises BrokerCheckError with them
        when check is true and there are any.
        """
        if self.proc is None:
            return []
        problems = []
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)   # this PID only
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"did not exit within {self.stop_timeout:g} s of "
                                "SIGTERM; killed")
                self._kill()
        else:
            problems.append("exited before it was asked to stop")
        self.returncode = self.proc.returncode
        if self._reader is not None:
            self._reader.join(timeout=5.0)
        if self.returncode != 0 and not problems:
            problems.append(f"exit status {self.returncode}, expected 0")
        elif self.returncode != 0:
            problems.append(f"exit status {self.returncode}")
        bad = self.sanitizer_lines()
        if bad:
            problems.append("sanitizer report on stderr:\n  " + "\n  ".join(bad[:20]))
        self.proc = None
        if problems and check:
            raise BrokerCheckError("wsbroker: " + "; ".join(problems) +
                                   "\n--- broker stderr ---\n" + self.stderr())
        return problems

    def __enter__(self):
        # start_broker() hands back a started Broker; `with` must not restart it.
        return self if self._reader is not None else self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
            return False
        # A test already failed; report the broker's state too, but let the
        # original exception be the one that propagates.
        problems = self.stop(check=False)
        if problems:
            print("wsbroker: " + "; ".join(problems), file=sys.stderr)
        return False

    # --- stderr ------------------------------------------------------------

    def stderr(self):
        """Everything the broker wrote to stderr so far."""
        with self._cond:
            return "".join(self._lines)

    def stderr_lines(self):
        with self._cond:
            return list(self._lines)

    def sanitizer_lines(self):
        return [line.rstrip("\n") for line in self.stderr_lines()
                if any(mark in line for mark in SANITIZER_MARKERS)]

    def wait_for_stderr(self, pattern, timeout=10.0):
        """Wait (bounded) for a stderr line matching regex pattern; the match or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))

    def _find_listening_line(self):
        for line in self._lines:
            m = LISTENING_RE.search(line)
            if m:
                return m
        return None

    def _drain_stderr(self):
        stream = self.proc.stderr
        try:
            for raw in iter(stream.readline, b""):
                with self._cond:
                    self._lines.append(raw.decode("utf-8", "replace"))
                    self._cond.notify_all()
        finally:
            stream.close()
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.kill()                       # this PID only
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            pass
        self.returncode = self.proc.returncode


def start_broker(binary, args=(), **kw):
    """A started Broker on 127.0.0.1 with an ephemeral port."""
    return Broker(binary, args, listen="127.0.0.1:0", **kw).start()


def start_broker_ipv6(binary, args=(), **kw):
    """A started Broker on [::1] with an ephemeral port.

    Callers should check ipv6_loopback_available() first and skip if false.
    """
    return Broker(binary, args, listen="[::1]:0", **kw).start()


def _main(argv):
    import argparse
    p = argparse.ArgumentParser(
        description="Start wsbroker, run COMMAND with WSB_URL/WSB_HOST/WSB_PORT "
                    "set, stop the broker and check it exited cleanly.")
    p.add_argument("--broker", help="broker binary (default: $WSB_BROKER)")
    p.add_argument("--ipv6", action="store_true", help="listen on [::1] instead of 127.0.0.1")
    p.add_argument("--broker-arg", action="append", default=[], metavar="ARG",
                   help="extra broker argument (repeat; use --broker-arg=--flag)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds COMMAND may run before it is killed (default 600)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- COMMAND [ARGS...]")
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        p.error("no command given")
    listen = "[::1]:0" if a.ipv6 else "127.0.0.1:0"
    b = Broker(broker_path(a.broker), a.broker_arg, listen=listen).start()
    print(f"broker.py: wsbroker pid {b.proc.pid} at {b.url}", flush=True)
    env = dict(os.environ, WSB_URL=b.url, WSB_HOST=b.host, WSB_PORT=str(b.port))
    status = 1
    try:
        child = subprocess.Popen(cmd, env=env)
        try:
            status = child.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            print(f"broker.py: {cmd[0]} ran over {a.timeout:g} s; killing it",
                  file=sys.stderr)
            child.kill()                                # the PID we started
            child.wait(timeout=10.0)
            status = 124
    finally:
        problems = b.stop(check=False)
    if problems:
        print("broker.py: wsbroker: " + "; ".join(problems), file=sys.stderr)
        print("--- broker stderr ---\n" + b.stderr(), file=sys.stderr)
        return status or 1
    if status != 0:
        print("--- broker stderr ---\n" + b.stderr(), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
