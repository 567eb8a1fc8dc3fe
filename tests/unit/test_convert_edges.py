"""Edges of the tensor checks and the wire writer that the request tests never reach.

Each case here was found by mutation testing (docs/mutation.md): the code could be changed
without any test failing. An empty batch (a zero dimension), a dtype given as a numpy type
or a bare code, the advice an unsupported dtype gets, and the size of a writer that was
extended (it is the length prefix when the writer is nested).
"""

from __future__ import annotations

import numpy as np
import pytest

from aioeas.codecs import convert
from aioeas.codecs.convert import check_name, check_shape, infer_dtype, prepare, to_data_type
from aioeas.codecs.dtypes import DataType
from aioeas.codecs.wire import LEN, Writer, iter_fields
from aioeas.errors import InvalidTensorError


def test_a_zero_dimension_is_a_shape_an_empty_batch_has() -> None:
    assert check_shape([0, 3]) == (0, 3)
    assert check_shape(np.array([2, 0])) == (2, 0)
    with pytest.raises(InvalidTensorError, match="negative dimension"):
        check_shape([2, -1])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (1, DataType.DT_FLOAT),  # TFRequest.DT_FLOAT is a plain int
        (np.int64(3), DataType.DT_INT32),
        (np.float32, DataType.DT_FLOAT),
        ("float64", DataType.DT_DOUBLE),
        (np.dtype(">i8"), DataType.DT_INT64),  # byte order does not matter
        ("U", DataType.DT_STRING),
        (object, DataType.DT_STRING),  # an object dtype with no sample: strings
    ],
)
def test_a_data_type_from_a_code_or_a_numpy_dtype(given: object, expected: DataType) -> None:
    assert to_data_type(given) is expected


def test_an_unknown_code_is_refused() -> None:
    with pytest.raises(InvalidTensorError, match=r"^999 is not an EAS data type code$"):
        to_data_type(999)


def test_the_name_check_says_which_name() -> None:
    with pytest.raises(InvalidTensorError, match=r"^the input name must be a non-empty str"):
        check_name("")
    with pytest.raises(InvalidTensorError, match=r"^the output name must be a non-empty str"):
        check_name(3, "output")


def test_an_unsupported_dtype_gets_the_list_of_those_that_work() -> None:
    with pytest.raises(InvalidTensorError) as caught:
        infer_dtype(np.dtype("datetime64[s]"), None)
    assert str(caught.value) == (
        "arrays of dtype datetime64[s] cannot be sent: convert it to one of float32, "
        "float64, int8, int16, int32, int64, uint8, uint16, bool or strings"
    )


def test_an_extended_writer_knows_its_size_when_nested() -> None:
    inner = Writer()
    inner.varint(1, 300)
    more = Writer()
    more.string(2, "abc")
    inner.extend(more)
    assert inner.size == len(inner.getvalue())
    outer = Writer()
    outer.message(1, inner)
    body = outer.getvalue()
    view = memoryview(body)
    [(field, wire, a, b)] = list(iter_fields(view, 0, len(body), "outer"))
    assert (field, wire) == (1, LEN)
    assert bytes(view[a:b]) == inner.getvalue()


def test_raw_fields_count_in_a_writers_size_when_nested() -> None:
    """Bytes added already encoded (``raw``, as Blade's signature field is) count in the
    writer's size: a writer nesting them is framed by its full length."""
    inner = Writer()
    inner.varint(1, 7)
    inner.raw(b"\x12\x03abc")  # field 2, "abc", already encoded
    assert inner.size == len(inner.getvalue()) == 7
    outer = Writer()
    outer.message(1, inner)
    body = outer.getvalue()
    view = memoryview(body)
    [(field, wire, a, b)] = list(iter_fields(view, 0, len(body), "outer"))
    assert (field, wire) == (1, LEN)
    assert bytes(view[a:b]) == inner.getvalue()


@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_a_plain_float_array_takes_the_short_path(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A C-contiguous little-endian float array with no dtype or shape asked is sent as its
    own memory without the general checks (the hot path of every tensor request): the
    general path is replaced by one that fails, to prove it is not taken."""
    arr = np.arange(6, dtype=dtype).reshape(2, 3)
    want = DataType.DT_FLOAT if dtype == "<f4" else DataType.DT_DOUBLE

    def general(*args: object) -> None:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(convert, "infer_dtype", general)
    monkeypatch.setattr(convert, "_cast_numeric", general)
    for allowed in (None, frozenset({want})):
        values = prepare(arr, allowed=allowed)
        assert (values.dtype, values.shape, values.items) == (want, (2, 3), None)
        assert values.payload is not None
        assert np.shares_memory(np.asarray(values.payload), arr)
        assert bytes(values.payload) == arr.tobytes()


def test_a_float_array_with_a_shape_given_is_sent_in_that_shape() -> None:
    arr = np.arange(4, dtype=np.float32)
    values = prepare(arr, shape=[2, 2])
    assert (values.dtype, values.shape) == (DataType.DT_FLOAT, (2, 2))
    assert bytes(values.payload or b"") == arr.tobytes()
    with pytest.raises(InvalidTensorError, match="the TF schema cannot carry DT_FLOAT"):
        prepare(arr, allowed=frozenset({DataType.DT_DOUBLE}), schema="TF")


@pytest.mark.parametrize(
    ("dtype", "want"), [("int32", DataType.DT_INT32), ("bool", DataType.DT_BOOL)]
)
def test_an_empty_list_takes_the_dtype_asked(dtype: str, want: DataType) -> None:
    """``[]`` is float64 to numpy; with a dtype asked it is an empty tensor of that type
    (not refused as floats for an integer or bool type)."""
    values = prepare([], dtype, shape=[0])
    assert (values.dtype, values.shape) == (want, (0,))
    assert values.payload is not None
    assert bytes(values.payload) == b""


def test_content_numpy_cannot_shape_names_the_type_asked() -> None:
    with pytest.raises(InvalidTensorError) as asked:
        prepare([[1, 2], [3]], "int32")
    assert str(asked.value).startswith("cannot make DT_INT32 of the given content: ")
    with pytest.raises(InvalidTensorError) as inferred:
        prepare([[1, 2], [3]])
    assert str(inferred.value).startswith("cannot make a tensor of the given content: ")
