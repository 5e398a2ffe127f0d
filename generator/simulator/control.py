"""The commands that talk to a running receiver or simulator: `events post URL TYPE key=value ...`
(one hand-made ESPF event), `events deliveries SIM_URL` (what a simulator has sent) and
`inject SIM_URL SPEC ...` (faults on demand, see `faults`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from .command import add_auth_arguments, event_auth
from .espf import fresh_event_id, post_event
from .faults import parse_spec


def add_arguments(sub: Any) -> None:
    events = sub.add_parser("events", help="post an ESPF event; list a simulator's deliveries")
    actions = events.add_subparsers(dest="events_command", required=True)
    post = actions.add_parser(
        "post", help="POST one hand-made event, e.g. Subscriber/Updated i_account=42"
    )
    post.add_argument("url", help="the receiver's URL")
    post.add_argument("event_type", metavar="TYPE", help="Group/Action, e.g. Customer/Created")
    post.add_argument("variables", nargs="*", metavar="KEY=VALUE", help="the event's variables")
    post.add_argument("--i-event", help="the event's id (default: a fresh one)")
    post.add_argument("--timeout", type=float, default=10.0)
    add_auth_arguments(post)
    post.set_defaults(run=_post)
    listed = actions.add_parser("deliveries", help="the events a simulator has sent, as JSON")
    listed.add_argument("url", help="the simulator's URL")
    listed.set_defaults(run=_deliveries)
    inject = sub.add_parser(
        "inject",
        help="faults on demand in a running simulator, e.g. Account.get_account_info:drop:count=2",
    )
    inject.add_argument("url", help="the simulator's URL (on loopback)")
    inject.add_argument("specs", nargs="+", metavar="SPEC")
    inject.set_defaults(run=_inject)


def _post(args: argparse.Namespace, config: object) -> int:
    variables: dict[str, str] = {}
    for item in args.variables:
        key, eq, value = item.partition("=")
        if not eq or not key:
            print(f"error: {item!r} is not KEY=VALUE", file=sys.stderr)
            return 2
        variables[key] = value
    try:
        auth = event_auth(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    i_event = args.i_event if args.i_event is not None else str(fresh_event_id())
    body = {"event_type": args.event_type, "variables": {"i_event": i_event, **variables}}
    try:
        reply = post_event(args.url, body, auth, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"error: {args.url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{reply.status_code} {reply.text.strip()[:200]}")
    return 0 if reply.status_code == 200 else 1


def _deliveries(args: argparse.Namespace, config: object) -> int:
    reply = httpx.get(args.url.rstrip("/") + "/_sim/deliveries", timeout=10)
    reply.raise_for_status()
    print(json.dumps(reply.json(), indent=2))
    return 0


def _inject(args: argparse.Namespace, config: object) -> int:
    try:
        for text in args.specs:
            parse_spec(text)  # refused here, before anything reaches the simulator
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reply = httpx.post(
        args.url.rstrip("/") + "/_sim/inject", json={"specs": args.specs}, timeout=10
    )
    if reply.status_code != 200:
        print(f"error: {reply.json().get('error', reply.text)}", file=sys.stderr)
        return 1
    for done in reply.json()["done"]:
        print(done)
    return 0
