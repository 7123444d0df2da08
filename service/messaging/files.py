"""Templates shipped on disk: `message_templates/<group>/<name>.toml` is template `group/name`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from service.messaging.schemas import TEMPLATE_NAME, TemplateIn


class TemplateFileError(Exception):
    """A template file that cannot be loaded; the service refuses to start with it."""


@dataclass(frozen=True)
class TemplateFile:
    name: str
    path: Path
    content: TemplateIn


def read_template_file(directory: Path, path: Path) -> TemplateFile:
    name = path.relative_to(directory).with_suffix("").as_posix()
    if not re.match(TEMPLATE_NAME, name):
        raise TemplateFileError(f"{path}: file names are lowercase letters, digits and _")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return TemplateFile(name, path, TemplateIn.model_validate(data))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateFileError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise TemplateFileError(f"{path}: {problems}") from exc


def read_template_files(directory: Path) -> list[TemplateFile]:
    """Every `*.toml` below `directory`, sorted by name; a missing directory holds none."""
    if not directory.is_dir():
        return []
    return [read_template_file(directory, path) for path in sorted(directory.rglob("*.toml"))]
