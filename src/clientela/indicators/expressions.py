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


def sorted_keys(sort_keys: list[exp.Expr], key: exp.Expr,
                condition: exp.Expr) -> exp.Expr:
    """The keys of the group, ordered by `sort_keys` (ascending) then by the key itself:
    a list of structs sorted and projected, which every engine can do (unlike ordered
    aggregates, which Spark lacks)."""
    fields = [exp.PropertyEQ(this=exp.to_identifier(f"s{i}"), expression=s)
              for i, s in enumerate(sort_keys)]
    fields.append(exp.PropertyEQ(this=exp.to_identifier("k"), expression=key))
    gathered = filtered(exp.ArrayAgg(this=exp.Struct(expressions=fields)), condition)
    item = exp.to_identifier("x")
    return exp.Transform(this=exp.ArraySort(this=gathered), expression=exp.Lambda(
        this=exp.Dot(this=item.copy(), expression=exp.to_identifier("k")), expressions=[item]))


def full_match(value: exp.Expr, pattern: str) -> exp.Expr:
    return exp.RegexpLike(this=value, expression=lit(f"^(?:{pattern})$"))
