"""The repository invariants read only the clients that meet another (`validate.involved`),
and find exactly what they find on every client: on random repositories, and with a warm
cache when one client's change creates or removes a conflict with a cached client."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from dagsync.config.document import ClientIndex, Located
from dagsync.findings import Finding
from dagsync.validate.invariants import repository_findings
from dagsync.validate.involved import Meetings, involved_clients
from dagsync.validate.run import validate_repository
from dagsync.validate.speed.cache import ClientEntry, cache_path

DAY = dt.date(2026, 11, 2)

# Each value is the client's own, or now and then one of small shared pools, so that random
# clients sometimes meet: equal values, names under one another, networks holding addresses.
_IDS = ("a", "b")
_SERVERS = ("web1", "db1")
_IPS = ("10.0.0.1", "10.0.0.2", "10.200.0.9", "2001:db8::1")
_NETS = ("10.0.0.0/30", "10.0.0.2/32", "10.200.0.8/29", "10.0.0.0/8", "2001:db8::/127", "bad")
_NAMES = ("x.example", "shop.x.example", "a.shop.x.example", "y.example", "co.uk", "x.co.uk")
_DATABASES = ("shop", "x.example")
_SOURCES = ("info@x.example", "info@shop.x.example", "sales@y.example", "z@other.example")


def _values(
    rng: random.Random, shared: tuple[str, ...], own: list[str], most: int = 2
) -> list[str]:
    return [
        rng.choice(shared) if rng.random() < 0.12 else rng.choice(own)
        for _ in range(rng.randint(0, most))
    ]


def _random_index(rng: random.Random, number: int) -> ClientIndex:
    folder = f"client-{number}"
    client = f"clients/{folder}/client.yaml"
    server = f"clients/{folder}/servers/{rng.choice(_SERVERS)}.yaml"
    index = ClientIndex(rng.choice(_IDS) if rng.random() < 0.1 else rng.choice((folder, None)))

    def located(values: list[str], file: str, path: tuple[str | int, ...]) -> list[Located]:
        return [Located(v, file, (*path, i)) for i, v in enumerate(values)]

    names = [f"{folder}.example", f"shop.{folder}.example", f"{folder}.co.uk"]
    index.servers = located(_values(rng, _SERVERS, [f"s{number}", f"t{number}"]), server, ("name",))
    index.service_names = located(
        _values(rng, _SERVERS, [f"ns{number}", f"nt{number}"]), server, ("ovh", "service_name")
    )
    own_ips = [f"10.{number}.0.{k}" for k in range(1, 8)]
    index.ips = located(_values(rng, _IPS, own_ips, 3), server, ("ips",))
    index.mail_domains = located(_values(rng, _NAMES, names), client, ("mail", "domains"))
    index.vhost_names = located(_values(rng, _NAMES, names), server, ("vhosts",))
    index.databases = located(_values(rng, _DATABASES, [f"db{number}"], 1), server, ("databases",))
    if rng.random() < 0.15:
        index.forward_sources = [
            Located(rng.choice((*_SOURCES, f"me@{folder}.example")), client, ("mail", "f", 0))
        ]
    index.claim_hints = located(_values(rng, _NAMES, names, 1), server, ())
    own_nets = [f"10.{number}.0.0/29", f"10.{number}.0.3/32"]
    index.blocked = located(_values(rng, _NETS, own_nets, 1), client, ("network", "blocklist"))
    return index


def _as_json(index: ClientIndex) -> dict[str, object]:
    return ClientEntry.of("", "", None, [], index).index_json


@pytest.mark.parametrize("seed", range(400))
def test_the_invariants_of_the_clients_that_meet_are_those_of_the_whole_repository(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    indexes = {f"client-{n}": _random_index(rng, n) for n in range(rng.randint(2, 12))}
    involved = involved_clients({f: _as_json(i) for f, i in indexes.items()})
    whole = sorted(repository_findings(tmp_path, indexes))
    part = sorted(repository_findings(tmp_path, {f: indexes[f] for f in involved}))
    assert part == whole
    assert {f.client for f in whole} <= involved
    # as a run adds them: the cached clients, `settle`, then the ones just checked
    meetings = Meetings()
    later = set(rng.sample(sorted(indexes), rng.randint(0, len(indexes))))
    for folder in [f for f in indexes if f not in later]:
        meetings.add(folder, _as_json(indexes[folder]))
    meetings.settle()
    for folder in sorted(later):
        meetings.add(folder, _as_json(indexes[folder]))
    in_two_steps = meetings.involved()
    assert sorted(repository_findings(tmp_path, {f: indexes[f] for f in in_two_steps})) == whole


def test_clients_that_meet_nobody_are_left_out() -> None:
    alone = _random_index(random.Random(0), 99)
    alone.client_id, alone.servers, alone.ips = "alone", [], [Located("10.9.9.9", "f", ())]
    alone.mail_domains = [Located("alone.example", "f", ())]
    alone.vhost_names = [Located("www.alone.example", "f", ())]
    alone.databases, alone.forward_sources, alone.blocked = [], [], []
    other = ClientIndex("other", ips=[Located("10.0.0.1", "g", ())])
    other.blocked = [Located("10.0.0.0/24", "g", ())]  # its own address only
    indexes = {"alone": _as_json(alone), "other": _as_json(other)}
    assert involved_clients(indexes) == set()


# --- with a warm cache ------------------------------------------------------------------------

ALPINE_SHOP1 = "clients/alpine-books/servers/shop1.yaml"
CIME_DEV1 = "clients/cime-conseil/servers/dev1.yaml"
CIME = "clients/cime-conseil/client.yaml"
VELO_WEB1 = "clients/velo-savoie/servers/web1.yaml"


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text, f"{old!r} not in {rel}"
    (root / rel).write_text(text.replace(old, new, 1))


def _warm_and_cold(root: Path) -> list[Finding]:
    """The findings of a run with the cache, checked equal to those of a run without."""
    warm = validate_repository(root, today=DAY)
    cold = validate_repository(root, today=DAY, use_cache=False)
    assert warm.findings == cold.findings
    return list(warm.findings)


CONFLICTS = [
    pytest.param(CIME_DEV1, "ips: [198.51.100.21]", "ips: [203.0.113.10]", "REP010", id="ip"),
    pytest.param(
        VELO_WEB1,
        "  - domain: shop.velo-savoie.example\n",
        "  - domain: shop.velo-savoie.example\n    aliases: [www.alpine-books.example]\n",
        "REP012",
        id="name-under-another-clients-mail-domain",
    ),
    pytest.param(
        CIME,
        "  domains: [cime-conseil.example]",
        "  domains: [cime-conseil.example, alpine-books.example]",
        "REP012",
        id="mail-domain",
    ),
    pytest.param(
        "clients/velo-savoie/client.yaml",
        "    - address: 198.51.100.66/32\n",
        "    - address: 198.51.100.20/31\n",
        "REP015",
        id="blocklist",
    ),
]


@pytest.mark.parametrize(("rel", "old", "new", "rule"), CONFLICTS)
def test_a_change_in_one_client_that_creates_or_removes_a_conflict_is_seen_with_a_warm_cache(
    repo_copy: Path, rel: str, old: str, new: str, rule: str
) -> None:
    before = _warm_and_cold(repo_copy)  # also fills the cache
    assert not [f for f in before if f.rule == rule]
    _edit(repo_copy, rel, old, new)
    created = [f for f in _warm_and_cold(repo_copy) if f.rule == rule]
    assert created
    _edit(repo_copy, rel, new, old)
    assert not [f for f in _warm_and_cold(repo_copy) if f.rule == rule]


# --- the cache file: one client a line, unchanged lines written back as read ------------------


def _entries(path: Path) -> dict[str, dict[str, object]]:
    """The cache's entries without their stats (a fingerprint that depends on the clock)."""
    data = json.loads(path.read_bytes())
    return {c: {k: v for k, v in e.items() if k != "stats"} for c, e in data["clients"].items()}


def test_a_run_with_one_client_changed_rewrites_its_line_and_keeps_the_others(
    repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warm_and_cold(repo_copy)
    before = cache_path(repo_copy).read_bytes().split(b"\n")
    assert len(before) == 2 + 3  # header, three clients, end
    _edit(repo_copy, CIME_DEV1, "ips: [198.51.100.21]", "ips: [203.0.113.10]")
    validate_repository(repo_copy, today=DAY)
    after = cache_path(repo_copy).read_bytes().split(b"\n")
    changed = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a]
    assert [after[i][:16] for i in changed] == [b'"cime-conseil":{']
    # the same entries as a cache written from scratch by a cold run
    incremental = _entries(cache_path(repo_copy))
    monkeypatch.setenv("DAGSYNC_CACHE_DIR", str(tmp_path / "fresh"))
    validate_repository(repo_copy, today=DAY)
    assert _entries(cache_path(repo_copy)) == incremental


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: json.dumps(json.loads(b)).encode(), id="one-line-json"),
        pytest.param(lambda b: json.dumps(json.loads(b), indent=1).encode(), id="indented"),
        pytest.param(lambda b: b.replace(b"},\n", b"}, \n", 1), id="space-before-newline"),
        pytest.param(lambda b: b.replace(b'{"key"', b' {"key"', 1), id="space-in-a-line"),
    ],
)
def test_a_cache_file_of_any_json_layout_is_read_and_rewritten_whole(
    repo_copy: Path, damage: Callable[[bytes], bytes]
) -> None:
    _warm_and_cold(repo_copy)
    path = cache_path(repo_copy)
    path.write_bytes(damage(path.read_bytes()))
    json.loads(path.read_bytes())  # still JSON
    _edit(repo_copy, CIME_DEV1, "ips: [198.51.100.21]", "ips: [203.0.113.10]")
    assert [f.rule for f in _warm_and_cold(repo_copy) if f.rule.startswith("REP")] == ["REP010"]
    text = path.read_bytes()
    assert len(text.split(b"\n")) == 2 + 3 and json.loads(text)["clients"].keys() == {
        "alpine-books",
        "cime-conseil",
        "velo-savoie",
    }
