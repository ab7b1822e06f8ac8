"""Every bad argument raises a midge.MidgeError subclass naming the argument, before anything
is sent: InvalidType (also a TypeError) for a wrong type, InvalidArgument (also a ValueError)
for a value out of range. None of these needs a broker, except where a test says so."""

from __future__ import annotations

import time

import pytest

import midge


@pytest.fixture
def client():
    c = midge.Client("mqtt://127.0.0.1:1", client_id="validation", reconnect=False)
    yield c
    c.close()


def raises(cls, words, f):
    with pytest.raises(cls) as info:
        f()
    assert isinstance(info.value, midge.MidgeError)
    assert words in str(info.value), str(info.value)
    return info.value


@pytest.mark.parametrize(
    "kwargs, cls, words",
    [
        ({"qos": "1"}, midge.InvalidType, "qos must be 0, 1 or 2, not str '1'"),
        ({"qos": 1.0}, midge.InvalidType, "qos"),
        ({"qos": True}, midge.InvalidType, "qos"),
        ({"qos": 3}, midge.InvalidArgument, "qos 3 is not 0, 1 or 2"),
        ({"retain": "yes"}, midge.InvalidType, "retain must be True or False, not str 'yes'"),
        ({"retain": 1}, midge.InvalidType, "retain"),
        ({"properties": {"message_expiry": 5}}, midge.InvalidProperty, "unknown message property 'message_expiry'"),
        ({"properties": 5}, midge.InvalidType, "properties must be a midge.Properties or a dict"),
        ({"user_properties": ["ab", "cd"]}, midge.InvalidType, "(name, value) pair"),
        ({"user_properties": "ab"}, midge.InvalidType, "user_properties"),
        ({"user_properties": [("a", 1)]}, midge.InvalidType, "name and value must be str"),
        ({"topic_alias": "1"}, midge.InvalidType, "topic_alias must be an int"),
        ({"topic_alias": 70000}, midge.InvalidArgument, "topic_alias 70000 is not in 0..65535"),
    ],
)
def test_publish_arguments(client, kwargs, cls, words):
    e = raises(cls, words, lambda: client.publish_async("t", b"x", **kwargs))
    if cls is midge.InvalidType:
        assert isinstance(e, TypeError)
    else:
        assert isinstance(e, ValueError)


def test_publish_topic_and_payload_types(client):
    raises(midge.InvalidType, "topic must be a str, not int 5", lambda: client.publish_async(5, b"x"))
    raises(midge.InvalidType, "payload must be bytes", lambda: client.publish_async("t", 5))


def test_user_properties_are_pairs_or_a_dict(client):
    # Accepted forms: pairs (order and repeats kept) and a dict; a string is not two pairs.
    assert midge.Properties(user_properties=[("a", "1"), ("a", "2")]).user_properties == (("a", "1"), ("a", "2"))
    assert midge.Properties(user_properties={"k": "v"}).user_properties == (("k", "v"),)
    raises(midge.InvalidType, "(name, value) pair", lambda: midge.Properties(user_properties=["ab", "cd"]))


def test_properties_from_a_dict_with_the_standard_names():
    p = midge.Properties.of({"message_expiry_interval": 5, "content_type": "text/plain"})
    assert p == midge.Properties(message_expiry_interval=5, content_type="text/plain")
    raises(midge.InvalidArgument, "payload_format_indicator 2 is not in 0..1", lambda: midge.Properties(payload_format_indicator=2))
    raises(midge.InvalidArgument, "message_expiry_interval -1", lambda: midge.Properties(message_expiry_interval=-1))
    raises(midge.InvalidType, "correlation_data must be bytes", lambda: midge.Properties(correlation_data="x"))


@pytest.mark.parametrize(
    "call, cls, words",
    [
        (lambda c: c.subscribe(5), midge.InvalidType, "topic must be a filter (str) or a list"),
        (lambda c: c.subscribe([5]), midge.InvalidType, "a subscription is a filter or a (filter, qos) pair, not 5"),
        (lambda c: c.subscribe("t", qos=5), midge.InvalidArgument, "qos 5 is not 0, 1 or 2"),
        (lambda c: c.subscribe([("t", "1")]), midge.InvalidType, "qos must be 0, 1 or 2, not str '1'"),
        (lambda c: c.subscribe("t", no_local="yes"), midge.InvalidType, "no_local must be True or False"),
        (lambda c: c.subscribe("t", subscription_identifier=0), midge.InvalidArgument, "subscription_identifier 0"),
        (lambda c: c.subscribe("t", timeout="1"), midge.InvalidType, "timeout must be a number of seconds"),
        (lambda c: c.unsubscribe(5), midge.InvalidType, "topic must be a filter (str) or a list of filters"),
        (lambda c: c.unsubscribe([b"t"]), midge.InvalidType, "topic filter must be a str"),
        (lambda c: c.next_message(timeout="1"), midge.InvalidType, "timeout must be a number of seconds"),
        (lambda c: c.disconnect(300), midge.InvalidArgument, "reason_code 300 is not in 0..255"),
        (lambda c: c.set_will("t"), midge.InvalidType, "will must be a midge.Will, not str"),
        (lambda c: c.set_clean_start(1), midge.InvalidType, "clean_start must be True or False"),
        (lambda c: c.request("t", b"", "r", qos="1"), midge.InvalidType, "qos"),
    ],
)
def test_subscribe_and_other_calls(client, call, cls, words):
    raises(cls, words, lambda: call(client))


@pytest.mark.parametrize(
    "kwargs, cls, words",
    [
        ({"keep_alive": 1.5}, midge.InvalidType, "keep_alive must be an int, not float 1.5"),
        ({"keep_alive": 70000}, midge.InvalidArgument, "keep_alive 70000 is not in 0..65535"),
        ({"session_expiry_interval": -1}, midge.InvalidArgument, "session_expiry_interval -1"),
        ({"clean_start": "no"}, midge.InvalidType, "clean_start must be True or False"),
        ({"client_id": 5}, midge.InvalidType, "client_id must be a str"),
        ({"connect_timeout": "5"}, midge.InvalidType, "connect_timeout must be a number of seconds"),
        ({"linger": 1}, midge.InvalidArgument, "linger 1 s is not in 0..0.01 s"),
        ({"reconnect": "yes"}, midge.InvalidType, "reconnect must be True, False or a midge.Reconnect"),
        ({"will": "t"}, midge.InvalidType, "will must be a midge.Will"),
        ({"user_properties": ["ab"]}, midge.InvalidType, "(name, value) pair"),
    ],
)
def test_client_options(kwargs, cls, words):
    raises(cls, words, lambda: midge.Client("mqtt://127.0.0.1:1", **kwargs))


def test_value_objects_check_when_made():
    raises(midge.InvalidType, "will retain must be True or False", lambda: midge.Will("t", retain=1))
    raises(midge.InvalidArgument, "will qos 3", lambda: midge.Will("t", qos=3))
    raises(midge.InvalidType, "will topic must be a str", lambda: midge.Will(b"t"))
    raises(midge.InvalidType, "qos must be 0, 1 or 2", lambda: midge.SubscriptionOptions(qos="1"))
    raises(midge.InvalidArgument, "retain_handling 3", lambda: midge.SubscriptionOptions(retain_handling=3))
    raises(midge.InvalidArgument, "Reconnect.maximum", lambda: midge.Reconnect(initial=5, maximum=1))
    assert midge.Will("t", will_delay_interval=5).will_delay_interval == 5


def test_a_blocking_publish_before_connect_says_so_at_once(client):
    """The blocking publish() can never complete before connect(): it says so at once
    rather than waiting out its timeout; publish_async() queues instead."""
    started = time.monotonic()
    raises(midge.NotConnected, "call connect() first", lambda: client.publish("t", b"x", qos=1, timeout=30))
    assert time.monotonic() - started < 5  # far below the 30 s timeout it would have waited
    handle = client.publish_async("t", b"x", qos=1)
    assert not handle.done()


def test_public_api_is_documented():
    """help(midge.Client) and friends show documentation: every public class, method and
    property has a docstring."""
    missing = []
    for name in midge.__all__:
        obj = getattr(midge, name)
        if not getattr(obj, "__doc__", None):
            missing.append(name)
        if isinstance(obj, type) and obj.__module__.startswith("midge") and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = member.fget if isinstance(member, property) else member
                if callable(target) and not getattr(target, "__doc__", None):
                    missing.append("%s.%s" % (name, attr))
    assert missing == []


def test_published_with_dict_properties_arrive(broker):
    """The dict form and user_properties= reach the subscriber as Properties."""
    with midge.Client(broker.url, client_id="dictprops") as c:
        c.subscribe("dp/#", qos=1)
        c.publish(
            "dp/1", b"x", qos=1,
            properties={"content_type": "text/plain", "user_properties": [("a", "1")]},
            user_properties={"b": "2"},
        )
        m = c.next_message(timeout=5)
        assert m is not None
        assert m.properties.content_type == "text/plain"
        assert m.properties.user_properties == (("a", "1"), ("b", "2"))
