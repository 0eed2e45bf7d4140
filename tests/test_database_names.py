"""A client's database may not be, or match, a database server's own schema: a grant on
MariaDB's `mysql` (or on `mysq_`, `_` being a wildcard in a grant) makes the client's user an
administrator of the server. Refused by the validator and again by the SQL renderer."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagsync.model.server import system_schema_problem
from dagsync.reconcile.appstack import sql
from dagsync.reconcile.shell import UnsafeValue
from dagsync.validate.run import validate_repository

DB1 = "clients/velo-savoie/servers/db1.yaml"


@pytest.mark.parametrize(
    ("name", "schema"),
    [("mysql", "mysql"), ("mysq_", "mysql"), ("m_sql", "mysql"), ("___", "sys"), ("test", "test")],
)
def test_a_system_schema_or_a_name_matching_one_is_refused_at_its_line(
    repo_copy: Path, name: str, schema: str
) -> None:
    path = repo_copy / DB1
    path.write_text(path.read_text().replace("    name: velo_shop\n", f"    name: {name}\n"))
    findings = validate_repository(repo_copy, use_cache=False).findings
    errors = [(f.rule, f.file, f.line) for f in findings if f.severity.value == "error"]
    assert errors == [("SCH002", DB1, 17)]
    message = next(f.message for f in findings if f.rule == "SCH002")
    assert f"the system schema `{schema}`" in message
    with pytest.raises(UnsafeValue, match=f"system schema `{schema}`"):
        sql.database(name)


@pytest.mark.parametrize("name", ["velo_shop", "mysql2", "my_sql_data", "systems", "_test"])
def test_a_name_that_matches_no_system_schema_is_accepted(name: str) -> None:
    assert system_schema_problem(name) is None
    assert sql.database(name) == f"`{name}`"
