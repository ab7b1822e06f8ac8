"""Checks every ctypes declaration of the package against include/midge.h: the function
exists, has as many parameters, and each type has the same ABI class (pointer, bool, or
an integer of the same width and signedness; callbacks recursively)."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from midge import _lib

Proto = Tuple[str, List[str]]

INTS = {
    "int": (4, True),
    "unsigned int": (4, False),
    "int8_t": (1, True),
    "uint8_t": (1, False),
    "int16_t": (2, True),
    "uint16_t": (2, False),
    "int32_t": (4, True),
    "uint32_t": (4, False),
    "int64_t": (8, True),
    "uint64_t": (8, False),
    "size_t": (ctypes.sizeof(ctypes.c_size_t), False),
    "char": (1, True),
}


def _strip(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))


def _param_type(param: str) -> str:
    """'const char *const *filters' -> 'const char *const *' (drops the name)."""
    p = " ".join(param.split())
    m = re.match(r"^(.*?)(\w+)$", p)
    if m and m.group(1).strip() and m.group(2) not in INTS:
        return m.group(1).strip()
    return p


def parse_header(path: Path) -> Tuple[Dict[str, Proto], Dict[str, Proto], set]:
    text = _strip(path.read_text())
    enums = set(re.findall(r"typedef enum \{[^}]*\}\s*(\w+)\s*;", text))
    # Fixed-width integer typedefs (midge_result is an int32_t) are their integer type.
    for base, alias in re.findall(r"typedef\s+(u?int\d+_t)\s+(\w+)\s*;", text):
        INTS[alias] = INTS[base]
    callbacks: Dict[str, Proto] = {}
    for m in re.finditer(r"typedef\s+([\w\s\*]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;", text):
        params = [_param_type(p) for p in m.group(3).split(",") if p.strip() and p.strip() != "void"]
        callbacks[m.group(2)] = (" ".join(m.group(1).split()), params)
    functions: Dict[str, Proto] = {}
    body = text[text.index('extern "C"'):]
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\s*\b(midge_\w+)\s*\(([^)]*)\)\s*;", body):
        params = [_param_type(p) for p in m.group(3).split(",") if p.strip() and p.strip() != "void"]
        functions[m.group(2)] = (" ".join(m.group(1).split()), params)
    return functions, callbacks, enums


def parse_structs(path: Path) -> Dict[str, List[Tuple[str, str]]]:
    """The plain structs: name -> [(C type, field name), ...] in order."""
    text = _strip(path.read_text())
    structs: Dict[str, List[Tuple[str, str]]] = {}
    for m in re.finditer(r"typedef struct \{([^}]*)\}\s*(\w+)\s*;", text):
        fields = []
        for decl in m.group(1).split(";"):
            decl = " ".join(decl.split())
            if decl:
                ctype, name = decl.rsplit(" ", 1)
                stars = len(name) - len(name.lstrip("*"))  # `const char *string`
                fields.append(((ctype + " " + "*" * stars).strip(), name.lstrip("*")))
        structs[m.group(2)] = fields
    return structs


def _base(ctype: str) -> Tuple[str, int]:
    """'const uint8_t *' -> ('uint8_t', 1 pointer level)."""
    stars = ctype.count("*")
    base = re.sub(r"\bconst\b", "", ctype.replace("*", " "))
    return " ".join(base.split()), stars


def _is_pointer_type(t) -> bool:
    return t in (ctypes.c_void_p, ctypes.c_char_p) or (
        isinstance(t, type) and issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr))
    )


def check_type(c: str, t, callbacks, enums, where: str, structs=None) -> None:
    base, stars = _base(c)
    if stars == 0 and structs and base in structs:
        assert isinstance(t, type) and issubclass(t, ctypes.Structure), (
            "%s: %s is a struct, declared %r" % (where, c, t)
        )
        fields = structs[base]
        assert [n for n, _ in t._fields_] == [n for _, n in fields], "%s: %s fields" % (where, base)
        for (ctype, name), (_, ft) in zip(fields, t._fields_):
            check_type(ctype, ft, callbacks, enums, "%s.%s" % (where, name), structs)
        return
    if stars == 0 and base in callbacks:
        assert isinstance(t, type) and issubclass(t, ctypes._CFuncPtr), (
            "%s: %s is a callback type, declared %r" % (where, c, t)
        )
        ret, params = callbacks[base]
        assert len(t._argtypes_) == len(params), "%s: callback %s arity" % (where, base)
        check_type(ret, t._restype_, callbacks, enums, where + " -> " + base + " return")
        for i, (p, a) in enumerate(zip(params, t._argtypes_)):
            check_type(p, a, callbacks, enums, "%s -> %s arg %d" % (where, base, i))
        return
    if stars == 0:
        if base == "void":
            assert t is None, "%s: void declared %r" % (where, t)
        elif base == "bool":
            assert t is ctypes.c_bool, "%s: bool declared %r" % (where, t)
        elif base in enums:
            assert t in (ctypes.c_int, ctypes.c_uint), "%s: enum %s declared %r" % (where, base, t)
        elif base in INTS:
            size, signed = INTS[base]
            assert t is not None and not _is_pointer_type(t) and t is not ctypes.c_bool, (
                "%s: %s declared %r" % (where, base, t)
            )
            assert ctypes.sizeof(t) == size, "%s: %s is %d bytes, declared %r" % (where, base, size, t)
            assert (t(-1).value < 0) == signed, "%s: %s signedness, declared %r" % (where, base, t)
        else:
            raise AssertionError("%s: unknown C type %r" % (where, c))
        return
    # a pointer
    assert _is_pointer_type(t), "%s: %s is a pointer, declared %r" % (where, c, t)
    if t is ctypes.c_char_p:
        assert stars == 1 and base in ("char", "uint8_t"), "%s: %s declared c_char_p" % (where, c)
    elif isinstance(t, type) and issubclass(t, ctypes._Pointer):
        inner = re.sub(r"\*\s*$", "", c.strip()).strip()
        inner = re.sub(r"\s*\bconst\s*$", "", inner).strip()
        check_type(inner, t._type_, callbacks, enums, where + " (pointee)", structs)
    elif t is ctypes.c_void_p:
        pass  # opaque handle or raw bytes: any pointer
    else:
        raise AssertionError("%s: %s declared %r" % (where, c, t))


@pytest.fixture(scope="module")
def parsed(header):
    assert header.is_file(), header
    return parse_header(header)


def test_header_parses(parsed):
    functions, callbacks, enums = parsed
    assert len(functions) > 100
    assert functions["midge_client_publish"][1][3] == "size_t"
    assert "midge_message_cb" in callbacks and INTS.get("midge_result") == (4, True)


def test_every_declared_function_matches_the_header(parsed, header):
    functions, callbacks, enums = parsed
    structs = parse_structs(header)
    for name, (restype, argtypes) in _lib.SIGNATURES.items():
        assert name in functions, "%s is not in midge.h" % name
        ret, params = functions[name]
        assert len(argtypes) == len(params), "%s: %d parameters in midge.h, %d declared" % (
            name, len(params), len(argtypes))
        check_type(ret, restype, callbacks, enums, name + " return")
        for i, (p, a) in enumerate(zip(params, argtypes)):
            check_type(p, a, callbacks, enums, "%s arg %d (%s)" % (name, i, p), structs)


def test_structs_match_the_header(parsed, header):
    _, callbacks, enums = parsed
    structs = parse_structs(header)
    assert set(structs) == set(_lib.STRUCTS), "declare these in midge/_lib.py STRUCTS"
    for name, t in _lib.STRUCTS.items():
        check_type(name, t, callbacks, enums, name, structs)
    # The checker itself: a field of the wrong width is reported.
    class Narrow(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for _, n in structs["midge_io_stats"]]

    with pytest.raises(AssertionError):
        check_type("midge_io_stats", Narrow, callbacks, enums, "x", structs)


def test_every_header_function_is_declared(parsed):
    functions, _, _ = parsed
    missing = sorted(set(functions) - set(_lib.SIGNATURES))
    assert not missing, "declare these in midge/_lib.py: %s" % missing


def test_callback_typedefs_match(parsed):
    _, callbacks, enums = parsed
    assert set(_lib.CALLBACK_TYPEDEFS) == set(callbacks)
    for name, cb in _lib.CALLBACK_TYPEDEFS.items():
        check_type(name, cb, callbacks, enums, name)


def test_declarations_are_applied_to_the_loaded_library():
    for name, (restype, argtypes) in _lib.SIGNATURES.items():
        fn = getattr(_lib.lib, name)
        assert fn.restype == restype and list(fn.argtypes) == list(argtypes), name


def test_checker_catches_a_changed_signature(parsed):
    """The checker itself: wrong widths, counts and pointer-ness are reported."""
    functions, callbacks, enums = parsed
    with pytest.raises(AssertionError):
        check_type("uint16_t", ctypes.c_uint32, callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("size_t", ctypes.c_uint32, callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("int64_t", ctypes.c_uint64, callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("const char *", ctypes.c_size_t, callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("bool", ctypes.c_int, callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("size_t *", ctypes.POINTER(ctypes.c_uint32), callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("midge_ack_cb", ctypes.CFUNCTYPE(None, ctypes.c_void_p), callbacks, enums, "x")
    with pytest.raises(AssertionError):
        check_type("midge_result", ctypes.c_int64, callbacks, enums, "x")


def test_result_enum_mirrors_the_header(header):
    import midge
    text = header.read_text()
    values = dict((k, int(v)) for k, v in re.findall(r"#define MIDGE_RESULT_(\w+) (\d+)", text))
    assert values, "the MIDGE_RESULT_* constants are #defines"
    assert values == {r.name: r.value for r in midge.Result}
    for r in midge.Result:
        if r != midge.Result.OK:
            assert r in midge.errors.ERRORS, r
