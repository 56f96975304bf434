"""Start and stop a real wsbroker process for tests (Python stdlib only).

Interop and conformance tests drive the running broker over a socket; this
module owns that process so each test file does not reinvent it:

    from broker import Broker, broker_path

    with Broker(broker_path()) as b:          # --listen 127.0.0.1:0
        connect(b.url_for("/echo"))           # ws://127.0.0.1:40213/echo

    with start_broker_ipv6(broker_path(), ["--workers", "2"]) as b:
        ...                                   # ws://[::1]:40213

    ca = dev_ca()                             # tools/dev-ca.sh, once per process
    with Broker(broker_path(), tls=ca.tls()) as b:   # + --listen-tls 127.0.0.1:0
        b.url_for("/echo")                    # ws://127.0.0.1:40213/echo
        b.url_for("/echo", tls=True)          # wss://127.0.0.1:40214/echo
        websockets.connect(b.wss_url + "/echo", ssl=ca.client_context())

    Broker(..., tls=ca.tls(plain=False))      # the TLS listener only
    Broker(..., tls=ca.tls(verify_client=True))   # + --tls-ca --tls-verify-client

What it guarantees:
  * start() waits (bounded, 10 s by default) for the broker's
    `listening on ws://HOST:PORT` line and exposes host, port and url; with
    tls= also for `listening on wss://HOST:PORT` (tls_host, tls_port,
    wss_url). Without a plain listener, host/port/url are the TLS one's.
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
check failed. With --tls it makes a dev CA, adds a TLS listener, and sets
WSB_URL to the wss:// one (WSB_WS_URL keeps the ws:// one, WSB_CA names the
CA file, WSB_TLS_DIR the dev CA's directory):

    python3 tests/lib/broker.py --broker build/broker/wsbroker \
        [--ipv6] [--tls] [--broker-arg=--workers --broker-arg=2] -- node --test x.mjs
"""

import atexit
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

LISTENING_RE = re.compile(r"listening on ws://(\S+):(\d+)")
TLS_LISTENING_RE = re.compile(r"listening on wss://(\S+):(\d+)")

DEV_CA_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "..", "..", "tools", "dev-ca.sh")

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


class TlsConfig:
    """What tls= asks of a Broker; a dict with the same keys works too.

    cert, key: the server's files (--tls-cert, --tls-key). ca: --tls-ca.
    verify_client: add --tls-verify-client (needs ca). min_version: "1.2" or
    "1.3" (--tls-min-version). plain: keep the plain ws:// listener as well.
    listen: the TLS listener's address (default: the plain one's host, port 0).
    """

    FIELDS = ("cert", "key", "ca", "verify_client", "min_version", "plain", "listen")

    def __init__(self, cert, key, ca=None, verify_client=False, min_version=None,
                 plain=True, listen=None):
        self.cert, self.key, self.ca = cert, key, ca
        self.verify_client, self.min_version = verify_client, min_version
        self.plain, self.listen = plain, listen

    @classmethod
    def of(cls, value):
        """A TlsConfig from a TlsConfig, a dict, or any object with the fields."""
        if value is None or isinstance(value, cls):
            return value
        get = value.get if isinstance(value, dict) else (lambda k, d=None: getattr(value, k, d))
        unknown = set(value) - set(cls.FIELDS) if isinstance(value, dict) else set()
        if unknown:
            raise BrokerError(f"tls: unknown keys {sorted(unknown)}")
        if not get("cert") or not get("key"):
            raise BrokerError("tls: cert and key are required")
        return cls(get("cert"), get("key"), get("ca"), bool(get("verify_client", False)),
                   get("min_version"), get("plain", True) is not False, get("listen"))

    def broker_args(self):
        args = ["--tls-cert", self.cert, "--tls-key", self.key]
        if self.ca:
            args += ["--tls-ca", self.ca]
        if self.verify_client:
            args.append("--tls-verify-client")
        if self.min_version:
            args += ["--tls-min-version", str(self.min_version)]
        return args


class DevCA:
    """The files of tools/dev-ca.sh in one directory, and SSL contexts on them.

    Attributes are paths: ca, ca_key, server_cert, server_key, client_cert,
    client_key, other_ca, other_client_cert, other_client_key.
    """

    def __init__(self, directory):
        self.dir = directory
        self.ca, self.ca_key = self._p("ca.crt"), self._p("ca.key")
        self.server_cert, self.server_key = self._p("server.crt"), self._p("server.key")
        self.client_cert, self.client_key = self._p("client.crt"), self._p("client.key")
        self.other_ca = self._p("other-ca.crt")
        self.other_client_cert = self._p("other-client.crt")
        self.other_client_key = self._p("other-client.key")

    def _p(self, name):
        return os.path.join(self.dir, name)

    @classmethod
    def create(cls, directory, timeout=60.0):
        """Run tools/dev-ca.sh DIRECTORY (idempotent) and return its files."""
        cls._run([DEV_CA_SCRIPT, directory], timeout)
        return cls(directory)

    @staticmethod
    def _run(cmd, timeout):
        try:
            r = subprocess.run(["sh", *cmd], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise BrokerError(f"{cmd!r} ran over {timeout:g} s") from e
        if r.returncode != 0:
            raise BrokerError(f"{cmd!r} failed ({r.returncode}): {r.stderr.strip()}")

    def copy(self, directory=None):
        """The same CA and certificates in a new directory (default: a temp dir
        removed at exit), to renew without touching this one."""
        directory = directory or _temp_dir("wsb-dev-ca-")
        for name in os.listdir(self.dir):
            if name.endswith((".crt", ".key")):
                shutil.copy2(self._p(name), os.path.join(directory, name))
        return DevCA(directory)

    def renew_server(self, timeout=60.0):
        """A new server key and certificate (new serial), replaced in place."""
        self._run([DEV_CA_SCRIPT, "--renew-server", self.dir], timeout)

    def tls(self, verify_client=False, **kw):
        """A TlsConfig for Broker(tls=...) with this CA's server certificate;
        verify_client also passes --tls-ca (this CA) and --tls-verify-client."""
        if verify_client:
            kw.setdefault("ca", self.ca)
        return TlsConfig(self.server_cert, self.server_key, verify_client=verify_client, **kw)

    def client_context(self, cert=None, key=None, maximum_version=None,
                       minimum_version=None, alpn=None):
        """A client SSLContext trusting this CA (hostname checked: use
        127.0.0.1, ::1 or localhost), optionally presenting cert/key."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        if maximum_version is not None:
            ctx.maximum_version = maximum_version
        if minimum_version is not None:
            ctx.minimum_version = minimum_version
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx


_dev_ca = None
_dev_ca_lock = threading.Lock()


def _temp_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, d, True)
    return d


def dev_ca():
    """This process's dev CA: made by tools/dev-ca.sh in a temp dir on the
    first call (removed at exit), the same DevCA on every later call.
    $WSB_DEV_CA_DIR names a directory to use (and keep) instead."""
    global _dev_ca
    with _dev_ca_lock:
        if _dev_ca is None:
            directory = os.environ.get("WSB_DEV_CA_DIR") or _temp_dir("wsb-dev-ca-")
            _dev_ca = DevCA.create(directory)
        return _dev_ca


class Broker:
    """One wsbroker process. Not reusable: start() once, stop() once."""

    def __init__(self, binary, args=(), listen="127.0.0.1:0",
                 start_timeout=DEFAULT_START_TIMEOUT_S,
                 stop_timeout=DEFAULT_STOP_TIMEOUT_S, env=None, tls=None):
        """tls: None (plain ws:// only), or a TlsConfig / dict (see TlsConfig)."""
        self.binary = binary
        self.args = list(args)
        self.listen = listen
        self.tls = TlsConfig.of(tls)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.env = env
        self.proc = None
        self.host = None        # as printed, without brackets: "127.0.0.1", "::1"
        self.port = None
        self.tls_host = None    # the wss:// listener, when tls= was given
        self.tls_port = None
        self.returncode = None
        self._lines = []        # every stderr line so far, decoded
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None

    # --- addresses ---------------------------------------------------------

    @property
    def has_plain(self):
        return self.tls is None or self.tls.plain

    @property
    def url(self):
        """ws://HOST:PORT with the host bracketed when it is IPv6 (wss:// when
        the broker has only a TLS listener)."""
        if not self.has_plain:
            return self.wss_url
        return f"ws://{_url_host(self.host)}:{self.port}"

    @property
    def wss_url(self):
        """wss://HOST:PORT of the TLS listener."""
        if self.tls_port is None:
            raise BrokerError("this broker has no TLS listener (pass tls=)")
        return f"wss://{_url_host(self.tls_host)}:{self.tls_port}"

    def url_for(self, path="/echo", tls=None):
        """URL of path; tls True: the wss:// listener, False: the ws:// one,
        None: url's scheme."""
        if tls is None:
            return self.url + path
        if not tls and not self.has_plain:
            raise BrokerError("this broker has no plain listener (tls plain=False)")
        return (self.wss_url if tls else f"ws://{_url_host(self.host)}:{self.port}") + path

    @property
    def family(self):
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def connect_raw(self, timeout=10.0, tls=False):
        """A plain TCP socket to the broker, for hand-written requests; tls:
        to the TLS listener's port (still plain TCP: bring your own TLS)."""
        host, port = (self.tls_host, self.tls_port) if tls else (self.host, self.port)
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                          socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except OSError:
            s.close()
            raise
        return s

    def connect_tls(self, context, timeout=10.0, server_hostname=None):
        """A TLS socket to the TLS listener, handshake done (bounded by timeout)."""
        s = self.connect_raw(timeout, tls=True)
        try:
            return context.wrap_socket(s, server_hostname=server_hostname or self.tls_host)
        except BaseException:
            s.close()
            raise

    # --- lifecycle ---------------------------------------------------------

    def start(self):
        if self._reader is not None:
            raise BrokerError("Broker.start() called twice; make a new Broker")
        env = dict(os.environ if self.env is None else self.env)
        # Only matters for a sanitizer build; harmless otherwise.
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        cmd = [self.binary]
        if self.has_plain:
            cmd += ["--listen", self.listen]
        if self.tls is not None:
            cmd += ["--listen-tls", self.tls.listen or _port_zero(self.listen),
                    *self.tls.broker_args()]
        cmd += self.args
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
        want = ([LISTENING_RE] if self.has_plain else []) + \
            ([TLS_LISTENING_RE] if self.tls is not None else [])
        with self._cond:
            while True:
                found = [self._find_line(rx) for rx in want]
                if all(found):
                    break
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        if not all(found):
            why = "exited" if self._eof else f"printed no listen line in {self.start_timeout:g} s"
            self._kill()
            missing = " and ".join(rx.pattern.split("(")[0].strip() for rx, m in zip(want, found)
                                   if not m)
            raise BrokerError(f"broker {cmd!r} {why} (status {self.returncode}), missing "
                              f"'{missing}'; stderr:\n{self.stderr()}")
        for rx, m in zip(want, found):
            host, port = m.group(1), int(m.group(2))
            host = host[1:-1] if host.startswith("[") else host
            if rx is TLS_LISTENING_RE:
                self.tls_host, self.tls_port = host, port
            else:
                self.host, self.port = host, port
        if not self.has_plain:
            self.host, self.port = self.tls_host, self.tls_port
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def reload(self):
        """SIGHUP to this broker's PID (reload the TLS certificate and key)."""
        self.proc.send_signal(signal.SIGHUP)

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
        return self._find_line(LISTENING_RE)

    def _find_line(self, rx):
        for line in self._lines:
            m = rx.search(line)
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


def http_get(host, port, target, extra_headers="", timeout=10.0):
    """One plain HTTP/1.1 GET on a fresh socket, read to EOF (the broker
    closes after every plain reply): (status, headers with lower-case names,
    body bytes). extra_headers: more header lines, each ending in CRLF.
    Raises AssertionError when the reply has no end of headers or its
    Content-Length disagrees with the body."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {_url_host(host)}:{port}\r\n"
                  f"{extra_headers}\r\n".encode())
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"GET {target}: no end of headers in {raw[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers and int(headers["content-length"]) != len(body):
        raise AssertionError(f"GET {target}: Content-Length {headers['content-length']} "
                             f"but {len(body)} bytes of body")
    return int(lines[0].split(" ")[1]), headers, body


def _url_host(host):
    return f"[{host}]" if ":" in host else host


def _port_zero(listen):
    """ADDR:PORT -> ADDR:0 (the TLS listener's default: same host, any port)."""
    return listen.rsplit(":", 1)[0] + ":0"


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
    p.add_argument("--tls", action="store_true",
                   help="add a TLS listener with a dev CA; WSB_URL is then wss://")
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
    ca = dev_ca() if a.tls else None
    b = Broker(broker_path(a.broker), a.broker_arg, listen=listen,
               tls=ca.tls() if ca else None).start()
    env = dict(os.environ, WSB_URL=b.url, WSB_HOST=b.host, WSB_PORT=str(b.port))
    if ca:
        env.update(WSB_URL=b.wss_url, WSB_WS_URL=b.url_for("", tls=False),
                   WSB_PORT=str(b.tls_port), WSB_CA=ca.ca, WSB_TLS_DIR=ca.dir,
                   WSB_BROKER_PID=str(b.pid))
    print(f"broker.py: wsbroker pid {b.proc.pid} at {env['WSB_URL']}", flush=True)
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
