#!/usr/bin/env python3
"""Print received messages: python3 sub.py --topic 'demo/#' [--callback] [--timeout 10]"""

import argparse
import signal
import threading

import midge


def show(m: midge.Message) -> None:
    extra = []
    if m.retain:
        extra.append("retained")
    if m.properties.content_type:
        extra.append("content-type=" + m.properties.content_type)
    extra += ["%s=%s" % kv for kv in m.properties.user_properties]
    print("%s [qos %d] %r %s" % (m.topic, m.qos, m.payload, " ".join(extra)), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--topic", action="append", default=[], help="filter (repeatable)")
    ap.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--username")
    ap.add_argument("--password")
    ap.add_argument("--timeout", type=float, default=None,
                    help="stop after this many seconds without a message")
    ap.add_argument("--callback", action="store_true",
                    help="receive with on_message instead of iterating")
    args = ap.parse_args()
    topics = args.topic or ["#"]

    with midge.Client(args.broker, username=args.username, password=args.password) as client:
        client.on_disconnect = lambda d: print("disconnected:", d.detail, flush=True)
        if args.callback:
            client.on_message = show
        codes = client.subscribe(topics, qos=args.qos, no_local=args.no_local)
        print("subscribed:", ", ".join("%s=%s" % (t, getattr(c, "name", c))
                                       for t, c in zip(topics, codes)), flush=True)
        if args.callback:
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            stop.wait(args.timeout)
        else:
            try:
                for message in client.messages(timeout=args.timeout):
                    show(message)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
