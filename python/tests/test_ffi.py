"""test_ffi.py: the package's C declarations match include/fetchpool.h
(the public header, its only view of the library), and it never reads the
private headers."""

from __future__ import annotations

import os
import re

from conftest import ROOT

from fetchpool import _ffi


def _norm(s: str) -> str:
    s = re.sub(r"/\*.*?\*/", " ", s, flags=re.S)
    s = s.replace("FP_EXTERN", " ")
    s = re.sub(r"\s+", " ", s)
    s = re.sub(r"\s*([(),;*{}\[\]])\s*", r"\1", s)
    return s.strip()


def test_declarations_match_the_public_header():
    with open(os.path.join(ROOT, "include", "fetchpool.h")) as f:
        header = _norm(f.read())
    missing = []
    for decl in _ffi.CDEF.split(";"):
        d = _norm(decl)
        if not d or d == "typedef struct json_t json_t":
            continue
        if d.startswith("typedef enum") or d.startswith("typedef struct fp_executor_options") \
                or d.startswith("typedef struct fp_error"):
            # the header's versions carry comments and values; compare the
            # names in order
            names = re.findall(r"\b(\w+)\s*(?:=|;|,|\[)", decl)
            pos = 0
            for name in names:
                pos = header.find(name, pos)
                if pos < 0:
                    missing.append(f"{d[:40]}...: {name}")
                    break
            continue
        if d + ";" not in header:
            missing.append(d)
    assert not missing, "not in include/fetchpool.h as written here:\n" + "\n".join(missing)


def test_only_the_public_header():
    """The package declares only what include/fetchpool.h declares: it
    names none of the library's private headers (src/*.h) nor its
    internal fp__ symbols."""
    private = sorted(n for n in os.listdir(os.path.join(ROOT, "src")) if n.endswith(".h"))
    assert private, "no private headers found: the check would mean nothing"
    pkg = os.path.join(ROOT, "python", "fetchpool")
    for name in os.listdir(pkg):
        if name.endswith(".py"):
            with open(os.path.join(pkg, name)) as f:
                text = f.read()
            for h in private:
                assert not re.search(r"(?<![\w.])" + re.escape(h) + r"\b", text), \
                    f"{name} names src/{h}"
            assert "fp__" not in text, f"{name} uses an internal fp__ symbol"
