"""A workspace: a folder a user owns, with settings, definitions and the warehouse.

    my-bank/
      clientlens.yaml        settings (engine, warehouse, base currency, ...)
      definitions/           glossary.yaml, rulebook.yaml  (edit these)
      warehouse.duckdb       the embedded warehouse
      exports/               where the demo writes its profiles

The folder is private to its owner (0700, files 0600): it holds the bank's customers.
A workspace made before that, or loosened since, is tightened when opened, with a
``PrivacyWarning`` saying so once (``platform/files.py``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
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
from clientlens.platform import files
from clientlens.platform.exports import CSV_DIALECTS

SETTINGS_FILE = "clientlens.yaml"
# What clientlens keeps in a workspace besides the settings, warehouse and app DB
# (made private when an older workspace is tightened; nothing else there is touched).
OWN_FOLDERS = ("definitions", "exports", ".spill", "demo-data", ".governance")
OWN_FILES = ("tokens.yaml",)


DEFAULTS = Path(__file__).resolve().parents[2] / "defaults"


class PrivacyWarning(UserWarning):
    """A workspace that other users of the machine could read was made private."""


class Settings(BaseSettings):
    """Workspace settings; environment variables CLIENTLENS_<NAME> override the file."""

    model_config = SettingsConfigDict(env_prefix="CLIENTLENS_", extra="forbid")

    engine: str = "duckdb"
    warehouse: str = "warehouse.duckdb"
    base_currency: str = "RUB"
    # The bank's wall-clock zone: imported timestamps written with an offset (Z, +03:00)
    # are converted to it (services/ingest/grammar.py).
    time_zone: str = "Europe/Moscow"
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
    # How exports write CSV unless a command says otherwise (--csv-dialect): standard,
    # excel-ru, excel-bg or excel-1251 (see platform/exports.py).
    export_csv_dialect: str = "standard"
    # Console sign-in through the bank's OpenID Connect provider (docs/console.md): the
    # issuer (its discovery document is <issuer>/.well-known/openid-configuration), this
    # service's client id and secret (set the secret as CLIENTLENS_OIDC_CLIENT_SECRET,
    # not in the file), the claim that lists the user's groups or roles, and which of
    # them maps to which clientlens role.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_role_claim: str = "roles"
    oidc_name_claim: str = "preferred_username"
    oidc_roles: dict[str, str] = {}

    @field_validator("oidc_roles")
    @classmethod
    def _oidc_roles(cls, value: dict[str, str]) -> dict[str, str]:
        from clientlens.platform.access import ROLES

        unknown = sorted({r for r in value.values() if r not in ROLES})
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}: map to "
                             f"{', '.join(ROLES)}")
        return value

    @field_validator("base_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code such as RUB")
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name such as Europe/Moscow or "
                             "Europe/Sofia") from None
        return value

    @field_validator("export_csv_dialect")
    @classmethod
    def _dialect(cls, value: str) -> str:
        if value not in CSV_DIALECTS:
            raise ValueError(f"must be one of {', '.join(CSV_DIALECTS)}")
        return value

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
        # The environment first: CLIENTLENS_<NAME> (and --engine, which sets
        # CLIENTLENS_ENGINE) override the file, as the class says.
        return env_settings, init_settings


@dataclass(frozen=True)
class WorkspaceFolder:
    """A workspace's folder with the engine to open it with instead of its settings' (the
    command line's ``--engine``). Whatever takes a workspace's path takes one."""

    path: Path
    engine: str | None = None

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)


class Workspace:
    """A workspace folder, opened. ``engine`` names the engine to use instead of the one
    in ``clientlens.yaml`` (given by the caller: the command line's ``--engine``, a
    ``WorkspaceFolder``, a program embedding clientlens)."""

    def __init__(self, root: str | os.PathLike[str], *, engine: str | None = None):
        if engine is None and isinstance(root, WorkspaceFolder):
            engine = root.engine
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
        if engine is not None:
            engine_class(engine)  # an unknown name is an error naming the engines
            self.settings = self.settings.model_copy(update={"engine": engine})
        self._make_private()

    def _make_private(self) -> None:
        """Tighten a workspace other local users can read (made by an older version, or
        loosened by hand): the folder to 0700 and what clientlens keeps in it to 0600,
        saying so once. A private folder is the fast path: one stat per opening."""
        if files.is_private(self.root) and all(files.is_private(p) for p in self._outside()):
            return
        # The folder itself, then only what clientlens keeps in it: a workspace may sit
        # among a user's other files, which are not ours to change.
        changed = files.make_private([self.root], recursive=False)
        changed += files.make_private([self.root / SETTINGS_FILE, *self._own_paths()])
        changed += files.make_private(self._outside())
        if changed:
            warnings.warn(PrivacyWarning(
                f"{self.root} could be read by other users of this machine; made it private "
                f"to you ({len(changed)} files and folders now 0700/0600)"), stacklevel=3)

    def _own_paths(self) -> list[Path]:
        own = [self.root / n for n in OWN_FOLDERS + OWN_FILES]
        for db in (self.warehouse_path, self._app_db_file()):
            if db is not None:
                own += [db, *(db.with_name(db.name + s) for s in (".wal", "-wal", "-shm",
                                                                   "-journal"))]
        if self.settings.lake and "://" not in self.settings.lake:
            lake = self.lake_path
            if lake.resolve().is_relative_to(self.root.resolve()):
                own.append(lake)
        return own

    def _outside(self) -> list[Path]:
        """The warehouse and application database files when kept outside the folder."""
        root = self.root.resolve()
        return [p for p in (self.warehouse_path, self._app_db_file())
                if p is not None and not p.resolve().is_relative_to(root)]

    def _app_db_file(self) -> Path | None:
        if "://" in self.settings.app_db:
            return None
        path = Path(self.settings.app_db)
        return path if path.is_absolute() else self.root / path

    @property
    def definitions_dir(self) -> Path:
        return self.root / "definitions"

    @property
    def exports_dir(self) -> Path:
        path = self.root / "exports"
        files.ensure_folder(path)
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
        path = self._app_db_file()
        return self.settings.app_db if path is None else f"sqlite:///{path}"

    def app_db(self) -> Any:
        """The application database, migrated to the newest schema."""
        from clientlens.appdb import open_appdb

        path = self._app_db_file()
        if path is not None and path.parent.is_dir():
            # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files
            # the database file's mode.
            files.create_private_file(path)
        return open_appdb(self.app_db_url, schema=self.settings.app_db_schema)

    @cached_property
    def definitions(self) -> Definitions:
        """The files in ``definitions/`` (in force only while the workspace is ungoverned;
        see ``in_force``)."""
        return load_definitions(self.definitions_dir)

    def in_force(self, day: Any) -> Any:
        """The definitions a run, backfill or re-evaluation of ``day`` uses, and their
        governed version (``services/governance/versions.py``, docs/governance.md): the
        files until a version is approved, then only the approved version in force."""
        from clientlens.services.governance.versions import definitions_in_force

        with self.app_db() as db:
            return definitions_in_force(db, self.root, day, lambda: self.definitions)

    def staging_engine(self, *, read_only: bool = False) -> Engine:
        """The embedded DuckDB warehouse: the engine itself by default, else the staging
        area imports are validated in (and their quarantine kept) before another engine
        takes the tables."""
        cls = engine_class("duckdb")
        if read_only and not self.warehouse_path.exists():
            # A new workspace: nothing to read and nobody holding it; opening it
            # creates the empty warehouse, so readers answer "no profiles yet".
            read_only = False
        if not read_only:
            from clientlens.services.ingest.reader import remove_stale_scratch

            # What an import killed half-way left beside the warehouse (plaintext).
            remove_stale_scratch(self.warehouse_path.parent)
        spill = self.root / ".spill"
        if not spill.exists():
            try:
                files.ensure_folder(spill)  # 0700 before DuckDB spills customers' rows there
            except files.OutputError:
                pass  # a read-only workspace: DuckDB says so if it ever needs to spill
        engine = cls(self.warehouse_path, read_only=read_only,  # type: ignore[call-arg]
                     memory_limit=self.settings.memory_limit, threads=self.settings.threads,
                     temp_directory=spill)
        # DuckDB creates its file with the process umask; the CLI's is 077, a program
        # embedding clientlens may have another.
        files.make_private([self.warehouse_path])
        return engine

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
    """Create a workspace with the bank's default definitions, private to its owner."""
    root = Path(root)
    if (root / SETTINGS_FILE).exists() and not force:
        raise WorkspaceError(f"{root} is already a workspace; use --force to reset its "
                             "definitions to the defaults")
    files.ensure_folder(root)
    files.make_private([root], recursive=False)
    for src in sorted(DEFAULTS.rglob("*.yaml")):
        target = root / "definitions" / src.relative_to(DEFAULTS)
        files.write_bytes(target, src.read_bytes())
    if not (root / SETTINGS_FILE).exists():
        files.write_text(
            root / SETTINGS_FILE,
            "# clientlens workspace settings; CLIENTLENS_<NAME> environment variables override.\n"
            "engine: duckdb              # the embedded default; nothing else to install\n"
            "warehouse: warehouse.duckdb # relative to this folder\n"
            "base_currency: RUB\n"
            "time_zone: Europe/Moscow      # timestamps with an offset are converted to it\n"
            "# memory_limit: 4GB         # DuckDB spills to disk beyond this\n"
            "# threads: 2\n"
            "# export_csv_dialect: excel-ru  # CSV for Excel with Russian/Bulgarian settings\n")
    return Workspace(root)


def open_app_db(url: str | None, workspace: str | Path) -> Any:
    """The application database at ``url`` (a SQLAlchemy URL: ``sqlite:///file`` or
    ``postgresql://user@host/db``), else the workspace's; migrated to the newest
    schema either way."""
    if url:
        from clientlens.appdb import open_appdb

        return open_appdb(url)
    return Workspace(workspace).app_db()
