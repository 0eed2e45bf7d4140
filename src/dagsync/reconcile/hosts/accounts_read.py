"""The host side of reading accounts: what runs on the server, and what it may print.

One awk (`LISTING`) reads the local account files as root and prints, per user asked about
or in the managed group, its uid, shell and home, the first character of its password field
(`!`: locked) and whether it is privileged (`PRIVILEGED_GROUPS`, sudoers); never a hash.
`KEYS_READER` reads each user's keys file as that user, never through a link, at most
`KEYS_CAP` bytes within `READ_TIMEOUT` seconds, and prints only its lines that match
`OBSERVED_KEY_PATTERN`; a refusal is a code of `REFUSALS`.  `dagsync.reconcile.hosts.accounts`
assembles the read (`read`) and parses its output (`parse`).
"""

from __future__ import annotations

import re

# The key types an observed key line may have, and the line itself: optional options (words,
# `word="quoted"` values), type, base64 key, optional comment of printable ASCII.  The host
# prints only lines of this form and the client keeps only those: a file's other content
# never leaves the host, whatever it is (a link to /etc/shadow is refused anyway).
_KEY_TYPES = (
    r"(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)"
    r"|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)"
)
_OPTION = r'[A-Za-z0-9_-]+(="[^"]*")?'
OBSERVED_KEY_PATTERN = rf"^({_OPTION}(,{_OPTION})* )?{_KEY_TYPES} [A-Za-z0-9+/]+=?=?=?( [ -~]*)?$"
OBSERVED_KEY = re.compile(OBSERVED_KEY_PATTERN)
KEYS_CAP = 262144  # bytes of an authorized_keys file read at most (a larger one is refused)
READ_TIMEOUT = 5  # seconds a keys file read may take (a FIFO swapped in after the checks)
# Why a user's keys file is not read (a code from the host, a text for the plan).
REFUSALS = {
    "ssh-link": "~/.ssh is a symbolic link",
    "ssh-type": "~/.ssh is not a directory owned by the user",
    "keys-link": "~/.ssh/authorized_keys is a symbolic link",
    "keys-type": "~/.ssh/authorized_keys is not a regular file owned by the user",
    "keys-size": f"~/.ssh/authorized_keys is larger than {KEYS_CAP} bytes",
}
# Groups whose members are privileged (root or its equivalent): never adopted.
PRIVILEGED_GROUPS = ("root", "sudo", "adm", "wheel", "admin", "docker", "lxd", "disk", "shadow")

LISTING = r"""
FILENAME == "-" && $0 !~ /^[ \t]*(#|Defaults)/ {
  line = $0; gsub(/[^A-Za-z0-9_%-]+/, " ", line); n = split(line, w, " ")
  for (i = 1; i <= n; i++) if (w[i] ~ /^%/) privgroup[substr(w[i], 2)] = 1; else sudoers[w[i]] = 1
}
FILENAME == "/etc/group" && $1 == group { n = split($4, m, ","); for (i = 1; i <= n; i++) member[m[i]] = 1 }
FILENAME == "/etc/group" && ($1 in priv || $1 in privgroup) {
  privgid[$3] = 1; n = split($4, m, ","); for (i = 1; i <= n; i++) privmember[m[i]] = $1
}
FILENAME == "/etc/passwd" { pw[$1] = $0 }
FILENAME == "/etc/shadow" { sp[$1] = substr($2, 1, 1) "\t" $8 }
END {
  printf "members\t"; for (u in member) printf "%s ", u; print ""
  n = split(names, d, " "); for (i = 1; i <= n; i++) want[d[i]] = 1
  for (u in member) want[u] = 1
  for (u in want) if (u in pw) {
    split(pw[u], f, ":")
    print "user\t" u "\t" f[3] "\t" f[7] "\t" f[6]
    print "shadow\t" u "\t" sp[u]
    if (u in privmember) print "privileged\t" u "\tgroup"
    else if (f[4] in privgid) print "privileged\t" u "\tgroup"
    else if (u in sudoers) print "privileged\t" u "\tsudoers"
    if (f[6] != "") print "home\t" u "\t" f[3] "\t" f[4] "\t" f[6]
  }
  print "end"
}
"""

# Reads one user's keys file as that user (setpriv), after checking without following links
# that ~/.ssh is a directory and the file a regular file, both owned by the user.
KEYS_READER = r"""
keys() {
  set -f
  d="$5/.ssh"; f="$d/authorized_keys"
  if [ -L "$d" ]; then why=ssh-link
  elif [ ! -e "$d" ]; then return 0
  elif [ -z "$(find -P "$d" -maxdepth 0 -type d -user "$3" -print)" ]; then why=ssh-type
  elif [ -L "$f" ]; then why=keys-link
  elif [ ! -e "$f" ]; then return 0
  elif [ -z "$(find -P "$d" -maxdepth 1 -name authorized_keys -type f -user "$3" -print)" ]; then why=keys-type
  else
    timeout -s KILL "$TIMEOUT" setpriv --reuid="$3" --regid="$4" --init-groups --no-new-privs \
      -- head -c "$((CAP + 1))" -- "$f" 2>/dev/null | LC_ALL=C KEYRE="$KEYRE" awk -v u="$2" -v cap="$CAP" '
      BEGIN { re = ENVIRON["KEYRE"] }
      { n++; total += length($0) + 1; line[n] = $0 }
      END {
        if (total > cap) { print "refused\t" u "\tkeys-size"; exit }
        for (i = 1; i <= n; i++) {
          l = line[i]; sub(/^[ \t]+/, "", l); sub(/[ \t\r]+$/, "", l)
          if (l == "" || l ~ /^#/) continue
          if (l ~ re) print "key\t" u "\t" l; else junk++
        }
        if (junk) print "junk\t" u "\t" junk
      }'
    return 0
  fi
  printf 'refused\t%s\t%s\n' "$2" "$why"
}
for f in /etc/group /etc/passwd /etc/shadow; do
  [ -r "$f" ] || { echo "cannot read $f" >&2; exit 1; }
done
"""
