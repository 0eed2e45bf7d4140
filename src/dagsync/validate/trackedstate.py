"""LOC001: no file of dagsync's local state or cache is tracked by git.

dagsync keeps some state in the work tree, ignored by `.gitignore`: the sandbox's hosts
override and test hosts (`.dagsync-sandbox/`), and the former validation cache and the mail
usage history (`.dagsync-cache/`).  None of it is reviewed: a file forced into a commit with
`git add -f` would reach every clone (a poisoned cache, an override pointing plan and apply
at other hosts).  dagsync no longer trusts either (the cache lives outside the tree, the
override file needs an explicit sandbox mode), and the validator reports any such tracked
file as an error, at the file itself.

Only git's index is read (`git ls-files`): a work tree without git has nothing tracked.
"""

from __future__ import annotations

from pathlib import Path

from dagsync.findings import Finding, Severity
from dagsync.gitops.tracked import tracked, tracked_state_files

RULE = "LOC001"


# Files whose only purpose is to hold credentials (OVH's client configuration, SSH and TLS
# private keys, .env, .netrc): tracked anywhere in the repository, they are an ACC004 error,
# whatever they contain, and what they contain is scanned (never echoed).
CREDENTIAL_FILES = (
    ":(glob)**/ovh.conf",
    ":(glob)**/.ovh.conf",
    ":(glob)**/id_rsa",
    ":(glob)**/id_dsa",
    ":(glob)**/id_ecdsa",
    ":(glob)**/id_ed25519",
    ":(glob)**/*.pem",
    ":(glob)**/*.key",
    ":(glob)**/*.p12",
    ":(glob)**/*.pfx",
    ":(glob)**/.env",
    ":(glob)**/.netrc",
)


def tracked_state_findings(root: Path) -> list[Finding]:
    return [
        Finding(
            rel,
            1,
            1,
            RULE,
            Severity.ERROR,
            f"{rel} is dagsync's local state or cache, which is never reviewed nor trusted: "
            f"remove it from git (`git rm --cached {rel}`) and keep it ignored",
        )
        for rel in tracked_state_files(root)
    ]


def tracked_credential_findings(root: Path) -> list[Finding]:
    """ACC004 at each tracked credential file (see CREDENTIAL_FILES), and at each secret the
    scan finds inside it; never the value."""
    # lazy: importing it here keeps dagsync.config out of this module's load
    from dagsync.config.document import read_regular

    # lazy: importing it here keeps dagsync.rules out of this module's load
    from dagsync.rules.secrets import ARTICLE, RULE_ID, scan_text

    found: list[Finding] = []
    for rel in tracked(root, CREDENTIAL_FILES):
        found.append(
            Finding(
                rel,
                1,
                1,
                RULE_ID,
                Severity.ERROR,
                f"{rel} is a credential file: credentials never enter the repository; remove it "
                f"(`git rm --cached {rel}`), rotate what it held and keep it in the vault",
                article=ARTICLE,
            )
        )
        try:
            text = read_regular(root / rel, 1024 * 1024).decode("utf-8", errors="replace")
        except OSError:
            continue
        found.extend(
            Finding(rel, line, column, RULE_ID, Severity.ERROR, message, article=ARTICLE)
            for line, column, message in scan_text(rel, text)
        )
    return found
