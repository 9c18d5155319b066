"""Small builders over SQLGlot expressions, so the compiler reads like the SQL it makes."""

from __future__ import annotations

from datetime import date

from sqlglot import exp


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table)


def lit(value: object) -> exp.Expr:
    return exp.convert(value)


def date_lit(day: date) -> exp.Expr:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))


def days_between(earlier: exp.Expr, later: exp.Expr) -> exp.Expr:
    return exp.DateDiff(this=later, expression=earlier, unit=exp.var("DAY"))


def and_(*conditions: exp.Expr) -> exp.Expr:
    kept = [c for c in conditions if not (isinstance(c, exp.Boolean) and c.this is True)]
    return exp.and_(*kept) if kept else exp.true()


def is_in(value: exp.Expr, options: tuple[str, ...]) -> exp.Expr:
    return exp.In(this=value, expressions=[lit(o) for o in options]) if options else exp.false()


def union_all(queries: list[exp.Select]) -> exp.Query:
    """The rows of every query, one after the other."""
    return queries[0] if len(queries) == 1 else exp.union(*queries, distinct=False)


def eq(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.EQ(this=left, expression=right)


def on(left: str, right: str, *keys: str) -> exp.Expr:
    """`left.k = right.k AND ...` for every key."""
    return and_(*(eq(col(k, left), col(k, right)) for k in keys))


def filtered(aggregate: exp.Expr, condition: exp.Expr) -> exp.Expr:
    if isinstance(condition, exp.Boolean) and condition.this is True:
        return aggregate
    return exp.Filter(this=aggregate, expression=exp.Where(this=condition))


def case(*whens: tuple[exp.Expr, exp.Expr],
         default: exp.Expr | None = None) -> exp.Expr:
    expression = exp.Case()
    for condition, value in whens:
        expression = expression.when(condition, value)
    return expression.else_(default) if default is not None else expression


def blank_to_null(value: exp.Expr) -> exp.Expr:
    return exp.Nullif(this=exp.Trim(this=value), expression=lit(""))


def cast(value: exp.Expr, to: str) -> exp.Expr:
    return exp.cast(value, exp.DataType.build(to))


def coalesce(value: exp.Expr, default: exp.Expr) -> exp.Expr:
    return exp.Coalesce(this=value, expressions=[default])


def empty_list() -> exp.Expr:
    return cast(exp.Array(expressions=[]), "VARCHAR[]")


def full_match(value: exp.Expr, pattern: str) -> exp.Expr:
    return exp.RegexpLike(this=value, expression=lit(f"^(?:{pattern})$"))


KEY_BITS = 25
"""Key ids take the low bits of a packed sort value (33 million keys per stream)."""
UNITS_OFFSET = 2**37
"""Units in hundredths, shifted positive: most units sort first, any sign."""


def ranked_ids(units: exp.Expr, key_id: exp.Expr, condition: exp.Expr) -> exp.Expr:
    """The key ids of the group, most units first, then by id (ids follow the keys' names):
    one BIGINT per key packs both, so the sort is over plain integers."""
    cents = cast(exp.Mul(this=units, expression=lit(100)), "BIGINT")
    packed = exp.Add(
        this=exp.Mul(this=exp.Paren(this=exp.Sub(this=lit(UNITS_OFFSET), expression=cents)),
                     expression=lit(2**KEY_BITS)),
        expression=key_id)
    gathered = filtered(exp.ArrayAgg(this=packed), condition)
    item = exp.to_identifier("x")
    return exp.Transform(this=exp.ArraySort(this=gathered), expression=exp.Lambda(
        this=exp.Mod(this=exp.column(item.copy()), expression=lit(2**KEY_BITS)),
        expressions=[item]))
