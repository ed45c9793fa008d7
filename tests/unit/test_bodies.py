"""The JSON pre-scan: depth and value counts read from the raw text, strings ignored."""

import json

import pytest

from shared import bodies


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 1),
        ('["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', 1),
        ("[" * 30 + "]" * 30, 30),
    ],
)
def test_depth_of_text_matches_the_decoded_value(text, depth):
    assert bodies.shape(text)[0] == depth
    assert bodies.depth(json.loads(text)) == depth


def test_too_deep_and_too_many_values_name_their_limit():
    with pytest.raises(bodies.TooDeep) as deep:
        bodies.loads(b"[" * 5000 + b"]" * 5000)
    assert deep.value.status == 400 and "20 levels" in deep.value.message
    with pytest.raises(bodies.TooManyValues) as many:
        bodies.loads(b"[" + b"{}," * 200_000 + b"{}]")
    assert many.value.status == 413 and "100000" in many.value.message
    assert bodies.loads(b'{"a": "' + b"[" * 5000 + b'"}') == {"a": "[" * 5000}


def test_utf16_text_is_measured_as_what_it_says():
    text = '["\\"", ' + "[" * 30 + "]" * 30 + ', "x"]'
    assert json.loads(text.encode("utf-16"))
    assert bodies.shape(text.encode("utf-16"))[0] == 31
    with pytest.raises(bodies.TooDeep):
        bodies.loads(text.encode("utf-16-le"))
