#!/usr/bin/python3
"""The broker serves the JavaScript client and the demo page over plain HTTP.

A raw GET (a bare socket, no HTTP library in between) for /wsbroker.js,
/demo and /demo.js must answer 200 with the right Content-Type, a
Content-Length, and exactly the committed file's bytes (the build embeds
them); a query string does not change what is served; anything else under
those names is 404; a WebSocket upgrade to /demo is refused.

    /usr/bin/python3 tests/demo/test_static_files.py --broker build/release/broker/wsbroker
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from broker import Broker, broker_path, http_get  # noqa: E402

BROKER = None
FILES = {
    "/wsbroker.js": ("tools/js/dist/wsbroker.js", "application/javascript"),
    "/demo": ("tools/demo/index.html", "text/html"),
    "/demo.js": ("tools/demo/demo.js", "application/javascript"),
}


class TestStaticFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(BROKER).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_files_are_served_byte_for_byte_with_their_type(self):
        for path, (source, ctype) in FILES.items():
            with self.subTest(path=path):
                with open(os.path.join(ROOT, source), "rb") as f:
                    want = f.read()
                status, headers, body = http_get(self.broker.host, self.broker.port, path)
                self.assertEqual(status, 200)
                self.assertEqual(headers["content-type"].split(";")[0], ctype)
                self.assertIn("charset=utf-8", headers["content-type"])
                self.assertEqual(int(headers["content-length"]), len(want))
                self.assertEqual(body, want)

    def test_the_client_is_the_bundle_and_the_page_loads_it(self):
        _, _, js = http_get(self.broker.host, self.broker.port, "/wsbroker.js")
        self.assertIn(b"export {", js)
        self.assertNotIn(b'from "@msgpack/msgpack"', js, "msgpack is not inlined")
        _, _, page = http_get(self.broker.host, self.broker.port, "/demo")
        self.assertIn(b'src="demo.js"', page)
        _, _, demo = http_get(self.broker.host, self.broker.port, "/demo.js")
        self.assertIn(b"from './wsbroker.js'", demo)

    def test_query_string_is_ignored(self):
        status, headers, _ = http_get(self.broker.host, self.broker.port, "/demo?pattern=md.AAPL&url=ws://x/v1")
        self.assertEqual((status, headers["content-type"].split(";")[0]), (200, "text/html"))

    def test_other_paths_are_404(self):
        for path in ("/demo/", "/demo.html", "/wsbroker.jsx", "/tools/js/dist/wsbroker.js"):
            with self.subTest(path=path):
                self.assertEqual(http_get(self.broker.host, self.broker.port, path)[0], 404)

    def test_websocket_upgrade_to_a_page_is_refused(self):
        upgrade = ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
        status, _, _ = http_get(self.broker.host, self.broker.port, "/demo", upgrade)
        self.assertEqual(status, 404)


def main():
    global BROKER
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
