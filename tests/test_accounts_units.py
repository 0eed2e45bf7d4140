"""The accounts resource without hosts: what a hostile host listing or key comment can do.

The host-side half (links, FIFOs, reading as the user) is proved on test hosts in
`test_accounts_hosts.py`; here: the client keeps only lines that parse as keys, splits host
output on "\\n" only, and key comments are printable ASCII (model and renderer)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from dagsync.model.base import SshPublicKey
from dagsync.reconcile.core import Change, DiffOptions, Note
from dagsync.reconcile.hosts import accounts, rootaccess
from dagsync.reconcile.hosts.accounts_apply import _keys_file
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import Selection
from dagsync.reconcile.shell import UnsafeValue, key_line
from dagsync.validate.repository import load_repository

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr"
SPEC = accounts.AccountSpec("deploy", "ssh", "/bin/bash", (f"{KEY} deploy@ci",), "dagsync: x")


def listing(*lines: str) -> CommandResult:
    head = [
        "members\tdeploy ",
        "user\tdeploy\t1001\t/bin/bash\t/home/deploy",
        "shadow\tdeploy\t*\t",
    ]
    return CommandResult(0, "\n".join([*head, *lines, "end", ""]), "")


def observed(*lines: str) -> accounts.AccountsObserved:
    result = accounts.parse(listing(*lines))
    assert isinstance(result, accounts.AccountsObserved), result
    return result


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x1c"])
def test_a_line_separator_in_a_key_comment_cannot_invent_a_user(separator: str) -> None:
    users = observed(f"key\tdeploy\t{KEY} x{separator}user\tevil\t0\t/bin/sh\t/").users
    assert [u.name for u in users] == ["deploy"]
    assert users[0].keys == ()  # not an ASCII comment: not a key line, never shown


def test_only_lines_that_parse_as_keys_are_kept_whatever_the_host_sends() -> None:
    user = observed(
        "key\tdeploy\troot:$6$salt$hash:19000:0:99999:7:::",
        "key\tdeploy\t# a comment",
        f"key\tdeploy\t{KEY} deploy@ci",
        f'key\tdeploy\trestrict,command="internal-sftp" {KEY} up@x',
    ).users[0]
    assert user.keys == (f"{KEY} deploy@ci", f'restrict,command="internal-sftp" {KEY} up@x')


def test_a_listing_cut_short_is_unknown_not_an_account_without_keys() -> None:
    text = "members\tdeploy \nuser\tdeploy\t1001\t/bin/bash\t/home/deploy\nshadow\tdeploy\t*\t\n"
    result = accounts.parse(CommandResult(0, text, ""))
    assert not isinstance(result, accounts.AccountsObserved)
    assert result.reason == "the user listing was cut short"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("ssh-link", "~/.ssh is a symbolic link"),
        ("keys-type", "~/.ssh/authorized_keys is not a regular file owned by the user"),
        ("x$(id)", "its keys file cannot be read"),  # a host's own words never reach the plan
    ],
)
def test_a_refused_keys_file_is_a_note_and_no_change(code: str, text: str) -> None:
    items = accounts.diff([SPEC], observed(f"refused\tdeploy\t{code}"), DiffOptions())
    assert items == [
        Note(
            "accounts",
            f"refused: deploy: {text}; its keys are neither read nor written until a person "
            "repairs it",
        )
    ]


def test_lines_that_are_not_keys_are_counted_and_removed() -> None:
    items = accounts.diff(
        [SPEC], observed(f"key\tdeploy\t{KEY} deploy@ci", "junk\tdeploy\t3"), DiffOptions()
    )
    assert len(items) == 1 and isinstance(items[0], Change)
    assert [d.text for d in items[0].details] == [
        "3 line(s) of the keys file that are not key lines"
    ]


def test_the_lock_and_the_keys_write_run_as_the_user_never_as_root() -> None:
    command, _ = _keys_file("deploy", "/home/deploy", [f"{KEY} deploy@ci"])
    assert "\nsetpriv --reuid=$uid --regid=$gid --init-groups" in command
    assert "chown" not in command  # the user writes its own file: nothing to hand over


@pytest.mark.parametrize("comment", ["a\u2028b", "a\u0085b", "a\u2029b", "Élodie", "a\tb"])
def test_key_comments_are_printable_ascii_in_the_model_and_the_renderer(comment: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(SshPublicKey).validate_python(f"{KEY} {comment}")
    with pytest.raises(UnsafeValue):
        key_line(f"{KEY} {comment}")
    assert key_line(f"{KEY} ok@ascii ~!") == f"{KEY} ok@ascii ~!"


def test_root_access_listing_splits_on_newlines_only() -> None:
    text = f"line\t{KEY} x\u2028block\n"
    result = rootaccess.parse(CommandResult(0, text, ""))
    assert isinstance(result, rootaccess.RootObserved)
    assert result.present is False


@pytest.mark.parametrize(
    ("why", "shown"), [("group", "in a privileged group"), ("sudoers", "named in sudoers")]
)
def test_an_existing_privileged_user_is_never_adopted(why: str, shown: str) -> None:
    spec = accounts.AccountSpec("ops", "ssh", "/bin/bash", (f"{KEY} ops@x",), "dagsync: x")
    text = "members\t\nuser\tops\t1001\t/bin/bash\t/home/ops\nshadow\tops\t*\t\n"
    result = accounts.parse(CommandResult(0, f"{text}privileged\tops\t{why}\nend\n", ""))
    assert isinstance(result, accounts.AccountsObserved)
    assert accounts.diff([spec], result, DiffOptions()) == [
        Note(
            "accounts",
            f"refused: ops exists and is privileged ({shown}): dagsync never adopts it; "
            "declare another name",
        )
    ]


def test_a_client_key_equal_to_a_dag_key_is_refused_again_when_rendering() -> None:
    repo = load_repository(Path(__file__).resolve().parents[1])
    now = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    [inputs] = server_inputs(repo, Selection(("alpine-books",), ("shop1",)), now)
    assert repo.settings.observer is not None
    observer = " ".join(repo.settings.observer.key.split()[:2])
    assert observer in inputs.dag_keys
    account = inputs.server.accounts[0]
    forged = account.model_copy(update={"keys": [f"{observer} claire@alpine-books"]})
    server = inputs.server.model_copy(update={"accounts": [forged]})
    with pytest.raises(UnsafeValue, match=f"a key of {account.name} is one of DAG's keys"):
        accounts.desired(replace(inputs, server=server))


def test_an_existing_user_with_a_reserved_name_is_never_adopted() -> None:
    spec = accounts.AccountSpec("debian", "ssh", "/bin/bash", (f"{KEY} x@y",), "dagsync: x")
    text = "members\t\nuser\tdebian\t1000\t/bin/bash\t/home/debian\nshadow\tdebian\t*\t\nend\n"
    result = accounts.parse(CommandResult(0, text, ""))
    assert isinstance(result, accounts.AccountsObserved)
    assert accounts.diff([spec], result, DiffOptions()) == [
        Note(
            "accounts",
            "refused: debian is a reserved name (a cloud image's administrator or DAG's own): "
            "dagsync never adopts it; declare another name",
        )
    ]
