"""The application database: operational records users write one at a time.

One SQLAlchemy metadata (``schema.Base.metadata``) and one Alembic migration chain
(``migrations/``) for every table: service-recovery cases and departures now, the
referral ledger and the audit log later. ``open_appdb(url)`` migrates and returns an ``AppDB``.

A new table: add its model to ``schema.py``, then write the next migration, e.g.::

    from alembic import command
    from clientlens.appdb.database import alembic_config
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", "sqlite:///scratch.sqlite")  # migrated to head
    command.revision(cfg, "referral ledger", autogenerate=True, rev_id="0002")

and check the generated file by hand (SQLite runs it in batch mode). The tests
compare the migrated schema with the models on SQLite and PostgreSQL.
"""

from clientlens.appdb.contact import (
    ContactConsent,
    ContactLogEntry,
    ContactPause,
    ContactPreference,
)
from clientlens.appdb.database import (
    AppDB,
    AppDBError,
    current_revision,
    head_revision,
    open_appdb,
    upgrade,
)
from clientlens.appdb.schema import (
    ApiToken,
    AuditEntry,
    Base,
    ConsoleSession,
    ConsoleUser,
    Departure,
    RecoveryCase,
    RecoveryStep,
    Reevaluation,
    ReevaluationEvent,
    RulebookVersion,
    Run,
    TokenImport,
)
from clientlens.appdb.schema_governance import DefinitionVersion

__all__ = ["ApiToken", "AppDB", "AppDBError", "AuditEntry", "Base", "ConsoleSession",
           "ConsoleUser", "ContactConsent", "ContactLogEntry", "ContactPause",
           "ContactPreference", "DefinitionVersion", "Departure",
           "RecoveryCase", "RecoveryStep", "Reevaluation", "ReevaluationEvent",
           "RulebookVersion", "Run", "TokenImport", "current_revision", "head_revision",
           "open_appdb", "upgrade"]
