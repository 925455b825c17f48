"""A workspace: a folder a user owns, with settings, definitions and the warehouse.

    my-bank/
      clientlens.yaml        settings (engine, warehouse, base currency, ...)
      definitions/           glossary.yaml, rulebook.yaml  (edit these)
      warehouse.duckdb       the embedded warehouse
      exports/               files written by `export`
"""

from __future__ import annotations

import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.engines import sqltext
from clientlens.engines.base import Engine
from clientlens.engines.registry import engine_class
from clientlens.model.errors import WorkspaceError

SETTINGS_FILE = "clientlens.yaml"
DEFAULTS = Path(__file__).resolve().parent.parent / "defaults"


class Settings(BaseSettings):
    """Workspace settings; environment variables CLIENTLENS_<NAME> override the file."""

    model_config = SettingsConfigDict(env_prefix="CLIENTLENS_", extra="forbid")

    engine: str = "duckdb"
    warehouse: str = "warehouse.duckdb"
    base_currency: str = "RUB"
    memory_limit: str | None = None  # e.g. "4GB"; DuckDB spills to disk past it
    threads: int | None = None
    postgres_url: str | None = None  # engine: postgres, e.g. postgresql://user@host:5432/bank
    postgres_schema: str = "clientlens"
    lake: str | None = None  # engine: spark, the folder or URL of the Parquet lake
    spark_master: str = "local[*]"  # or spark://host:7077, yarn, k8s://...
    # The application database (cases, departures): a SQLite file in the workspace by
    # default, or a URL such as postgresql://user@host:5432/crm in production.
    app_db: str = "clientlens-app.sqlite"
    app_db_schema: str | None = None  # PostgreSQL only

    @field_validator("base_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code such as RUB")
        return value.upper()

    @field_validator("postgres_schema", "app_db_schema")
    @classmethod
    def _schema(cls, value: str | None) -> str | None:
        # A schema name is put into SQL (quoted, but checked first: a name that needs
        # quoting is a mistake, and PostgreSQL would cut one past 63 characters).
        if value is not None and not sqltext.is_plain_name(value):
            raise ValueError(f"{value!r} is not a schema name: use lower-case letters, "
                             "digits and '_', starting with a letter or '_', at most 63")
        if value is not None and value.startswith("pg_"):
            raise ValueError(f"{value!r}: PostgreSQL keeps names starting with pg_ for itself")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings


class Workspace:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        settings_path = self.root / SETTINGS_FILE
        if not settings_path.is_file():
            raise WorkspaceError(f"{self.root} is not a clientlens workspace (no {SETTINGS_FILE});"
                                 f" create one with: clientlens init {self.root}")
        try:
            source = YamlConfigSettingsSource(Settings, yaml_file=settings_path)
            values: dict[str, Any] = source()
            self.settings = Settings(**values)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise WorkspaceError(f"{settings_path}: {where}: {err['msg']}") from None
        except Exception as e:  # YAML syntax errors come in several types
            raise WorkspaceError(f"{settings_path}: {e}") from None

    @property
    def definitions_dir(self) -> Path:
        return self.root / "definitions"

    @property
    def exports_dir(self) -> Path:
        path = self.root / "exports"
        path.mkdir(exist_ok=True)
        return path

    @property
    def warehouse_path(self) -> Path:
        path = Path(self.settings.warehouse)
        return path if path.is_absolute() else self.root / path

    @property
    def lake_path(self) -> Path:
        if not self.settings.lake:
            raise WorkspaceError("engine 'spark' needs 'lake' in clientlens.yaml: the folder "
                                 "(or hdfs:// / s3a:// path) with the Parquet tables")
        if "://" in self.settings.lake:
            return Path(self.settings.lake)
        path = Path(self.settings.lake)
        return path if path.is_absolute() else self.root / path

    @property
    def app_db_url(self) -> str:
        if "://" in self.settings.app_db:
            return self.settings.app_db
        path = Path(self.settings.app_db)
        return f"sqlite:///{path if path.is_absolute() else self.root / path}"

    def app_db(self) -> Any:
        """The application database, migrated to the newest schema."""
        from clientlens.appdb import open_appdb

        return open_appdb(self.app_db_url, schema=self.settings.app_db_schema)

    @cached_property
    def definitions(self) -> Definitions:
        return load_definitions(self.definitions_dir)

    def staging_engine(self, *, read_only: bool = False) -> Engine:
        """The embedded DuckDB warehouse: the engine itself by default, else the staging
        area imports are validated in (and their quarantine kept) before another engine
        takes the tables."""
        cls = engine_class("duckdb")
        if not read_only:
            from clientlens.services.csv_source import remove_stale_scratch

            # What an import killed half-way left beside the warehouse (plaintext).
            remove_stale_scratch(self.warehouse_path.parent)
        return cls(self.warehouse_path, read_only=read_only,  # type: ignore[call-arg]
                   memory_limit=self.settings.memory_limit, threads=self.settings.threads,
                   temp_directory=self.root / ".spill")

    def engine(self, *, read_only: bool = False) -> Engine:
        if self.settings.engine == "duckdb":
            return self.staging_engine(read_only=read_only)
        cls = engine_class(self.settings.engine)
        settings = self.settings
        if settings.lake and "://" not in settings.lake:  # relative to the workspace
            settings = settings.model_copy(update={"lake": str(self.lake_path)})
        # Other engines take their connection from settings.
        return cls.from_settings(settings, read_only=read_only)  # type: ignore[attr-defined]


def init_workspace(root: str | Path, *, force: bool = False) -> Workspace:
    """Create a workspace with the bank's default definitions."""
    root = Path(root)
    if (root / SETTINGS_FILE).exists() and not force:
        raise WorkspaceError(f"{root} is already a workspace; use --force to reset its "
                             "definitions to the defaults")
    root.mkdir(parents=True, exist_ok=True)
    (root / "definitions").mkdir(exist_ok=True)
    for src in sorted(DEFAULTS.rglob("*.yaml")):
        target = root / "definitions" / src.relative_to(DEFAULTS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    if not (root / SETTINGS_FILE).exists():
        (root / SETTINGS_FILE).write_text(
            "# clientlens workspace settings; CLIENTLENS_<NAME> environment variables override.\n"
            "engine: duckdb              # the embedded default; nothing else to install\n"
            "warehouse: warehouse.duckdb # relative to this folder\n"
            "base_currency: RUB\n"
            "# memory_limit: 4GB         # DuckDB spills to disk beyond this\n"
            "# threads: 2\n", encoding="utf-8")
    return Workspace(root)
