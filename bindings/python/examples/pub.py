#!/usr/bin/env python3
"""Publish messages: python3 pub.py --topic demo/t --qos 1 hello world"""

import argparse

import midge


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--topic", default="midge/demo")
    ap.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    ap.add_argument("--retain", action="store_true")
    ap.add_argument("--username")
    ap.add_argument("--password")
    ap.add_argument("--content-type")
    ap.add_argument("--user-property", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("payloads", nargs="*", default=["hello from midge"])
    args = ap.parse_args()

    props = midge.Properties(
        content_type=args.content_type,
        user_properties=[tuple(p.split("=", 1)) for p in args.user_property],
    )
    with midge.Client(args.broker, username=args.username, password=args.password) as client:
        for text in args.payloads:
            result = client.publish(args.topic, text, qos=args.qos, retain=args.retain,
                                    properties=props)
            print("published %r to %s: %s (packet id %d)"
                  % (text, args.topic, result.reason_code.name, result.packet_id))


if __name__ == "__main__":
    main()
