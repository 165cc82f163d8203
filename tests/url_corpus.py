"""The URL corpus of the WHATWG differential test (tests/unit/test_urls_differential.py),
also run under Pyodide (tests/pyodide) to check CPython and Pyodide serialize alike.

Hand-picked hard cases (every host, segment and query of the pools below, plainly) plus a
seeded random mix of schemes, slashes, userinfo, hosts, ports, paths, queries, fragments
and whitespace, absolute and relative to a base (how v1 manifest keys resolve).
"""

from __future__ import annotations

import random

HOSTS = [
    "example.com",
    "EXAMPLE.COM",
    "Ex%41mple.com",
    "ex%2Eample.com",
    "example.com.",
    "a..b",
    "a_b.example",
    "-a-.example",
    "a*b.example",
    "a$b!.example",
    "1a.example",
    "bücher.de",
    "BÜCHER.de",
    "xn--bcher-kva.de",
    "XN--BCHER-KVA.de",
    "xn--bcher-kva.DE",
    "例え.jp",
    "日本語.jp",
    "한국.kr",
    "пример.рф",
    "ПРИМЕР.РФ",
    "ελλάδα.gr",
    "ΕΛΛΆΔΑ.gr",
    "ひらがな.jp",
    "カタカナ.jp",
    "ไทย.th",
    "straße.de",
    "ς.gr",
    "a\u200db.com",
    "ǅ.com",
    "ſ.com",
    "µ.com",
    "ｅｘａｍｐｌｅ.com",
    "a。b。c",
    "a．b",
    "ä\u0308.de",
    "עברית.il",
    "مثال.eg",
    "٣.com",
    "%C3%A9.com",
    "%c3%a9.com",
    "%FF.com",
    "%zz.com",
    "%25.com",
    "xn--a",
    "xn--",
    "xn--zz-",
    "xn--abc",
    "xn--mnchen-3ya.de",
    "xn--ls8h",
    "ex ample.com",
    "exa<mple.com",
    "exa>mple.com",
    "exa^mple.com",
    "exa|mple.com",
    "exa%20mple.com",
    "exa%00mple.com",
    "a%2Fb.com",
    "\u00ad.com",
    "a\u00adb.com",
    "1.2.3.4",
    "1.2.3.4.",
    "0x7f.1",
    "0X7F.0.0.1",
    "127.1",
    "017.0.0.1",
    "09.0.0.1",
    "4294967295",
    "4294967296",
    "1.2.3.256",
    "256.1.1.1",
    "1.2.3.4.5",
    "0x",
    "0x.0x",
    "foo.09",
    "foo.0x",
    "foo.0xg",
    "foo.1",
    "1.2..3",
    "0x100000000",
    "1.0x1000000",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:1.2.3.4]",
    "[::FFFF:102:304]",
    "[1:2:3:4:5:6:7:8]",
    "[1::]",
    "[::]",
    "[1:0:0:2::3]",
    "[1:0::0:2:0:0]",
    "[::1",
    "[:::]",
    "[1:2:3:4:5:6:7:8:9]",
    "[::1.2.3]",
    "[::1.2.3.04]",
    "[::1.2.3.4.5]",
    "[0::0:1.2.3.4]",
    "[g::1]",
    "[::1]x",
    "",
    "a:b",
    "@",
    "localhost",
    "LOCALHOST",
    "xn--nxasmq6b.gr",
    "xn--caf-dma.fr",
    "café.fr",
    "CAFÉ.fr",
    "café.FR",
    "exam\tple.com",
    "exam\nple.com",
]
SCHEMES = ["http"] * 5 + ["https"] * 5 + ["HTTP", "HtTpS", "ftp", "javascript", "ws", "file", ""]
SEPARATORS = ["://", ":", ":/", ":///", ":\\\\", ":/\\", "://\\", ":////"]
USERINFOS = ["", "", "", "user@", "u:p@", "@", ":@", "a@b@", "us er:pä@", "u%40:p@", "a:b:c@"]
PORTS = [
    "",
    "",
    "",
    ":80",
    ":443",
    ":8080",
    ":",
    ":0080",
    ":00443",
    ":65535",
    ":65536",
    ":-1",
    ":8a",
    ":99999999999999999999",
    ":0",
]
SEGMENTS = [
    "",
    "a",
    "A",
    "index.html",
    "ä",
    "%C3%A4",
    "%c3%a4",
    ".",
    "..",
    "%2e",
    "%2E%2e",
    ".%2E",
    "%2e.",
    "a b",
    '"',
    "<",
    ">",
    "^",
    "`",
    "{",
    "|",
    "}",
    "日本",
    "%",
    "%zz",
    "%4",
    "a\\b",
    "a\tb",
    "a\nb",
    "~!$&'()*+,;=:@",
    "\x7f",
    "\x01",
    "😀",
    "[x]",
    "%2F",
    "%00",
    "é",
    "\u00ad",
    "ǅ",
    "'",
    "a%20b",
    "...",
    "a.",
    ".a",
]
QUERIES = [
    "",
    "",
    "?",
    "?a=b",
    "?ä=ö",
    "?q=%zz",
    "?a b",
    "?'\"<>`",
    "?{}|^",
    "?%41",
    "?\\",
    "?/..",
    "?a=1&b=2",
    "??",
    "?😀",
    "?\x7f\x01",
    "?%C3%A4",
]
FRAGMENTS = ["", "", "#", "#frag", "#ä b", "#a#b", "#?x"]
WHITESPACE = ["", "", "", "", " ", "\t", "\x00", "\n", " \x1f"]
BASES = [
    "https://site.example/",
    "https://site.example/dir/page.html?q=1",
    "http://site.example:8080/a/b/c",
    "https://bücher.example/x/y/",
    "https://user:pw@site.example/p?q",
    "http://[::1]/a/b",
    "https://1.2.3.4/",
]
RELATIVES = [
    "",
    "a",
    "a/b",
    "./a",
    "../a",
    "../../../../a",
    ".",
    "..",
    "./",
    "../",
    "/",
    "/abs",
    "//host/p",
    "//HOST:443/p",
    "\\\\host\\p",
    "\\abs",
    "..\\..\\x",
    "?q",
    "??",
    "?",
    "#f",
    "#",
    "http:rel",
    "https:rel",
    "http:/rel",
    "https://other.example/z",
    "HTTP:\\\\x.example\\y",
    "ä/ö?ü",
    "%2e%2e/x",
    "%2E/x",
    ";x",
    "a/..",
    "a/.",
    "a/%2e%2e",
    "app.js",
    "js/app.js?v=1",
    "/static/日本.js",
    "a b.js",
    "x.js#frag",
    "mailto:x",
    "//",
    "///x",
    "http:",
    "https:",
    "//[::1]:80/",
    "//user@h/",
    " a ",
    "\ta\nb",
    "data:text/javascript,x",
    "blob:https://site.example/uuid",
]


def _random_url(rng: random.Random) -> str:
    scheme = rng.choice(SCHEMES)
    sep = rng.choice(SEPARATORS) if scheme else rng.choice(["//", ""])
    path = ""
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        path += rng.choice(["/", "/", "/", "\\"]) + rng.choice(SEGMENTS)
    return (
        rng.choice(WHITESPACE)
        + scheme
        + sep
        + rng.choice(USERINFOS)
        + rng.choice(HOSTS)
        + rng.choice(PORTS)
        + path
        + rng.choice(QUERIES)
        + rng.choice(FRAGMENTS)
        + rng.choice(WHITESPACE)
    )


def _random_relative(rng: random.Random) -> str:
    out = rng.choice(RELATIVES)
    for _ in range(rng.choice([0, 0, 1, 2])):
        out += rng.choice(["/", "\\", ""]) + rng.choice(SEGMENTS)
    return out + rng.choice(QUERIES) + rng.choice(FRAGMENTS)


def corpus() -> list[tuple[str, str | None]]:
    cases: list[tuple[str, str | None]] = []
    for host in HOSTS:  # every host, plainly
        cases.append((f"https://{host}/", None))
        cases.append((f"http://{host}:8080/p?q#f", None))
    for seg in SEGMENTS:  # every segment and query, plainly
        cases.append((f"https://site.example/{seg}/x", None))
        cases.append((f"https://site.example/p?{seg}", None))
    for base in BASES:
        cases.append((base, None))
        cases.extend((rel, base) for rel in RELATIVES)
    rng = random.Random(20261130)
    cases.extend((_random_url(rng), None) for _ in range(3500))
    cases.extend((_random_relative(rng), rng.choice(BASES)) for _ in range(1500))
    return cases
