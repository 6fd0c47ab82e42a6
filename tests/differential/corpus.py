"""A deterministic corpus of Cognito-shaped tokens: one valid base token per case, then one named mutation.

The case list (which mutation, under which deployment, for which kind of token, with which seed) is fixed by
``SEED`` and built without reading the clock; each token is minted only when the test asks for it, from the
instant the test passes in, so no time is ever frozen at import or collection.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.differential.configs import CONFIGS, Config
from tests.differential.jose import SECOND_KID, SIGNING_KID, Keys, Signer, dumps, encode

SEED = 20240607


@dataclass
class Draft:
    """A token before it is encoded; a mutation edits it in place."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signer: Signer
    header_json: str | None = None  # replaces the serialised header
    payload_json: str | None = None  # replaces the serialised claims
    edits: list[Callable[[str], str]] = field(default_factory=list)  # applied to the signed compact token

    def encode(self) -> str:
        token = encode(self.header_json or dumps(self.header), self.payload_json or dumps(self.claims), self.signer)
        for edit in self.edits:
            token = edit(token)
        return token


@dataclass(frozen=True)
class Context:
    """What a mutation may use: the case's own random stream, the instant and the deployment."""

    rng: random.Random
    now: float
    keys: Keys
    config: Config
    token_use: str

    @property
    def tolerance(self) -> int:
        return self.config.tolerance_seconds

    @property
    def client_claim(self) -> str:
        """Cognito names the app client in ``aud`` on ID tokens and in ``client_id`` on access tokens."""
        return "aud" if self.token_use == "id" else "client_id"

    def past_tolerance(self, seconds: int = 1) -> int:
        """A whole second at least ``seconds`` beyond ``now + tolerance`` (for nbf and iat)."""
        return math.ceil(self.now) + self.tolerance + seconds

    def within_tolerance_ahead(self) -> int:
        """In the future, but at least one second inside ``now + tolerance``."""
        return math.floor(self.now) + self.tolerance - 1


Mutate = Callable[[Draft, Context], None]
Pick = Callable[[random.Random], tuple[Config, str]]


def pick_any(rng: random.Random) -> tuple[Config, str]:
    config = rng.choice(CONFIGS)
    return config, rng.choice(config.token_uses)


@dataclass(frozen=True)
class Mutation:
    family: str  # what is mutated: "exp", "iss", "alg", "signature", ...
    variant: str  # how: "missing", "trailing_slash", ...
    apply: Mutate
    pick: Pick = pick_any  # which deployment and kind of token the base is drawn for

    @property
    def name(self) -> str:
        return f"{self.family}/{self.variant}"


@dataclass(frozen=True)
class Case:
    index: int
    mutation: Mutation
    config: Config
    token_use: str
    seed: str

    def token(self, keys: Keys, now: float) -> str:
        context = Context(random.Random(self.seed), now, keys, self.config, self.token_use)
        draft = base_token(context)
        self.mutation.apply(draft, context)
        return draft.encode()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def base_token(ctx: Context) -> Draft:
    """A token as Cognito issues it for this deployment (either signing key, either configured issuer form)."""
    rng, now = ctx.rng, math.floor(ctx.now)
    issued = now - rng.randint(0, 1800)
    client = rng.choice(ctx.config.client_ids)
    sub = _uuid(rng)
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": rng.choice(ctx.config.issuers),
        "origin_jti": _uuid(rng),
        "event_id": _uuid(rng),
        "token_use": ctx.token_use,
        "auth_time": issued - rng.randint(0, 600),
        "exp": issued + 3600,
        "iat": issued,
        "jti": _uuid(rng),
    }
    if ctx.token_use == "id":
        claims.update(
            {
                "aud": client,
                "cognito:username": rng.choice([sub, f"user{rng.randint(1, 9999)}"]),
                "email": f"user{rng.randint(1, 9999)}@example.com",
                "email_verified": rng.choice([True, False]),
                "custom:tenant": f"tenant-{rng.randint(1, 50)}",
            }
        )
        if rng.random() < 0.3:
            claims["cognito:groups"] = [f"group-{i}" for i in range(rng.randint(1, 4))]
    else:
        claims.update(
            {
                "client_id": client,
                "scope": rng.choice(["aws.cognito.signin.user.admin", "openid email", "openid profile email"]),
                "username": rng.choice([sub, f"user{rng.randint(1, 9999)}"]),
            }
        )
    items = list(claims.items())
    rng.shuffle(items)  # claim order carries no meaning; vary it
    use_second = rng.random() < 0.25
    key = ctx.keys.second if use_second else ctx.keys.signing
    header = {"kid": SECOND_KID if use_second else SIGNING_KID, "alg": "RS256"}
    return Draft(header=header, claims=dict(items), signer=Signer("RS256", key))


def build_corpus(catalogue: list[tuple[Mutation, int]], seed: int = SEED) -> list[Case]:
    """``catalogue`` pairs each mutation with how many cases to draw for it; nothing here reads the clock."""
    cases: list[Case] = []
    for mutation, count in catalogue:
        for rep in range(count):
            case_seed = f"{seed}/{mutation.name}/{rep}"
            config, token_use = mutation.pick(random.Random(f"{case_seed}/pick"))
            cases.append(Case(len(cases), mutation, config, token_use, case_seed))
    return cases
