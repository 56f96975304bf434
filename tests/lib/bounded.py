"""Time bounds for asyncio test methods: every load loop in the tests is
bounded in count and time, and a test coroutine that hangs must fail with
its name, not stall ctest until its timeout."""

import asyncio
import functools


def bounded(seconds):
    """Fail a test coroutine (a unittest method) that runs longer than
    `seconds`."""
    def wrap(fn):
        @functools.wraps(fn)
        async def run(self, *a, **kw):
            try:
                return await asyncio.wait_for(fn(self, *a, **kw), seconds)
            except asyncio.TimeoutError:
                self.fail(f"{fn.__name__} did not finish within {seconds} s")
        return run
    return wrap
