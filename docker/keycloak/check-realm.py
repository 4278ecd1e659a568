#!/usr/bin/env python3
"""Check docker/keycloak/anaspoc-realm.json against what the platform's configuration reads.

The realm cannot be imported into a real Keycloak here (no registry), so this checks the contract
between the two files instead: every claim path of [oidc.claims] in config/production.example.toml
(over config/default.toml) is produced by a mapper into the access token, the audience and client
are the configured ones, every role of [policy.roles] is a realm role, the user-profile attributes
accept exactly the configured countries and levels and only administrators can edit them, and
every demo user is valid under those rules. Exit 1 with one line per problem.

Usage: check-realm.py [REPO_ROOT]
"""

import json
import sys
import tomllib
from pathlib import Path


def merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def check(root: Path) -> list[str]:
    config = merged(
        tomllib.loads((root / "config/default.toml").read_text(encoding="utf-8")),
        tomllib.loads((root / "config/production.example.toml").read_text(encoding="utf-8")),
    )
    realm = json.loads((root / "docker/keycloak/anaspoc-realm.json").read_text(encoding="utf-8"))
    oidc, policy = config["oidc"], config["policy"]
    problems: list[str] = []

    if not oidc["issuer_url"].endswith("/realms/" + realm["realm"]):
        problems.append(f"oidc.issuer_url {oidc['issuer_url']} does not name realm {realm['realm']}")

    realm_roles = {role["name"] for role in realm["roles"]["realm"]}
    for role in policy["roles"]:
        if role not in realm_roles:
            problems.append(f"policy.roles.{role} is not a realm role")

    clients = [c for c in realm["clients"] if c["clientId"] == oidc["client_id"]]
    if len(clients) != 1:
        return problems + [f"no client {oidc['client_id']} (oidc.client_id) in the realm"]
    client = clients[0]
    if client.get("publicClient", True) or client.get("clientAuthenticatorType") != "client-secret":
        problems.append("the web client must be confidential (client secret)")
    if client.get("attributes", {}).get("pkce.code.challenge.method") != "S256":
        problems.append("the web client must require PKCE S256")
    if client.get("implicitFlowEnabled") or client.get("directAccessGrantsEnabled"):
        problems.append("the web client must allow only the authorization code flow")
    if not any(uri.endswith("/auth/callback") for uri in client.get("redirectUris", [])):
        problems.append("the web client has no /auth/callback redirect URI")

    mappers = client.get("protocolMappers", [])

    def into_access_token(mapper: dict) -> bool:
        return mapper["config"].get("access.token.claim") == "true"

    audiences = {
        m["config"].get("included.custom.audience")
        for m in mappers
        if m["protocolMapper"] == "oidc-audience-mapper" and into_access_token(m)
    }
    if oidc["audience"] not in audiences:
        problems.append(f"no audience mapper puts oidc.audience {oidc['audience']!r} into access tokens")

    def claim_of(kind: str, **config: str) -> set[str]:
        return {
            m["config"].get("claim.name", "name" if kind == "oidc-full-name-mapper" else "")
            for m in mappers
            if m["protocolMapper"] == kind
            and into_access_token(m)
            and all(m["config"].get(k) == v for k, v in config.items())
        }

    claims = oidc["claims"]
    if claims["sub"] != "/sub":
        problems.append("oidc.claims.sub must be /sub: Keycloak's subject claim")
    roles_claim = claims["roles"].strip("/").replace("/", ".")
    if roles_claim not in claim_of("oidc-usermodel-realm-role-mapper", multivalued="true"):
        problems.append(f"no realm-role mapper writes {claims['roles']} (oidc.claims.roles) as a list")
    if claims["name"].strip("/") not in claim_of("oidc-full-name-mapper") | claim_of("oidc-usermodel-attribute-mapper"):
        problems.append(f"no mapper writes {claims['name']} (oidc.claims.name)")

    profile_config = realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
    profile = json.loads(profile_config["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    allowed = {"country": policy["countries"], "clearance": policy["levels"], "organisation": None}
    for attribute, values in allowed.items():
        path = claims[attribute]
        if path.count("/") != 1:
            problems.append(f"oidc.claims.{attribute} {path} is not a top-level claim a mapper can write")
        if path.strip("/") not in claim_of("oidc-usermodel-attribute-mapper", **{"user.attribute": attribute}):
            problems.append(f"no user-attribute mapper writes attribute {attribute} as {path}")
        definition = attributes.get(attribute)
        if definition is None:
            problems.append(f"the user profile has no attribute {attribute}")
            continue
        if definition["permissions"]["edit"] != ["admin"]:
            problems.append(f"users can edit their own {attribute}")
        options = definition.get("validations", {}).get("options", {}).get("options")
        if values is not None and options != values:
            problems.append(f"attribute {attribute} accepts {options}, the configuration {values}")

    for user in realm.get("users", []):
        name = user["username"]
        for attribute, values in allowed.items():
            value = user.get("attributes", {}).get(attribute, [None])
            if len(value) != 1 or (values is not None and value[0] not in values) or not value[0]:
                problems.append(f"user {name}: {attribute} {value} is not one valid value")
        if not set(user.get("realmRoles", [])) & set(policy["roles"]):
            problems.append(f"user {name} has no role the platform maps to permissions")
        if any(not c.get("temporary") for c in user.get("credentials", [])):
            problems.append(f"user {name}: a demo password must be temporary")
    return problems


if __name__ == "__main__":
    found = check(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
    for problem in found:
        print(f"realm: {problem}", file=sys.stderr)
    if not found:
        print("realm: docker/keycloak/anaspoc-realm.json matches config/production.example.toml")
    sys.exit(1 if found else 0)
