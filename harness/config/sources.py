"""Model sources beyond the registry: ``--model FILE.py:Class`` entries and ``--ntire-repo DIR --team N`` rows."""

from __future__ import annotations

from pathlib import Path

from sr_harness.config.types import ConfigError, ModelEntry, Suite


def team_entries(repo: str | None, teams: list[str] | None) -> list[dict]:
    """``--ntire-repo DIR --team 0,21`` (or ``all``): one row per team, built later by the organizers' select_model."""
    if (repo is None) != (not teams):
        raise ConfigError("--ntire-repo DIR and --team N[,M...] go together (e.g. --ntire-repo NTIRE2024_ESR "
                          "--team 0,21, or --team all)")
    if repo is None:
        return []
    from sr_harness.models.ntire import NtireRepoError, team_ids  # noqa: PLC0415

    try:
        known = team_ids(repo)
    except NtireRepoError as exc:
        raise ConfigError(str(exc)) from None
    if teams == ["all"]:
        chosen = list(known)
    else:
        try:
            chosen = [int(t) for t in teams]
        except ValueError:
            raise ConfigError(f"--team takes team ids (numbers) or 'all', got {','.join(teams)}") from None
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise ConfigError(f"--team {unknown[0]}: {repo}/test_demo.py's select_model has no such team; its ids: "
                          f"{','.join(map(str, known))} (or --team all)")
    root = str(Path(repo).expanduser().resolve())
    return [{"ntire_repo": root, "team": t, "label": f"team{t:02}"} for t in dict.fromkeys(chosen)]


EXTERNAL_FIELDS = {"source", "weights", "data_range", "scale", "args", "state_key", "label"}


def external_entry(fields: dict) -> ModelEntry:
    """``--model FILE.py:Class``: labelled by the class name (``--name`` to change it)."""
    fields = dict(fields)
    if "team" in fields:
        label = fields.pop("label")
        return ModelEntry(name=label, variant=f"NTIRE select_model, team {fields['team']:02}", label=label,
                          external=fields)
    unknown = set(fields) - EXTERNAL_FIELDS
    if unknown or "source" not in fields:
        raise ConfigError(f"model entry {fields}: unknown field(s) {', '.join(sorted(unknown))}; known: "
                          f"{', '.join(sorted(EXTERNAL_FIELDS))}" if unknown else f"model entry {fields}: no source")
    source = fields["source"]
    from sr_harness.models.external import ExternalSpec  # noqa: PLC0415

    try:  # before any work, in this process: an isolated entry's child would only fail its row
        ExternalSpec(**{k: v for k, v in fields.items() if k != "label"}).check_files()
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None
    cls = source.rpartition(":")[2] or source
    label = fields.pop("label", None) or cls
    return ModelEntry(name=cls, variant=f"external: {source}", label=label, external=fields)


def run_scale(suite: Suite, external: list[ModelEntry]) -> int:
    """A suite fixes the scale; an ad-hoc run takes its --model rows' --scale (all must agree)."""
    scales = {e.external.get("scale", 4) for e in external}
    if suite.name:
        for entry in external:
            if entry.external.get("scale", 4) != suite.scale:
                raise ConfigError(f"--model {entry.external['source']}: --scale {entry.external.get('scale', 4)} "
                                  f"but suite {suite.name!r} is x{suite.scale}; run it without --suite, with --data")
        return suite.scale
    if len(scales) > 1:
        raise ConfigError(f"--model rows have different --scale values ({', '.join(map(str, sorted(scales)))}); "
                          "one run is one scale: evaluate them in separate runs")
    return scales.pop() if scales else suite.scale


TEAM_FIELDS = {"ntire_repo", "team", "label"}


def suite_file_entry(entry: dict, base: Path, where: str) -> ModelEntry:
    """A ``[[suite.models]]`` table of a user's suite file with ``source`` (the --model fields) or ``ntire_repo``
    + ``team``; relative paths are relative to the suite file; unknown keys are errors."""
    allowed = TEAM_FIELDS if "ntire_repo" in entry else EXTERNAL_FIELDS
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                          f"{', '.join(sorted(allowed))}")
    fields = dict(entry)
    for key in ("source", "weights", "ntire_repo"):
        if isinstance(fields.get(key), str):
            path, sep, cls = fields[key].rpartition(":") if key == "source" else (fields[key], "", "")
            path = path if Path(path).expanduser().is_absolute() else str(base / path)
            fields[key] = f"{path}{sep}{cls}"
    if "ntire_repo" in fields:
        if not isinstance(fields.get("team"), int):
            raise ConfigError(f"{where}: 'team' must be a team id (a whole number)")
        (team,) = team_entries(fields["ntire_repo"], [str(fields["team"])])
        return external_entry({**team, "label": fields.get("label") or team["label"]})
    if not isinstance(fields.get("args", {}), dict) or fields.get("data_range", 1) not in (1, 255):
        raise ConfigError(f"{where}: 'args' must be a table of constructor arguments and 'data_range' 1 or 255")
    return external_entry({**fields, "data_range": float(fields.get("data_range", 1))})
