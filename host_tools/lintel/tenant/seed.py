"""Seed files: the JSON document that fills a fresh fake tenant (docs/tenant.md, "Seed files").

Each tenant module owns some top-level keys (`SEED_KEYS`), checks them (`validate_seed`) and loads
them (`apply_seed`). A seed is applied once, to a fresh state folder; the state remembers the
seed's digest, so restarting on the same state with the same seed keeps everything that happened
since (tokens, later events), and a different seed on that state is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from lintel.errors import LintelError

DEFAULT_SEED = Path(__file__).with_name("demo_seed.json")
FREE_KEYS = ("description", "$schema")  # and any key starting with "_" (comments)


def read(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise LintelError(f"--seed {path}: cannot read it ({e.strerror or e})") from e
    try:
        seed = json.loads(text)
    except ValueError as e:
        raise LintelError(f"--seed {path}: not JSON ({e})") from e
    if not isinstance(seed, dict):
        raise LintelError(f"--seed {path}: the top level must be a JSON object")
    return seed


def validate(seed: dict, modules: list[ModuleType], path: Path) -> None:
    """LintelError naming the first problem (its key path) in `seed`."""
    owners = {k: m for m in modules for k in getattr(m, "SEED_KEYS", ())}
    for key in seed:
        if key in owners or key in FREE_KEYS or key.startswith("_"):
            continue
        raise LintelError(f"--seed {path}: unknown key {key!r} (this version knows: "
                          f"{', '.join(sorted(owners))})")
    for m in modules:
        check = getattr(m, "validate_seed", None)
        problems = check(seed) if check else []
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LintelError(f"--seed {path}: {problems[0]}{more}")


def unknown_keys(obj: dict, known, where: str, comments: bool = False) -> list[str]:
    """The problem `where.key: unknown key (known: ...)` for each key of obj not in `known`
    (listed in the order given); with `comments`, keys starting with "_" are notes."""
    return [f"{where}.{k}: unknown key (known: {', '.join(known)})" for k in obj
            if k not in known and not (comments and k.startswith("_"))]


def objects(items: list, name: str, known, problems: list[str], comments: bool = False):
    """Each object of the seed's list `items` (`name`), as (where, obj): an item that is not an
    object and the unknown keys of one that is (unknown_keys) go to `problems` meanwhile."""
    for i, item in enumerate(items):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: an object")
            continue
        problems += unknown_keys(item, known, where, comments)
        yield where, item


def digest(seed: dict) -> str:
    return hashlib.sha256(json.dumps(seed, sort_keys=True).encode()).hexdigest()


def apply(tenant: Any, seed: dict, path: Path) -> None:
    """Load `seed` into a fresh state; on a state already seeded, check it is the same seed."""
    store = tenant.store
    want = digest(seed)
    have = store.get_meta("seed")
    if have is not None:
        if have.get("digest") != want:
            raise LintelError(
                f"--state {tenant.state_dir} was seeded from {have.get('file')}, and --seed "
                f"{path} differs from it: use a fresh --state folder, or the same seed")
        return
    with store.tx():
        for m in tenant.modules:
            loader = getattr(m, "apply_seed", None)
            if loader:
                loader(tenant, seed)
        store.set_meta("seed", {"digest": want, "file": str(path)})
