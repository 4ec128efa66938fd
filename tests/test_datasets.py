"""Datasets: files read into items or refused with the line at fault, uploads that
replace whole or change nothing, through the API of a running server and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from evals.datasets import MAX_ITEMS, MAX_UPLOAD_BYTES, DatasetError, parse
from store.datasets import NewItem
from tests.server import Server

CSV = (
    "id,input,expected_output,topic\r\n"
    "q1,What is 2+2?,4,math\r\n"
    'q2,"Say ""hi""\non two lines",hi,greeting\r\n'
    "q3,Empty expectation,,misc\r\n"
)
JSONL = (
    '{"id": "a", "input": "Refund order 1042", "expected_output": "refunded", "tier": 2}\n'
    "\n"
    '{"id": 7, "input": "Order as JSON", "expected_output": {"type": "object"}, '
    '"tags": ["x"]}\n'
)


def _jsonl(*items: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps(item) for item in items).encode()


def test_csv_reads_keys_fields_and_metadata() -> None:
    items = parse(CSV.encode(), "csv")
    assert items == [
        NewItem(1, "q1", "What is 2+2?", "4", {"topic": "math"}),
        NewItem(2, "q2", 'Say "hi"\non two lines', "hi", {"topic": "greeting"}),
        NewItem(3, "q3", "Empty expectation", None, {"topic": "misc"}),
    ]


def test_jsonl_keeps_structured_values_as_json_text() -> None:
    items = parse(JSONL.encode(), "jsonl")
    assert items == [
        NewItem(1, "a", "Refund order 1042", "refunded", {"tier": 2}),
        NewItem(3, "7", "Order as JSON", '{"type":"object"}', {"tags": ["x"]}),
    ]


def test_without_an_id_the_key_is_the_row_or_line_number() -> None:
    csv_items = parse(b"\xef\xbb\xbfinput,expected_output\nq,a\nr,b\n", "csv")  # with a BOM
    assert [(item.key, item.input) for item in csv_items] == [("1", "q"), ("2", "r")]
    lines = parse(
        b'{"input": "q", "expected_output": "a"}\n\n{"input": "r", "expected_output": 1}', "jsonl"
    )
    assert [(item.key, item.expected_output) for item in lines] == [("1", "a"), ("3", "1")]


HEAD = b"id,input,expected_output\n"
A = {"id": "a", "expected_output": "x"}


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (HEAD + b'q1,a,b\nq2,"unclosed,x\n', "csv", "line 3: not valid CSV"),
        (HEAD + b'q1,"a"b,c\n', "csv", "line 2: not valid CSV"),
        (HEAD + b"q1,a\n", "csv", "line 2 (row 1): 2 fields, the header has 3"),
        (b"id,input\nq1,a\n", "csv", "line 1: no 'expected_output' column"),
        (b"topic,expected_output\nx,a\n", "csv", "line 1: an 'id' or an 'input' column"),
        (b"id,id,expected_output\n", "csv", "line 1, column 2: column 'id' appears twice"),
        (
            HEAD + b"q1,a,b\nq1,c,d\n",
            "csv",
            "line 3 (row 2): duplicate id 'q1' (first on line 2 (row 1))",
        ),
        (HEAD + b'q1,"two\nlines",b\n,c,d\n', "csv", "line 4 (row 2), column id: the id is empty"),
        (HEAD, "csv", "the file has no items"),
        (HEAD + b"q1,a,b\x00\n", "csv", "line 2: a NUL character"),
        (_jsonl(A) + b'\n{"id": "b", "expected_output": ', "jsonl", "line 2: not valid JSON"),
        (
            _jsonl(A, {**A, "expected_output": "y"}),
            "jsonl",
            "line 2: duplicate id 'a' (first on line 1)",
        ),
        (_jsonl({"id": "a", "input": "x"}), "jsonl", "line 1: no 'expected_output' field"),
        (
            _jsonl(A, {"input": "b", "expected_output": "y"}),
            "jsonl",
            "line 2: no 'id' field, unlike the first item",
        ),
        (
            _jsonl({**A, "id": 1.5}),
            "jsonl",
            "line 1, column id: an id is text or an integer, not a number",
        ),
        (_jsonl({**A, "expected_output": "x\u0000y"}), "jsonl", "line 1: a NUL character"),
        (b'["a", "b"]', "jsonl", "line 1: an item is a JSON object, not an array"),
        (b'{"id": "a", "expected_output": "caf\xe9"}', "jsonl", "line 1: not UTF-8 text"),
    ],
)
def test_bad_files_are_refused_naming_the_line(data: bytes, fmt: Any, message: str) -> None:
    with pytest.raises(DatasetError) as raised:
        parse(data, fmt)
    assert str(raised.value).startswith(message), str(raised.value)


def test_size_and_item_count_are_bounded() -> None:
    with pytest.raises(DatasetError, match="over the"):
        parse(b" " * (MAX_UPLOAD_BYTES + 1), "jsonl")
    many = b"\n".join(b'{"input": "%d", "expected_output": "x"}' % n for n in range(MAX_ITEMS + 1))
    with pytest.raises(DatasetError, match=f"over {MAX_ITEMS:,} items"):
        parse(many, "jsonl")


# -- through the API of a running server ------------------------------------------------


def _upload(server: Server, project: str, name: str, body: bytes, kind: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/datasets",
        params={"project": project, "name": name},
        content=body,
        headers={"Content-Type": kind},
        timeout=60,
    )


def _items(server: Server, project: str, name: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server.url}/api/datasets/{name}/items", params={"project": project, **params}
    )


def test_upload_creates_then_replaces_whole(server: Server, project: str) -> None:
    created = _upload(server, project, "golden", CSV.encode(), "text/csv")
    assert created.status_code == 201, created.text
    assert created.json() == {
        "project": project, "name": "golden", "items": 3, "previous_items": 0, "created": True,
    }  # fmt: skip
    replaced = _upload(server, project, "golden", JSONL.encode(), "application/x-ndjson")
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["items"], replaced.json()["previous_items"]) == (2, 3)

    page = _items(server, project, "golden").json()
    assert page["item_count"] == 2
    assert [(item["key"], item["position"]) for item in page["items"]] == [("a", 1), ("7", 3)]
    assert page["items"][1]["metadata"] == {"tags": ["x"]}
    listing = httpx.get(f"{server.url}/api/datasets", params={"project": project}).json()
    assert [(found["name"], found["item_count"]) for found in listing["datasets"]] == [
        ("golden", 2)
    ]


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (HEAD + b'q1,"unclosed\n', "text/csv", "line 2: not valid CSV"),
        (_jsonl(A) + b"\n{oops}\n", "application/jsonl", "line 2: not valid JSON"),
        (HEAD + b"k,a,b\nk,c,d\n", "text/csv", "line 3 (row 2): duplicate id 'k'"),
        (b"id,input\nk,a\n", "text/csv", "line 1: no 'expected_output' column"),
    ],
)
def test_a_bad_upload_changes_nothing(
    server: Server, project: str, body: bytes, kind: str, message: str
) -> None:
    assert _upload(server, project, "kept", CSV.encode(), "text/csv").status_code == 201
    before = _items(server, project, "kept").json()

    refused = _upload(server, project, "kept", body, kind)
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith(message), refused.json()
    assert _items(server, project, "kept").json() == before


def test_items_page_in_file_order(server: Server, project: str) -> None:
    body = _jsonl(*({"id": f"k{n}", "expected_output": str(n)} for n in range(1, 8)))
    assert _upload(server, project, "paged", body, "application/x-ndjson").status_code == 201
    keys, after = [], 0
    while after is not None:
        page = _items(server, project, "paged", limit=3, after=after).json()
        keys += [item["key"] for item in page["items"]]
        after = page["next_after"]
    assert keys == [f"k{n}" for n in range(1, 8)]


def test_upload_requests_that_are_refused(server: Server, project: str) -> None:
    unknown_type = _upload(server, project, "x", CSV.encode(), "application/x-www-form-urlencoded")
    assert unknown_type.status_code == 415
    overridden = httpx.post(
        f"{server.url}/api/datasets",
        params={"project": project, "name": "x", "format": "csv"},
        content=CSV.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert overridden.status_code == 201, overridden.text
    bad_name = _upload(server, project, "no/slash", CSV.encode(), "text/csv")
    assert bad_name.status_code == 400 and "dataset name" in bad_name.json()["detail"]
    cross_site = httpx.post(
        f"{server.url}/api/datasets",
        params={"project": project, "name": "x"},
        content=CSV.encode(),
        headers={"Content-Type": "text/csv", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    too_big = _upload(server, project, "x", b"#" * (MAX_UPLOAD_BYTES + 1), "text/csv")
    assert too_big.status_code == 413
    assert _items(server, project, "missing").status_code == 404
    unknown_project = httpx.get(f"{server.url}/api/datasets", params={"project": "nope-" + project})
    assert unknown_project.status_code == 404


# -- through the CLI ----------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reasonlens", "dataset", *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_cli_uploads_lists_and_refuses(fresh_db: str, tmp_path: Path) -> None:
    good = tmp_path / "golden.csv"
    good.write_text(CSV)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        _jsonl({"id": "a", "expected_output": "x"}, {"id": "a", "expected_output": "y"})
    )

    done = _cli("upload", "golden", str(good), "--project", "shop", "--db", fresh_db)
    assert done.returncode == 0, done.stderr
    assert "dataset golden in project shop: created, 3 items" in done.stdout

    refused = _cli("upload", "golden", str(bad), "--project", "shop", "--db", fresh_db)
    assert refused.returncode == 2
    assert "line 2: duplicate id 'a' (first on line 1)" in refused.stderr

    listed = _cli("list", "--project", "shop", "--db", fresh_db)
    assert listed.returncode == 0, listed.stderr
    assert "golden" in listed.stdout and " 3 " in listed.stdout  # still the good file's items
