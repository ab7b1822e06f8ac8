#!/usr/bin/env python3
"""Request/response (MQTT 5 Response Topic + Correlation Data).

Runs a responder (upper-cases requests) and a requester in one process:
    python3 request_response.py --broker mqtt://127.0.0.1:1883 ping pong
Or only one side: --role server / --role client.
"""

import argparse
import threading
import uuid

import midge


def serve(broker: str, service: str, ready: threading.Event, stop: threading.Event) -> None:
    with midge.Client(broker) as server:
        def answer(request: midge.Message) -> None:
            p = request.properties
            if not p.response_topic:
                return
            server.publish(p.response_topic, request.payload.upper(), qos=1,
                           properties=midge.Properties(correlation_data=p.correlation_data))

        server.on_message = answer
        server.subscribe(service, qos=1)
        ready.set()
        stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--service", default="midge/demo/upper")
    ap.add_argument("--role", choices=("both", "server", "client"), default="both")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("requests", nargs="*", default=["hello"])
    args = ap.parse_args()

    ready, stop = threading.Event(), threading.Event()
    server = None
    if args.role in ("both", "server"):
        server = threading.Thread(target=serve, args=(args.broker, args.service, ready, stop))
        server.start()
        if args.role == "server":
            try:
                server.join()
            except KeyboardInterrupt:
                stop.set()
            return
        ready.wait(10)
    try:
        replies = "midge/demo/replies/" + uuid.uuid4().hex
        with midge.Client(args.broker) as client:
            client.subscribe(replies, qos=1)
            for text in args.requests:
                reply = client.request(args.service, text, replies, timeout=args.timeout)
                print("%s -> %s" % (text, reply.payload.decode()))
    finally:
        stop.set()
        if server is not None:
            server.join()


if __name__ == "__main__":
    main()
