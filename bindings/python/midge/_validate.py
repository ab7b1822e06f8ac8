"""Argument checks shared by the public API: every bad argument raises a
:class:`~midge.errors.MidgeError` subclass naming the argument, before anything is sent.

A value of the wrong type raises :class:`~midge.errors.InvalidType` (also a ``TypeError``);
a value out of range raises :class:`~midge.errors.InvalidArgument` (also a ``ValueError``).
``bool`` is not accepted where a number is meant, nor a number where a flag is meant.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple, Union

from .errors import InvalidArgument, InvalidType

U16_MAX = 0xFFFF
U32_MAX = 0xFFFFFFFF


def _kind(v: Any) -> str:
    return "%s %r" % (type(v).__name__, v) if isinstance(v, (int, float, str, bytes)) else type(v).__name__


def integer(v: Any, what: str, maximum: int, minimum: int = 0) -> int:
    """An ``int`` (not a ``bool``) in ``minimum..maximum``."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidType("%s must be an int, not %s" % (what, _kind(v)))
    if not minimum <= v <= maximum:
        raise InvalidArgument("%s %d is not in %d..%d" % (what, v, minimum, maximum))
    return v


def optional_integer(v: Any, what: str, maximum: int, minimum: int = 0) -> Optional[int]:
    return None if v is None else integer(v, what, maximum, minimum)


def protocol_version(v: Any, what: str = "protocol_version") -> "ProtocolVersion":
    """A :class:`~midge.ProtocolVersion` (or its value: 4, 5 or 54)."""
    from ._enums import ProtocolVersion

    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidType(
            "%s must be a midge.ProtocolVersion (V5, V311 or V5_OR_V311), not %s" % (what, _kind(v))
        )
    try:
        return ProtocolVersion(v)
    except ValueError:
        raise InvalidArgument(
            "%s %d is not ProtocolVersion.V311 (4), V5 (5) or V5_OR_V311 (54)" % (what, v)
        ) from None


def qos(v: Any, what: str = "qos") -> int:
    """0, 1 or 2 (an ``int`` or a :class:`~midge.QoS`)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidType("%s must be 0, 1 or 2, not %s" % (what, _kind(v)))
    if v not in (0, 1, 2):
        raise InvalidArgument("%s %d is not 0, 1 or 2" % (what, v))
    return int(v)


def flag(v: Any, what: str) -> bool:
    """A ``bool``: ``'yes'``, ``1`` or ``None`` are refused rather than guessed."""
    if not isinstance(v, bool):
        raise InvalidType("%s must be True or False, not %s" % (what, _kind(v)))
    return v


def seconds(v: Any, what: str, maximum: float = float(U32_MAX)) -> float:
    """A duration in seconds: an ``int`` or ``float``, 0 or more."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidType("%s must be a number of seconds, not %s" % (what, _kind(v)))
    if not 0 <= v <= maximum:
        raise InvalidArgument("%s %r s is not in 0..%g s" % (what, v, maximum))
    return float(v)


def timeout(v: Any, what: str = "timeout") -> Optional[float]:
    """Seconds, or None for no limit."""
    return None if v is None else seconds(v, what)


def text(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise InvalidType("%s must be a str, not %s" % (what, _kind(v)))
    return v


def binary(v: Any, what: str) -> bytes:
    """``bytes``, ``bytearray`` or ``memoryview`` (copied to ``bytes``)."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    raise InvalidType("%s must be bytes, bytearray or memoryview, not %s" % (what, _kind(v)))


UserPropertiesArg = Union[None, Iterable[Tuple[str, str]], "dict[str, str]"]


def user_properties(v: Any, what: str = "user_properties") -> Tuple[Tuple[str, str], ...]:
    """User Properties: an iterable of ``(name, value)`` pairs of ``str`` (order and repeats
    kept) or a ``dict``. A bare string is refused (``['ab', 'cd']`` is not two pairs)."""
    if v is None:
        return ()
    if isinstance(v, (str, bytes)):
        raise InvalidType("%s must be (name, value) pairs or a dict, not %s" % (what, _kind(v)))
    if isinstance(v, dict):
        items: Iterable[Any] = v.items()
    else:
        try:
            items = iter(v)
        except TypeError:
            raise InvalidType("%s must be (name, value) pairs or a dict, not %s" % (what, _kind(v))) from None
    out = []
    for pair in items:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidType("%s: each item must be a (name, value) pair of str, not %r" % (what, pair))
        k, val = pair
        if not isinstance(k, str) or not isinstance(val, str):
            raise InvalidType("%s: name and value must be str, not %r" % (what, (k, val)))
        out.append((k, val))
    return tuple(out)


#: ``Client(durability=...)``: the C ``MIDGE_DURABILITY_*`` value of each name.
DURABILITY = {"os": 1, "fsync": 2, "fsync_before_send": 3}


def path(v: Any, what: str) -> str:
    """A file system path: a ``str`` or an ``os.PathLike`` giving one (not ``bytes``: the C
    API takes UTF-8), not empty."""
    import os

    p = os.fspath(v) if isinstance(v, os.PathLike) else v
    if not isinstance(p, str):
        raise InvalidType("%s must be a str or os.PathLike path, not %s" % (what, _kind(v)))
    if not p:
        raise InvalidArgument("%s is an empty path" % what)
    return p


def durability(v: Any, what: str = "durability") -> int:
    """``'os'``, ``'fsync'`` or ``'fsync_before_send'``: the C ``MIDGE_DURABILITY_*`` value."""
    names = "'os', 'fsync' or 'fsync_before_send'"
    if not isinstance(v, str):
        raise InvalidType("%s must be %s, not %s" % (what, names, _kind(v)))
    try:
        return DURABILITY[v]
    except KeyError:
        raise InvalidArgument("%s %r is not %s" % (what, v, names)) from None
