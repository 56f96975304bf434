"""A conformance case: an id in Autobahn's numbering, a title, and a check.

A case's `run(connect)` opens its own connection(s) with connect() (a
WsClient to the broker's /echo) and raises CaseFailure when the broker
misbehaves. It may return a note string, printed after the title (used for
Autobahn's NON-STRICT outcomes, which pass but are worth seeing).

Ids that Autobahn has are kept as they are ("5.19", "6.4.2"); cases this
suite adds carry a suffix ("1.1.8/chop1", "6.5.3/split@2") or an "x" group.
"""


class Case:
    __slots__ = ("id", "title", "run", "broker", "weight")

    def __init__(self, id, title, run, broker="default", weight=1):
        self.id = id
        self.title = title
        self.run = run
        # Which broker instance the case needs: "default" (stock limits) or
        # "limited" (--max-message 65536).
        self.broker = broker
        # Rough cost; heavy cases are started first so they overlap the rest.
        self.weight = weight


def sort_key(case_id):
    """Order "2.10" after "2.9", "6.5.3/split@10" after ".../split@9"."""
    key = []
    for part in case_id.replace("/", ".").replace("@", ".").split("."):
        key.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return key
