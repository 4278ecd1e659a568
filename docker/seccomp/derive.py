#!/usr/bin/env python3
"""Derive docker/seccomp/anaspoc.json from Docker's default seccomp profile.

The extraction sandbox (bubblewrap) needs an unprivileged user namespace, a mount namespace and a
PID namespace inside the container. Docker's default profile allows the calls that make them
(clone with namespace flags, unshare, mount, umount2, pivot_root) only to containers holding
CAP_SYS_ADMIN, which anaspoc must never get. This profile is Docker's default with exactly those
calls allowed without the capability — the same change Flatpak documents for running bubblewrap
in a container — and nothing else: every other rule, including the ENOSYS answer for clone3 that
makes the C library fall back to clone, stays as Docker ships it.

Usage: derive.py DOCKER_DEFAULT_JSON > docker/seccomp/anaspoc.json
(Docker's default is moby's profiles/seccomp/default.json, Apache License 2.0; Debian ships it in
golang-github-docker-docker-dev.)
"""

import json
import sys

SANDBOX_CALLS = ["clone", "mount", "pivot_root", "umount2", "unshare"]


def derive(profile: dict) -> dict:
    rules = profile["syscalls"]
    rules.append(
        {
            "names": SANDBOX_CALLS,
            "action": "SCMP_ACT_ALLOW",
            "args": [],
            "comment": "anaspoc: bubblewrap's user, mount and PID namespaces for the extraction sandbox",
            "includes": {},
            "excludes": {},
        }
    )
    return profile


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        json.dump(derive(json.load(source)), sys.stdout, indent=2)
    sys.stdout.write("\n")
