"""The catalogue of installed Inspect tasks, read from the code itself: the portal's built-in tasks and the
inspect_evals listing, each task's ``@task`` function, and its arguments checked against the function's
signature."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class CatalogueEntry:
    name: str  # the registry name stored on TaskVersion and passed to Inspect
    title: str
    description: str
    source: str  # "portal" | "inspect_evals"
    needs_network: bool
    downloads: list[str] = field(default_factory=list)
    group: str = ""


@lru_cache(maxsize=1)
def catalogue_entries() -> tuple[CatalogueEntry, ...]:
    from evaluations.inspectai.tasks import BUILTIN_TASKS  # imports inspect_ai: only when first asked

    entries = [
        CatalogueEntry(name=name, title=name.replace("_", " ").capitalize(),
                       description=(fn.__doc__ or "").strip(), source="portal", needs_network=False, group="Built-in")
        for name, fn in BUILTIN_TASKS.items()
    ]
    try:
        from inspect_evals.metadata import load_listing

        listing = load_listing()
    except Exception:  # inspect_evals missing or its listing unreadable: the built-ins still work
        listing = None
    for ev in listing.evals if listing is not None else []:
        ev = cast(Any, ev)
        downloads = [str(asset.source) for asset in (ev.external_assets or [])]
        for t in ev.tasks:
            entries.append(CatalogueEntry(
                name=f"inspect_evals/{t.name}", title=ev.title, description=" ".join(ev.description.split()),
                source="inspect_evals", needs_network=bool(downloads), downloads=downloads,
                group=str(getattr(ev.group, "value", ev.group) or ""),
            ))
    return tuple(entries)


def catalogue_entry(name: str) -> CatalogueEntry | None:
    return next((e for e in catalogue_entries() if e.name == name), None)


def _inspect_evals_eval_id(task_name: str) -> str | None:
    from inspect_evals.metadata import load_listing

    for ev in load_listing().evals:
        if any(t.name == task_name for t in ev.tasks):
            return str(ev.id)
    return None


def task_function(registry_name: str) -> Callable[..., Any]:
    """The @task function of a catalogue entry."""
    if catalogue_entry(registry_name) is None:
        raise ValidationError(f"{registry_name!r} is not a task in the catalogue of installed tasks.")
    if "/" not in registry_name:
        from evaluations.inspectai.tasks import BUILTIN_TASKS

        return BUILTIN_TASKS[registry_name]
    _, _, task_name = registry_name.partition("/")
    eval_id = _inspect_evals_eval_id(task_name)
    with_module = None
    try:
        with_module = importlib.import_module(f"inspect_evals.{eval_id}")
    except Exception:
        with_module = None
    fn = getattr(with_module, task_name, None) if with_module is not None else None
    if fn is None:
        from inspect_ai._util.registry import registry_lookup

        importlib.import_module("inspect_evals._registry")
        fn = registry_lookup("task", registry_name)
    if fn is None:
        raise ValidationError(f"The task {registry_name} is listed but cannot be loaded in this installation.")
    return cast(Callable[..., Any], fn)


def task_args_validate(*, registry_name: str, args: Any) -> dict[str, Any]:
    """Check ``args`` against the task function's signature: no unknown argument, every required one given,
    values JSON-serialisable."""
    if args in (None, ""):
        args = {}
    if not isinstance(args, dict):
        raise ValidationError({"args": ["Task arguments must be an object of argument names to values."]})
    return signature_check(fn=task_function(registry_name), registry_name=registry_name, args=args)


def signature_check(*, fn: Callable[..., Any], registry_name: str, args: dict[str, Any]) -> dict[str, Any]:
    signature = inspect.signature(fn)
    params = signature.parameters
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    errors = []
    for name in args:
        if name not in params and not accepts_kwargs:
            allowed = ", ".join(params) or "none"
            errors.append(f"{registry_name} has no argument {name!r} (its arguments: {allowed}).")
    for name, p in params.items():
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if p.default is inspect.Parameter.empty and name not in args:
            errors.append(f"{registry_name} needs the argument {name!r}.")
    try:
        json.dumps(args)
    except (TypeError, ValueError):
        errors.append("Task arguments must be JSON values.")
    if errors:
        raise ValidationError({"args": errors})
    return dict(args)


def task_parameters(registry_name: str) -> list[dict[str, Any]]:
    fn = task_function(registry_name)
    out = []
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        required = p.default is inspect.Parameter.empty
        out.append({"name": name, "required": required,
                    "default": None if required else repr(p.default),
                    "annotation": "" if p.annotation is inspect.Parameter.empty else str(p.annotation)})
    return out
