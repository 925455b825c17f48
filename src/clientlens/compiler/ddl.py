"""Dialect-neutral DDL for the canonical tables, rendered by sqlglot per engine."""

from __future__ import annotations

from sqlglot import exp

from clientlens.model.tables import MONEY_PRECISION, MONEY_SCALE, ColumnType, Table

SQL_TYPES: dict[ColumnType, str] = {
    ColumnType.TEXT: "VARCHAR",
    ColumnType.INTEGER: "BIGINT",
    ColumnType.DECIMAL: f"DECIMAL({MONEY_PRECISION}, {MONEY_SCALE})",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.BOOLEAN: "BOOLEAN",
}


def data_type(column_type: ColumnType) -> exp.DataType:
    return exp.DataType.build(SQL_TYPES[column_type])


def create_table(table: Table, dialect: str, *, name: str | None = None,
                 if_not_exists: bool = True, primary_key: bool = False) -> str:
    """CREATE TABLE for a canonical table.

    Primary keys are off by default: the importer enforces uniqueness itself
    and an index on a 50-million-row fact table costs more than it gives.
    """
    cols = []
    for col in table.columns:
        constraints = []
        if col.required:
            constraints.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
        if primary_key and col.name == table.primary_key:
            constraints.append(exp.ColumnConstraint(kind=exp.PrimaryKeyColumnConstraint()))
        cols.append(exp.ColumnDef(this=exp.to_identifier(col.name, quoted=True),
                                  kind=data_type(col.type), constraints=constraints))
    # Quoted nodes, as engines/sqltext.py renders every name: a name is never parsed.
    create = exp.Create(
        this=exp.Schema(this=exp.table_(exp.to_identifier(name or table.name, quoted=True)),
                        expressions=cols),
        kind="TABLE",
        exists=if_not_exists,
    )
    return create.sql(dialect=dialect)
