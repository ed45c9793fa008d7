"""The where-clause parser (never evaluates input) and Firestore-like condition semantics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.packages.where import Condition, WhereError, matches, parse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("active = TRUE", [Condition("active", "==", True)]),
        (
            "created_date >= '2025-01-01' AND active = true",
            [Condition("created_date", ">=", "2025-01-01"), Condition("active", "==", True)],
        ),
        ("name == 'O''Brien'", [Condition("name", "==", "O'Brien")]),
        ("n <> -1.5e2 and m != NULL", [Condition("n", "!=", -150.0), Condition("m", "!=", None)]),
        ("a.b < 3", [Condition("a.b", "<", 3)]),
        ("  x>1 AND y<=2  ", [Condition("x", ">", 1), Condition("y", "<=", 2)]),
        ("flag = False", [Condition("flag", "==", False)]),
    ],
)
def test_string_form(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("active", "ends early"),
        ("active =", "ends early"),
        ("= 1", "field name"),
        ("a = 1 OR b = 2", "AND"),
        ("a = 1 AND", "ends early"),
        ("a = b", "literal"),
        ("a LIKE 'x'", "operator"),
        ("a = 'open", "cannot read"),
        ("a = 1; DROP TABLE t", "cannot read"),
        ("__import__('os').system('id')", "cannot read"),
        ("a IN (1, 2)", "cannot read"),
        ("TRUE = a", "field name"),
        ("a = 1 " * 60, "AND"),
    ],
)
def test_string_form_errors_name_the_problem(text, words):
    with pytest.raises(WhereError) as error:
        parse(text)
    assert words.lower() in str(error.value).lower()


@pytest.mark.parametrize(
    "items, expected",
    [
        ([["a", "==", 1]], [Condition("a", "==", 1)]),
        (["a", "=", 1], [Condition("a", "==", 1)]),
        (
            [["tags", "array-contains", "x"], ["n", "in", [1, 2]]],
            [Condition("tags", "array-contains", "x"), Condition("n", "in", [1, 2])],
        ),
        ([["n", "not-in", [1]]], [Condition("n", "not-in", [1])]),
    ],
)
def test_structured_form(items, expected):
    assert parse(items) == expected


@pytest.mark.parametrize(
    "items",
    [
        [],
        [["a", "==="]],
        [["a", "like", 1]],
        [[1, "==", 1]],
        [["a b", "==", 1]],
        [["n", "in", 1]],
        5,
        None,
    ],
)
def test_structured_form_errors(items):
    with pytest.raises(WhereError):
        parse(items)


MOMENT = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "clause, doc, holds",
    [
        ("active = TRUE", {"active": True}, True),
        ("active = TRUE", {"active": 1}, False),
        ("n > 1", {"n": 2.5}, True),
        ("n > 1", {"n": "2"}, False),
        ("n > 1", {}, False),
        ("n != 1", {}, False),
        ("n != 1", {"n": 2}, True),
        ("m = NULL", {"m": None}, True),
        ("m = NULL", {}, False),
        ("created >= '2025-01-01'", {"created": MOMENT}, True),
        ("created < '2025-01-01T00:00:00Z'", {"created": MOMENT}, False),
        ("created >= 'soon'", {"created": MOMENT}, False),
        ("name >= 'b'", {"name": "c"}, True),
        ("a.b = 1", {"a": {"b": 1}}, True),
    ],
)
def test_evaluation(clause, doc, holds):
    assert matches(parse(clause), doc) is holds


def test_structured_evaluation():
    doc = {"tags": ["x", "y"], "n": 2}
    assert matches(parse([["tags", "array-contains", "y"]]), doc)
    assert matches(parse([["n", "in", [1, 2]]]), doc)
    assert not matches(parse([["n", "not-in", [2]]]), doc)
    assert not matches(parse([["tags", "array-contains", "z"]]), doc)
