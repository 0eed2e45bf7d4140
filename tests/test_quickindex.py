"""The quick identifier scan used for the invariants of --changed-since runs: whenever it
answers, it answers exactly what the YAML parser reads; otherwise it says None."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dagsync.config.yamlio import load
from dagsync.validate.quickindex import client_id, server_ids

ROOT = Path(__file__).resolve().parents[1]
SERVERS = sorted((ROOT / "clients").glob("*/servers/*.yaml"))
CLIENTS = sorted((ROOT / "clients").glob("*/client.yaml"))


def _parsed_server(text: str) -> tuple[str, str, list[str]] | None:
    data, problem = load(text)
    if problem is not None or not isinstance(data, dict):
        return None
    ovh = data.get("ovh")
    ips = data.get("ips")
    if not isinstance(ovh, dict) or not isinstance(ips, list):
        return None
    return data.get("name"), ovh.get("service_name"), [str(i) for i in ips]


def _agrees(text: str) -> bool:
    """The contract: on every text the parser accepts, the scan says None or the same thing.
    (A file the parser rejects is reported when it is validated; what the scan reads from it
    for the invariants does not matter.)"""
    if load(text)[1] is not None:
        return True
    quick = server_ids(text)
    return quick is None or quick == _parsed_server(text)


@pytest.mark.parametrize("path", SERVERS, ids=lambda p: p.stem)
def test_the_example_servers_are_read_by_the_scan_exactly(path: Path) -> None:
    text = path.read_text()
    assert server_ids(text) is not None
    assert server_ids(text) == _parsed_server(text)


@pytest.mark.parametrize("path", CLIENTS, ids=lambda p: p.parent.name)
def test_the_example_clients_ids_are_read_by_the_scan_exactly(path: Path) -> None:
    data, _ = load(path.read_text())
    assert client_id(path.read_text()) == data["id"]


BASE = (ROOT / "clients/velo-savoie/servers/web1.yaml").read_text()

EDITS = {
    "comment after the value": ("name: web1", "name: web1  # the first web server"),
    "double quotes": ("name: web1", 'name: "web1"'),
    "single quotes": ("name: web1", "name: 'web1'"),
    "escaped quotes": ("name: web1", 'name: "we\\x62"'),
    "plain scalar on two lines": ("name: web1", "name: web1\n  more"),
    "name written twice": ("name: web1", "name: web1\nname: web9"),
    "service name outside ovh": ("  service_name:", "other: 1\n  service_name:"),
    "ovh as a flow mapping": (
        "ovh:\n  service_name: ns3200001.ip-203-0-113.eu",
        "ovh: {service_name: ns3200001.ip-203-0-113.eu",
    ),
    "block list of ips": ("ips: [203.0.113.41]", "ips:\n  - 203.0.113.41"),
    "two ips": ("ips: [203.0.113.41]", "ips: [203.0.113.41, '2001:db8::1']"),
    "empty ips": ("ips: [203.0.113.41]", "ips: []"),
    "anchor": ("name: web1", "name: &n web1"),
    "second document": ("role: production", "role: production\n---\nname: x"),
    "multi-line flow mapping": ("os: {name: debian,", "os: {name: debian,\nname: x,"),
    "tab indentation": ("  service_name:", "\tservice_name:"),
    # Found by hypothesis: `name:1#: web1` is the key `name:1#`, not `name` with a comment.
    "no space after the key's colon": ("name: web1", "name:1#: web1"),
    "hash inside a plain value": ("name: web1", "name: web1#x"),
    "id without space after the colon": ("  service_name: ", "  service_name:x#: "),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_the_scan_never_disagrees_with_the_parser(edit: str) -> None:
    old, new = EDITS[edit]
    assert old in BASE
    assert _agrees(BASE.replace(old, new, 1))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(sorted(EDITS)), st.booleans()), min_size=1, max_size=4),
    st.text(alphabet=" \n#:-[]{}'\"abc12", max_size=12),
    st.integers(min_value=0, max_value=len(BASE)),
)
@example(edits=[("comment after the value", False)], noise="1#:", at=BASE.index("name:") + 5)
def test_random_edits_never_make_the_scan_disagree(
    edits: list[tuple[str, bool]], noise: str, at: int
) -> None:
    text = BASE
    for name, apply in edits:
        if apply:
            old, new = EDITS[name]
            text = text.replace(old, new, 1)
    text = text[:at] + noise + text[at:]
    assert _agrees(text)


@pytest.mark.parametrize(
    "line",
    ["id:alpine-books", "id:x#: alpine-books", "id: alpine-books#x", "id:\talpine#: x"],
)
def test_a_client_id_the_parser_does_not_read_as_id_makes_the_scan_abstain(line: str) -> None:
    text = (ROOT / "clients/alpine-books/client.yaml").read_text()
    edited = text.replace("\nid: alpine-books", "\n" + line, 1)
    assert edited != text
    data, problem = load(edited)
    assert problem is not None or data.get("id") != "alpine-books"
    assert client_id(edited) is None
