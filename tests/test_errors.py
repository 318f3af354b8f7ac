"""Bad calls raise a clear exception of the right type with PyTorch's message, never a crash.

One table per area: rows are (id, callable, exception type, regex matched at the start of the
message with `re.match`). Add an area by defining a list and adding it to AREAS.
"""
import re

import numpy as np
import pytest

import tinytensor as tt


def _ro():
    a = np.arange(4.0)
    a.flags.writeable = False
    return tt.from_numpy(a)


def _leaf():
    return tt.ones(2, requires_grad=True)


def _saved_then_modified():
    x = tt.ones(2, requires_grad=True)
    y = x * 1
    z = y * y
    y.add_(1)
    z.sum().backward()


def _backward_twice():
    x = tt.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


T = tt.ones  # short alias for the table

CORE_ERRORS = [
    # broadcasting
    ("broadcast_add", lambda: T(2, 3) + T(2, 4), RuntimeError,
     r"The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1"),
    ("broadcast_mul_3d", lambda: T(5, 2, 3) * T(4, 1, 3), RuntimeError,
     r"The size of tensor a \(5\) must match the size of tensor b \(4\) at non-singleton dimension 0"),
    ("broadcast_where", lambda: tt.where(T(3, dtype=tt.bool), T(3), T(4)), RuntimeError,
     r"The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 0"),
    ("expand_bad", lambda: T(2, 3).expand(4, 3), RuntimeError,
     r"The expanded size of the tensor \(4\) must match the existing size \(2\) at non-singleton "
     r"dimension 0"),
    ("expand_fewer_dims", lambda: T(2, 3).expand(3), RuntimeError,
     r"expand\(.*size=\[3\]\): the number of sizes provided \(1\) must be greater or equal to the "
     r"number of dimensions in the tensor \(2\)"),
    ("inplace_broadcast", lambda: T(2).add_(T(3, 2)), RuntimeError,
     r"output with shape \[2\] doesn't match the broadcast shape \[3, 2\]"),
    # views and shapes
    ("view_incompatible", lambda: T(2, 3).t().view(6), RuntimeError,
     r"view size is not compatible with input tensor's size and stride \(at least one dimension "
     r"spans across two contiguous subspaces\)\. Use \.reshape\(\.\.\.\) instead\."),
    ("view_numel", lambda: T(2, 3).view(4), RuntimeError,
     r"shape '\[4\]' is invalid for input of size 6"),
    ("reshape_numel", lambda: T(2, 3).reshape(-1, 4), RuntimeError,
     r"shape '\[-1, 4\]' is invalid for input of size 6"),
    ("view_two_infer", lambda: T(2, 3).view(-1, -1), RuntimeError,
     r"only one dimension can be inferred"),
    ("permute_dup", lambda: T(2, 3).permute(0, 0), RuntimeError,
     r"permute\(\): duplicate dims are not allowed\."),
    ("permute_len", lambda: T(2, 3).permute(0), RuntimeError,
     r"permute\(sparse_coo\): number of dimensions in the tensor input does not match the length "
     r"of the desired ordering of dimensions i\.e\. input\.dim\(\) = 2 is not equal to "
     r"len\(dims\) = 1"),
    ("t_3d", lambda: T(2, 3, 4).t(), RuntimeError,
     r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"),
    ("flatten_order", lambda: T(2, 3, 4).flatten(2, 1), RuntimeError,
     r"flatten\(\) has invalid args: start_dim cannot come after end_dim"),
    ("cat_dims", lambda: tt.cat([T(2, 3), T(2)]), RuntimeError,
     r"Tensors must have same number of dimensions: got 2 and 1"),
    ("cat_sizes", lambda: tt.cat([T(2, 3), T(2, 4)]), RuntimeError,
     r"Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for "
     r"tensor number 1 in the list."),
    ("cat_empty_list", lambda: tt.cat([]), ValueError,
     r"tinytensor\.cat\(\): expected a non-empty list of Tensors"),
    ("stack_empty_list", lambda: tt.stack([]), RuntimeError,
     r"stack expects a non-empty TensorList"),
    ("cat_zero_dim", lambda: tt.cat([tt.tensor(1.0), tt.tensor(2.0)]), RuntimeError,
     r"zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    ("stack_sizes", lambda: tt.stack([T(2, 3), T(3, 2)]), RuntimeError,
     r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[3, 2\] at "
     r"entry 1"),
    ("cat_not_list", lambda: tt.cat(T(2)), TypeError,
     r"cat\(\): argument 'tensors' (\(position 1\) )?must be tuple of Tensors, not Tensor"),
    # indexing
    ("index_out_of_range", lambda: T(2, 3)[2], IndexError,
     r"index 2 is out of bounds for dimension 0 with size 2"),
    ("index_neg_out_of_range", lambda: T(2, 3)[:, -4], IndexError,
     r"index -4 is out of bounds for dimension 1 with size 3"),
    ("too_many_indices", lambda: T(2, 3)[0, 0, 0], IndexError,
     r"too many indices for tensor of dimension 2"),
    ("too_many_indices_0d", lambda: tt.tensor(1.0)[0], IndexError,
     r"invalid index of a 0-dim tensor\. Use `tensor\.item\(\)` in Python"),
    ("slice_step_zero", lambda: T(4)[::0], ValueError, r"slice step cannot be zero"),
    ("slice_step_negative", lambda: T(4)[::-1], ValueError, r"step must be greater than zero"),
    ("tensor_index_out_of_range", lambda: T(3)[tt.tensor([0, 3])], IndexError,
     r"index 3 is out of bounds for dimension 0 with size 3"),
    ("float_tensor_index", lambda: T(3)[tt.tensor([0.0])], IndexError,
     r"tensors used as indices must be long, int, byte or bool tensors"),
    ("mask_shape", lambda: T(3, 2)[tt.tensor([True, False])], IndexError,
     r"The shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor "
     r"\[3, 2\] at index 0"),
    ("mask_shape_inner", lambda: T(3, 2, 4)[:, tt.tensor([True, False, True])], IndexError,
     r"The shape of the mask \[3\] at index 0 does not match the shape of the indexed tensor "
     r"\[3, 2, 4\] at index 1"),
    ("bad_dim", lambda: T(2, 3).sum(2), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    ("bad_dim_neg", lambda: T(2, 3).unsqueeze(-4), IndexError,
     r"Dimension out of range \(expected to be in range of \[-3, 2\], but got -4\)"),
    ("bad_dim_transpose", lambda: T(2, 3).transpose(0, 5), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)"),
    ("bad_dim_0d", lambda: tt.tensor(1.0).argmax(1), IndexError,
     r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)"),
    ("dup_reduce_dim", lambda: T(2, 3).sum((0, 0)), RuntimeError,
     r"dim 0 appears multiple times in the list of dims"),
    # matmul
    ("matmul_dtype", lambda: T(2, 3) @ T(3, 2, dtype=tt.float64), RuntimeError,
     r"expected m1 and m2 to have the same dtype, but got: float != double"),
    ("matmul_shape", lambda: T(2, 3) @ T(4, 5), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("matmul_0d", lambda: tt.tensor(1.0) @ T(2), RuntimeError,
     r"both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ("matmul_vec", lambda: T(3) @ T(4), RuntimeError,
     r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same number of "
     r"elements, but got 3 and 4 elements respectively"),
    ("matmul_batched", lambda: T(2, 2, 3) @ T(2, 4, 5), RuntimeError,
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\] but got: \[2, 4\]\."),
    ("matmul_folded", lambda: T(2, 4, 3) @ T(4, 5), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(8x3 and 4x5\)"),
    ("matmul_mv", lambda: T(2, 3) @ T(4), RuntimeError,
     r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ("matmul_batch_broadcast", lambda: T(2, 4, 3) @ T(3, 3, 5), RuntimeError,
     r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
     r"dimension 0"),
    ("matmul_dot_dtype", lambda: tt.tensor([1, 2]) @ T(2), RuntimeError,
     r"dot : expected both vectors to have same dtype, but found Long and Float"),
    ("matmul_bool", lambda: T(2, 2, dtype=tt.bool) @ T(2, 2, dtype=tt.bool), NotImplementedError,
     r"\"addmm_impl_cpu_\" not implemented for 'Bool'"),
    # sizes and allocation
    ("negative_size", lambda: tt.empty(2, -1), RuntimeError,
     r"Trying to create tensor with negative dimension -1: \[2, -1\]"),
    ("negative_size_zeros", lambda: tt.zeros(-2), RuntimeError,
     r"Trying to create tensor with negative dimension -2: \[-2\]"),
    ("negative_size_empty", lambda: tt.empty(-3), RuntimeError,
     r"Trying to create tensor with negative dimension -3: \[-3\]"),
    ("overflow_64bit", lambda: tt.zeros(2 ** 40, 2 ** 40), RuntimeError,
     r"Storage size calculation overflowed with sizes=\[1099511627776, 1099511627776\]"),
    ("huge_allocation", lambda: tt.empty(2 ** 60 // 4), RuntimeError,
     r".*can't allocate memory: you tried to allocate 1152921504606846976 bytes"),
    ("huge_allocation_ones", lambda: tt.ones(2 ** 20, 2 ** 20, 2 ** 10), RuntimeError,
     r".*can't allocate memory: you tried to allocate 4503599627370496 bytes"),
    ("size_not_int", lambda: tt.zeros(2.5), TypeError,
     r"zeros\(\): argument 'size' \(position 1\) must be tuple of ints, not float"),
    ("size_element_not_int", lambda: tt.ones(2, 2.5), TypeError,
     r"ones\(\): argument 'size' failed to unpack the object at pos 2 with error \"type must "
     r"be tuple of ints,but got float\""),
    # NumPy interop
    ("read_only_write", lambda: _ro().fill_(0.0), RuntimeError, r".*read-only"),
    ("read_only_setitem", lambda: _ro().__setitem__(0, 1.0), RuntimeError, r".*read-only"),
    ("negative_strides", lambda: tt.from_numpy(np.arange(3.0)[::-1]), ValueError,
     r"At least one stride in the given numpy array is negative"),
    ("from_numpy_dtype", lambda: tt.from_numpy(np.zeros(2, np.int32)), TypeError,
     r"can't convert np\.ndarray of type numpy\.int32|can't convert np\.ndarray of type int32"),
    ("from_numpy_not_array", lambda: tt.from_numpy([1, 2]), TypeError,
     r"expected np\.ndarray \(got list\)"),
    ("numpy_requires_grad", lambda: _leaf().numpy(), RuntimeError,
     r"Can't call numpy\(\) on Tensor that requires grad\. Use tensor\.detach\(\)\.numpy\(\) "
     r"instead\."),
    # dtypes
    ("bad_dtype_name", lambda: tt.zeros(2, dtype="float16"), TypeError, r"dtype must be one of"),
    ("bad_dtype_object", lambda: tt.tensor([1.0], dtype=np.int32), TypeError, r"dtype must be one of"),
    ("bool_sub", lambda: T(2, dtype=tt.bool) - T(2, dtype=tt.bool), RuntimeError,
     r"Subtraction, the `-` operator, with two bool tensors is not supported\. Use the `\^` or "
     r"`logical_xor\(\)` operator instead\."),
    ("bool_neg", lambda: -T(2, dtype=tt.bool), RuntimeError,
     r"Negation, the `-` operator, on a bool tensor is not supported\."),
    ("int_neg_pow", lambda: tt.tensor([2]) ** -1, RuntimeError,
     r"Integers to negative integer powers are not allowed\."),
    ("mean_int", lambda: tt.tensor([1, 2]).mean(), RuntimeError,
     r"mean\(\): could not infer output dtype\. Input dtype must be either a floating point or "
     r"complex dtype\. Got: Long"),
    ("var_int", lambda: tt.tensor([1, 2]).var(), RuntimeError,
     r"std and var only support floating point and complex dtypes"),
    ("inplace_downcast", lambda: tt.tensor([1, 2]).add_(0.5), RuntimeError,
     r"result type Float can't be cast to the desired output type Long"),
    # autograd
    ("requires_grad_int", lambda: tt.tensor([1, 2]).requires_grad_(), RuntimeError,
     r"only Tensors of floating point dtype can require gradients"),
    ("requires_grad_bool", lambda: tt.zeros(2, dtype=tt.bool, requires_grad=True), RuntimeError,
     r"Only Tensors of floating point and complex dtype can require gradients"),
    ("requires_grad_int_tensor", lambda: tt.tensor([1, 2], requires_grad=True), RuntimeError,
     r"Only Tensors of floating point and complex dtype can require gradients"),
    ("requires_grad_arange", lambda: tt.arange(3, requires_grad=True), RuntimeError,
     r"Only Tensors of floating point and complex dtype can require gradients"),
    ("item_many", lambda: T(2).item(), RuntimeError,
     r"a Tensor with 2 elements cannot be converted to Scalar"),
    ("bool_many", lambda: bool(T(2)), RuntimeError,
     r"Boolean value of Tensor with more than one value is ambiguous"),
    ("backward_non_scalar", lambda: (_leaf() * 2).backward(), RuntimeError,
     r"grad can be implicitly created only for scalar outputs"),
    ("backward_no_grad", lambda: T(2).sum().backward(), RuntimeError,
     r"element 0 of tensors does not require grad and does not have a grad_fn"),
    ("backward_twice", _backward_twice, RuntimeError,
     r"Trying to backward through the graph a second time \(or directly access saved tensors "
     r"after they have already been freed\)"),
    ("leaf_inplace", lambda: _leaf().add_(1), RuntimeError,
     r"a leaf Variable that requires grad is being used in an in-place operation\."),
    ("leaf_view_inplace", lambda: _leaf()[0:1].mul_(2), RuntimeError,
     r"a view of a leaf Variable that requires grad is being used in an in-place operation\."),
    ("leaf_setitem", lambda: _leaf().__setitem__(0, 2.0), RuntimeError,
     r"a view of a leaf Variable that requires grad is being used in an in-place operation\."),
    ("version_counter", _saved_then_modified, RuntimeError,
     r"one of the variables needed for gradient computation has been modified by an inplace "
     r"operation: \[tinytensor\.(float32|FloatTensor) \[2\]\]"),
    ("non_leaf_requires_grad_false", lambda: (_leaf() * 2).requires_grad_(False), RuntimeError,
     r"you can only change requires_grad flags of leaf variables\."),
    # creation
    ("arange_step_zero", lambda: tt.arange(0, 5, 0), RuntimeError, r"step must be nonzero"),
    ("arange_sign", lambda: tt.arange(5, 0, 1), RuntimeError,
     r"upper bound and lower bound inconsistent with step sign"),
    ("randint_range", lambda: tt.randint(5, 2, (3,)), RuntimeError,
     r"random_ expects 'from' to be less than 'to', but got from=5 >= to=2"),
    ("linspace_negative", lambda: tt.linspace(0, 1, -1), RuntimeError,
     r"number of steps must be non-negative"),
    ("set_num_threads_zero", lambda: tt.set_num_threads(0), RuntimeError,
     r"set_num_threads expects a positive integer"),
]


# ---------------------------------------------------------------------------------------------
# Issue 5: the whole public API. Rows were checked against torch 2.13 CPU: where torch raises,
# the type is the same and the pattern is torch's text (or its prefix).
import io  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402

import tinytensor.nn as nn  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402
import tinytensor.optim as optim  # noqa: E402
from tinytensor.utils.data import DataLoader, TensorDataset  # noqa: E402

R = tt.randn


def P():
    return nn.Parameter(tt.ones(2))


P2 = P()


def _load_bytes(data):
    """tt.load on a file holding `data` (written to a temporary file, removed afterwards)."""
    fd, path = tempfile.mkstemp(suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return tt.load(path)
    finally:
        os.unlink(path)


def _npy_bytes():
    b = io.BytesIO()
    np.save(b, np.ones(3))
    return b.getvalue()


def _npz_bytes():
    b = io.BytesIO()
    np.savez(b, a=np.ones(3))
    return b.getvalue()


def _zip_bytes():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("x.txt", "hi")
    return b.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


CREATION_ERRORS = [
    ("eye_negative", lambda: tt.eye(-1), RuntimeError, r"n must be greater or equal to 0, got -1"),
    ("zeros_like_not_tensor", lambda: tt.zeros_like(5), TypeError,
     r"argument 'input' \(position 1\) must be Tensor, not int"),
    ('tt_ones_3_2', lambda: tt.ones(3, -2), RuntimeError,
     r'Trying to create tensor with negative dimension \-2: \[3, \-2\]'),
    ('tt_full_2_1_1_0', lambda: tt.full((2, -1), 1.0), RuntimeError,
     r'Trying to create tensor with negative dimension \-1: \[2, \-1\]'),
    ('tt_rand_1', lambda: tt.rand(-1), RuntimeError,
     r'Trying to create tensor with negative dimension \-1: \[\-1\]'),
    ('tt_randn_2_5', lambda: tt.randn(2, -5), RuntimeError,
     r'Trying to create tensor with negative dimension \-5: \[2, \-5\]'),
    ('tt_arange_0_10_1', lambda: tt.arange(0, 10, -1), RuntimeError,
     r'upper bound and lower bound inconsistent with step sign'),
    ('tt_randint_0_5_1', lambda: tt.randint(0, 5, (-1,)), RuntimeError,
     r'Trying to create tensor with negative dimension \-1: \[\-1\]'),
    ('tt_full_2_1_0_dtype_tt_bool_requires_grad', lambda: tt.full((2,), 1.0, dtype=tt.bool).requires_grad_(), RuntimeError,
     r'only Tensors of floating point dtype can require gradients'),
]

VIEWS_ERRORS = [
    ('tt_ones_2_3_view_2_2', lambda: tt.ones(2, 3).view(2, 2), RuntimeError,
     r"shape '\[2, 2\]' is invalid for input of size 6"),
    ('tt_ones_2_3_reshape_7', lambda: tt.ones(2, 3).reshape(7), RuntimeError,
     r"shape '\[7\]' is invalid for input of size 6"),
    ('tt_ones_2_3_view_0_1', lambda: tt.ones(2, 3).view(0, -1), RuntimeError,
     r"shape '\[0, \-1\]' is invalid for input of size 6"),
    ('tt_ones_2_3_expand_2_2', lambda: tt.ones(2, 3).expand(2, -2), RuntimeError,
     r'The expanded size of the tensor \(\-2\) must match the existing size \(3\) at non\-singleton dimension 1\.  Target si'),
    ('tt_ones_2_3_expand_1_1_1', lambda: tt.ones(2, 3).expand(-1, -1, -1), RuntimeError,
     r"The expanded size of the tensor \(\-1\) isn't allowed in a leading, non\-existing dimension 0"),
    ('tt_ones_2_3_squeeze_3', lambda: tt.ones(2, 3).squeeze(3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 3\)'),
    ('tt_ones_2_3_permute_0_2', lambda: tt.ones(2, 3).permute(0, 2), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 2\)'),
    ('tt_ones_2_3_transpose_3_0', lambda: tt.ones(2, 3).transpose(-3, 0), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got \-3\)'),
    ('tt_ones_2_3_flatten_0_5', lambda: tt.ones(2, 3).flatten(0, 5), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 5\)'),
    ('tt_ones_2_3_unsqueeze_3', lambda: tt.ones(2, 3).unsqueeze(3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-3, 2\], but got 3\)'),
    ('tt_ones_4_view_2_62_4', lambda: tt.ones(4).view(2 ** 62, 4), RuntimeError,
     r"shape '\[4611686018427387904, 4\]' is invalid for input of size 4"),
    ('tt_ones_2_3_view_1_0', lambda: tt.ones(2, 3).view(-1, 0), RuntimeError,
     r"shape '\[\-1, 0\]' is invalid for input of size 6"),
    ('tt_stack_tt_ones_2_tt_ones_2_dim_3', lambda: tt.stack([tt.ones(2), tt.ones(2)], dim=3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 3\)'),
    ('tt_cat_tt_ones_2_tt_ones_2_dim_1', lambda: tt.cat([tt.ones(2), tt.ones(2)], dim=1), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-1, 0\], but got 1\)'),
    ('tt_ones_2_3_expand_2_62_2_62_3_contiguous', lambda: tt.ones(2, 3).expand(2 ** 62, 2 ** 62, 3).contiguous(), RuntimeError,
     r'The expanded size of the tensor \(4611686018427387904\) must match the existing size \(2\) at non\-singleton dimens'),
]

INDEXING_ERRORS = [
    ('tt_ones_2_3_0_3', lambda: tt.ones(2, 3)[0, 3], IndexError,
     r'index 3 is out of bounds for dimension 1 with size 3'),
    ('tt_ones_2_3_3', lambda: tt.ones(2, 3)[-3], IndexError,
     r'index \-3 is out of bounds for dimension 0 with size 2'),
    ('tt_ones_2_3_1_5', lambda: tt.ones(2, 3)[1.5], IndexError,
     r'only integers, slices \(`:`\), ellipsis \(`\.\.\.`\), None and long or byte Variables are valid indices \(got float\)'),
    ('tt_ones_2_3_tt_tensor_0_5', lambda: tt.ones(2, 3)[tt.tensor([[0, 5]])], IndexError,
     r'index 5 is out of bounds for dimension 0 with size 2'),
    ('tt_ones_2_3_tt_tensor_4', lambda: tt.ones(2, 3)[:, tt.tensor([-4])], IndexError,
     r'index \-4 is out of bounds for dimension 1 with size 3'),
    ('tt_ones_2_3_setitem_2_1_0', lambda: tt.ones(2, 3).__setitem__(2, 1.0), IndexError,
     r'index 2 is out of bounds for dimension 0 with size 2'),
    ('tt_ones_3_tt_tensor_true_false', lambda: tt.ones(3)[tt.tensor([True, False])], IndexError,
     r'The shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor \[3\] at index 0'),
    ('tt_ones_3_2_63_1', lambda: tt.ones(3)[2 ** 63 - 1], IndexError,
     r'index 9223372036854775807 is out of bounds for dimension 0 with size 3'),
    ('tt_ones_3_2_63', lambda: tt.ones(3)[-2 ** 63], IndexError,
     r'index \-9223372036854775808 is out of bounds for dimension 0 with size 3'),
    ('tt_ones_2_3_none_0_0_0', lambda: tt.ones(2, 3)[None, 0, 0, 0], IndexError,
     r'too many indices for tensor of dimension 2'),
]

ARITH_ERRORS = [
    # results computed outside Function.apply also turn NumPy's MemoryError into RuntimeError
    ("compare_too_big", lambda: tt.zeros(1).expand(2**40) == 0, RuntimeError,
     r"can't allocate memory"),
    ("argmax_too_big", lambda: tt.zeros(1).expand(2**40).argmax(0), RuntimeError,
     r"can't allocate memory"),
    ("add_str", lambda: tt.ones(3) + "a", TypeError, r"unsupported operand type"),

    ('tt_ones_3_tt_ones_4', lambda: tt.ones(3) + tt.ones(4), RuntimeError,
     r'The size of tensor a \(3\) must match the size of tensor b \(4\) at non\-singleton dimension 0'),
    ('tt_ones_2_3_tt_ones_3_2', lambda: tt.ones(2, 3) - tt.ones(3, 2), RuntimeError,
     r'The size of tensor a \(3\) must match the size of tensor b \(2\) at non\-singleton dimension 1'),
    ('tt_ones_3_mul_tt_ones_2_3', lambda: tt.ones(3).mul_(tt.ones(2, 3)), RuntimeError,
     r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"),
    ('tt_ones_3_tt_ones_2', lambda: tt.ones(3) / tt.ones(2), RuntimeError,
     r'The size of tensor a \(3\) must match the size of tensor b \(2\) at non\-singleton dimension 0'),
    ('tt_ones_3_tt_ones_4_2', lambda: tt.ones(3) ** tt.ones(4), RuntimeError,
     r'The size of tensor a \(3\) must match the size of tensor b \(4\) at non\-singleton dimension 0'),
    ('tt_maximum_tt_ones_3_tt_ones_4', lambda: tt.maximum(tt.ones(3), tt.ones(4)), RuntimeError,
     r'The size of tensor a \(3\) must match the size of tensor b \(4\) at non\-singleton dimension 0'),
    ('tt_ones_3_clamp', lambda: tt.ones(3).clamp(), RuntimeError,
     r"torch\.clamp: At least one of 'min' or 'max' must not be None"),
    ('tt_ones_3_tt_ones_4_3', lambda: tt.ones(3) < tt.ones(4), RuntimeError,
     r'The size of tensor a \(3\) must match the size of tensor b \(4\) at non\-singleton dimension 0'),
    ('tt_where_tt_ones_3_tt_ones_3_tt_ones_3', lambda: tt.where(tt.ones(3), tt.ones(3), tt.ones(3)), RuntimeError,
     r'where expected condition to be a boolean tensor, but got a tensor with dtype tinytensor\.float32'),
    ('tt_ones_3_dtype_tt_bool_neg', lambda: tt.ones(3, dtype=tt.bool).neg(), RuntimeError,
     r'Negation, the `\-` operator, on a bool tensor is not supported\. If you are trying to invert a mask, use the `\~`'),
    ('tt_tensor_1_2_div_2', lambda: tt.tensor([1, 2]).div_(2), RuntimeError,
     r"result type Float can't be cast to the desired output type Long"),
]

REDUCE_ERRORS = [
    ("sum_float_dim", lambda: tt.ones(2, 3).sum(dim=1.5), TypeError, r".*dim"),

    ('tt_ones_2_3_sum_3', lambda: tt.ones(2, 3).sum(-3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got \-3\)'),
    ('tt_ones_2_3_mean_3', lambda: tt.ones(2, 3).mean(3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 3\)'),
    ('tt_ones_2_3_max_2', lambda: tt.ones(2, 3).max(2), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 2\)'),
    ('tt_ones_2_3_argmax_3', lambda: tt.ones(2, 3).argmax(-3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got \-3\)'),
    ('tt_ones_0_max', lambda: tt.ones(0).max(), RuntimeError,
     r"max\(\): Expected reduction dim to be specified for input\.numel\(\) == 0\. Specify the reduction dim with the 'dim'"),
    ('tt_ones_2_3_amax_0_0', lambda: tt.ones(2, 3).amax((0, 0)), RuntimeError,
     r'dim 0 appears multiple times in the list of dims'),
    ('tt_ones_2_3_var_5', lambda: tt.ones(2, 3).var(5), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 5\)'),
]

MATMUL_ERRORS = [
    ("matmul_not_tensor", lambda: tt.matmul(tt.ones(2, 3), 5), TypeError,
     r"matmul\(\): argument 'other' \(position \d\) must be Tensor, not int"),

    ('tt_ones_2_3_tt_ones_2_3', lambda: tt.ones(2, 3) @ tt.ones(2, 3), RuntimeError,
     r'mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)'),
    ('tt_ones_3_tt_ones_2_4', lambda: tt.ones(3) @ tt.ones(2, 4), RuntimeError,
     r'mat1 and mat2 shapes cannot be multiplied \(1x3 and 2x4\)'),
    ('tt_ones_2_3_4_tt_ones_5', lambda: tt.ones(2, 3, 4) @ tt.ones(5), RuntimeError,
     r'size mismatch, got input \(6\), mat \(6x4\), vec \(5\)'),
    ('tt_ones_2_3_tt_ones_3_2_dtype_tt_int64', lambda: tt.ones(2, 3) @ tt.ones(3, 2, dtype=tt.int64), RuntimeError,
     r'expected m1 and m2 to have the same dtype, but got: float != long int'),
    ('tt_ones_0_3_tt_ones_4_2', lambda: tt.ones(0, 3) @ tt.ones(4, 2), RuntimeError,
     r'mat1 and mat2 shapes cannot be multiplied \(0x3 and 4x2\)'),
    ('tt_ones_2_3_t_tt_ones_3_3', lambda: tt.ones(2, 3).t() @ tt.ones(3, 3), RuntimeError,
     r'mat1 and mat2 shapes cannot be multiplied \(3x2 and 3x3\)'),
]

CONV_ERRORS = [
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_stride_1', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), stride=-1), RuntimeError,
     r'non\-positive stride is not supported'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_padding_2', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), padding=-2), RuntimeError,
     r'negative padding is not supported'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_dilation_0', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), dilation=0), RuntimeError,
     r'dilation should be greater than zero, but got \[0, 0\]'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_groups_0', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), groups=0), RuntimeError,
     r'non\-positive groups is not supported'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_groups_1', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), groups=-1), RuntimeError,
     r'non\-positive groups is not supported'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_padding_full', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), padding='full'), RuntimeError,
     r"Invalid padding string: 'full'"),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_padding_same_stri', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), padding='same', stride=2), RuntimeError,
     r"padding='same' is not supported for strided convolutions"),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_bias_r_3', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), bias=R(3)), RuntimeError,
     r'Given weight of size \[4, 3, 3, 3\], expected bias to be 1\-dimensional with 4 elements, but got bias of size \[3\]'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_stride_1_1_1', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), stride=(1, 1, 1)), RuntimeError,
     r'expected stride to be a single integer value or a list of 2 values to match the convolution dimensions, but go'),
    ('f_conv2d_r_1_3_10_10_r_4_3_3_3_padding_1_5', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3, 3), padding=1.5), TypeError,
     r'conv2d\(\) received an invalid combination of arguments \- got \(Tensor, Tensor, padding=float\), but expected one '),
    ('f_conv2d_r_1_3_10_10_r_4_3_3', lambda: F.conv2d(R(1, 3, 10, 10), R(4, 3, 3)), RuntimeError,
     r'expected stride to be a single integer value or a list of 1 values to match the convolution dimensions, but go'),
    ('f_conv2d_r_10_10_r_4_3_3_3', lambda: F.conv2d(R(10, 10), R(4, 3, 3, 3)), RuntimeError,
     r'Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[10, 10\]'),
    ('f_conv2d_r_1_3_2_2_r_4_3_3_3', lambda: F.conv2d(R(1, 3, 2, 2), R(4, 3, 3, 3)), RuntimeError,
     r"Calculated padded input size per channel: \(2 x 2\)\. Kernel size: \(3 x 3\)\. Kernel size can't be greater than act"),
    ('f_conv2d_r_1_3_10_10_double_r_4_3_3_3', lambda: F.conv2d(R(1, 3, 10, 10).double(), R(4, 3, 3, 3)), RuntimeError,
     r'expected scalar type Double but found Float'),
    ('f_conv2d_r_1_3_10_10_r_0_3_3_3', lambda: F.conv2d(R(1, 3, 10, 10), R(0, 3, 3, 3)), RuntimeError,
     r'Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of size \[0, 3, 3, 3\] instead'),
    ('f_conv2d_r_1_3_10_10_5', lambda: F.conv2d(R(1, 3, 10, 10), 5), TypeError,
     r'conv2d\(\) received an invalid combination of arguments \- got \(Tensor, int\), but expected one of:'),
    ('f_conv1d_r_1_3_10_r_4_3_3_stride_0', lambda: F.conv1d(R(1, 3, 10), R(4, 3, 3), stride=0), RuntimeError,
     r'non\-positive stride is not supported'),
    ('f_conv1d_r_1_2_10_r_4_3_3', lambda: F.conv1d(R(1, 2, 10), R(4, 3, 3)), RuntimeError,
     r'Given groups=1, weight of size \[4, 3, 3\], expected input\[1, 2, 10\] to have 3 channels, but got 2 channels inst'),
    ('f_conv1d_r_1_3_2_r_4_3_3', lambda: F.conv1d(R(1, 3, 2), R(4, 3, 3)), RuntimeError,
     r"Calculated padded input size per channel: \(2\)\. Kernel size: \(3\)\. Kernel size can't be greater than actual inpu"),
    ('f_conv1d_r_1_3_10_r_4_3_3_padding_1_1', lambda: F.conv1d(R(1, 3, 10), R(4, 3, 3), padding=(1, 1)), RuntimeError,
     r'expected padding to be a single integer value or a list of 1 values to match the convolution dimensions, but g'),
    ('f_conv1d_r_1_1_3_10_r_4_3_3', lambda: F.conv1d(R(1, 1, 3, 10), R(4, 3, 3)), RuntimeError,
     r'Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d, but got input of size: \[1, 1, 3, 10\]'),
    ('f_conv3d_r_1_3_4_4_r_4_3_3_3_3', lambda: F.conv3d(R(1, 3, 4, 4), R(4, 3, 3, 3, 3)), RuntimeError,
     r'Given groups=1, weight of size \[4, 3, 3, 3, 3\], expected input\[1, 1, 3, 4, 4\] to have 3 channels, but got 1 ch'),
    ('f_conv3d_r_1_3_4_4_4_r_4_3_3_3_3_padding_1', lambda: F.conv3d(R(1, 3, 4, 4, 4), R(4, 3, 3, 3, 3), padding=-1), RuntimeError,
     r'negative padding is not supported'),
    ('f_conv3d_r_1_2_4_4_4_r_4_3_3_3_3', lambda: F.conv3d(R(1, 2, 4, 4, 4), R(4, 3, 3, 3, 3)), RuntimeError,
     r'Given groups=1, weight of size \[4, 3, 3, 3, 3\], expected input\[1, 2, 4, 4, 4\] to have 3 channels, but got 2 ch'),
    ('f_conv3d_r_1_3_2_5_5_r_4_3_3_3_3', lambda: F.conv3d(R(1, 3, 2, 5, 5), R(4, 3, 3, 3, 3)), RuntimeError,
     r"Calculated padded input size per channel: \(2 x 5 x 5\)\. Kernel size: \(3 x 3 x 3\)\. Kernel size can't be greater "),
]

FOLD_ERRORS = [
    ('f_unfold_r_1_3_10_10_0', lambda: F.unfold(R(1, 3, 10, 10), 0), RuntimeError,
     r'kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 0'),
    ('f_unfold_r_1_3_10_10_3_stride_0', lambda: F.unfold(R(1, 3, 10, 10), 3, stride=0), RuntimeError,
     r'stride should be greater than zero, but got stride_height: 0 stride_width: 0'),
    ('f_unfold_r_1_3_10_10_3_padding_1', lambda: F.unfold(R(1, 3, 10, 10), 3, padding=-1), RuntimeError,
     r'padding should be non\-negative, but got pad_height: \-1 pad_width: \-1'),
    ('f_unfold_r_1_3_10_10_3_dilation_0', lambda: F.unfold(R(1, 3, 10, 10), 3, dilation=0), RuntimeError,
     r'dilation should be greater than zero, but got dilation_height: 0 dilation_width: 0'),
    ('f_unfold_r_1_3_2_2_3', lambda: F.unfold(R(1, 3, 2, 2), 3), RuntimeError,
     r'Given input with spatial size \(2, 2\), kernel_size=\(3, 3\), dilation=\(1, 1\), padding=\(0, 0\), calculated shape of'),
    ('f_unfold_r_10_10_3', lambda: F.unfold(R(10, 10), 3), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 2\)'),
    ('f_unfold_r_1_3_10_10_3_3_3', lambda: F.unfold(R(1, 3, 10, 10), (3, 3, 3)), RuntimeError,
     r'It is expected kernel_size equals to 2, but got size 3'),
    ('f_fold_r_1_27_64_10_10_3_stride_0', lambda: F.fold(R(1, 27, 64), (10, 10), 3, stride=0), RuntimeError,
     r'stride should be greater than zero, but got stride_height: 0 stride_width: 0'),
    ('f_fold_r_1_27_63_10_10_3', lambda: F.fold(R(1, 27, 63), (10, 10), 3), RuntimeError,
     r'Given output_size=\(10, 10\), kernel_size=\(3, 3\), dilation=\(1, 1\), padding=\(0, 0\), stride=\(1, 1\), expected size '),
    ('f_fold_r_1_26_64_10_10_3', lambda: F.fold(R(1, 26, 64), (10, 10), 3), RuntimeError,
     r"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input\.size\(1\)=26 a"),
]

PAD_ERRORS = [
    ('f_pad_r_1_1_4_1', lambda: F.pad(R(1, 1, 4), (1,)), RuntimeError,
     r'Padding length must be divisible by 2'),
    ('f_pad_r_1_1_4_1_1_1_1_1_1_1_1', lambda: F.pad(R(1, 1, 4), (1, 1, 1, 1, 1, 1, 1, 1)), RuntimeError,
     r'Padding length should be less than or equal to two times the input dimension but got padding length 8 and inpu'),
    ('f_pad_r_1_1_4_4_0_mode_reflect', lambda: F.pad(R(1, 1, 4), (4, 0), mode='reflect'), RuntimeError,
     r'Argument \#4: Padding size should be less than the corresponding input dimension, but got: padding \(4, 0\) at di'),
    ('f_pad_r_1_1_4_5_0_mode_circular', lambda: F.pad(R(1, 1, 4), (5, 0), mode='circular'), RuntimeError,
     r'Padding value causes wrapping around more than once\.'),
    ('f_pad_r_1_1_4_1_1_mode_wrap', lambda: F.pad(R(1, 1, 4), (1, 1), mode='wrap'), NotImplementedError,
     r'Unrecognised padding mode wrap'),
    ('f_pad_r_4_1_1_mode_reflect', lambda: F.pad(R(4), (1, 1), mode='reflect'), NotImplementedError,
     r'Padding size 2 is not supported for 1D input tensor\.'),
    ('f_pad_r_1_1_4_1_1_mode_reflect_value_1_0', lambda: F.pad(R(1, 1, 4), (1, 1), mode='reflect', value=1.0), RuntimeError,
     r"Padding mode \"reflect\" doesn't take in value argument"),
    ('f_pad_r_1_1_4_3_2', lambda: F.pad(R(1, 1, 4), (-3, -2)), RuntimeError,
     r'narrow\(\): length must be non\-negative\.'),
    ('f_pad_r_1_1_3_3_1_1_mode_replicate', lambda: F.pad(R(1, 1, 3, 3), (1, 1), mode='replicate'), NotImplementedError,
     r'Padding size 2 is not supported for 4D input tensor\.'),
    ('f_pad_r_1_1_0_1_1_mode_replicate', lambda: F.pad(R(1, 1, 0), (1, 1), mode='replicate'), RuntimeError,
     r'Expected 2D or 3D \(batch mode\) tensor with possibly 0 batch size and other non\-zero dimensions for input, but '),
    ('f_pad_r_1_1_4_1_5_1', lambda: F.pad(R(1, 1, 4), (1.5, 1)), TypeError,
     r"pad\(\): argument 'pad' \(position 2\) must be tuple of ints, but found element of type float at pos 0"),
    ('f_pad_r_1_1_4_2_62_0', lambda: F.pad(R(1, 1, 4), (-2 ** 62, 0)), RuntimeError,
     r'narrow\(\): length must be non\-negative\.'),
]

POOL_ERRORS = [
    ("adaptive_avg_pool1d_negative", lambda: F.adaptive_avg_pool1d(R(1, 1, 5), -2), RuntimeError,
     r"adaptive_avg_pool[12]d: elements of output_size must be greater than or equal to 0 but "
     r"received \{(1, )?-2\}"),

    ('f_max_pool2d_r_1_1_5_5_2_padding_2', lambda: F.max_pool2d(R(1, 1, 5, 5), 2, padding=2), RuntimeError,
     r'pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1'),
    ('f_max_pool2d_r_1_1_5_5_2_padding_2_dilation_3', lambda: F.max_pool2d(R(1, 1, 5, 5), 2, padding=2, dilation=3), RuntimeError,
     r'pad should be smaller than or equal to half of kernel size, but got padW = 2, padH = 2, kW = 2, kH = 2'),
    ('f_max_pool2d_r_1_1_5_5_0', lambda: F.max_pool2d(R(1, 1, 5, 5), 0), RuntimeError,
     r'stride should not be zero'),
    ('f_max_pool2d_r_1_1_5_5_0_stride_1', lambda: F.max_pool2d(R(1, 1, 5, 5), 0, stride=1), RuntimeError,
     r'kernel size should be greater than zero, but got kH: 0 kW: 0'),
    ('f_max_pool2d_r_1_1_5_5_2_dilation_0', lambda: F.max_pool2d(R(1, 1, 5, 5), 2, dilation=0), RuntimeError,
     r'dilation should be greater than zero, but got dilationH: 0 dilationW: 0'),
    ('f_max_pool2d_r_1_1_2_2_3', lambda: F.max_pool2d(R(1, 1, 2, 2), 3), RuntimeError,
     r'Given input size: \(1x2x2\)\. Calculated output size: \(1x0x0\)\. Output size is too small'),
    ('f_max_pool2d_r_5_5_2', lambda: F.max_pool2d(R(5, 5), 2), RuntimeError,
     r'non\-empty 3D or 4D \(batch mode\) tensor expected for input'),
    ('f_max_pool2d_r_1_1_5_5_2_padding_1', lambda: F.max_pool2d(R(1, 1, 5, 5), 2, padding=-1), RuntimeError,
     r'pad must be non\-negative, but got pad: \-1'),
    ('f_max_pool2d_r_1_1_5_5_2_2_2', lambda: F.max_pool2d(R(1, 1, 5, 5), (2, 2, 2)), RuntimeError,
     r'max_pool2d: kernel_size must either be a single int, or a tuple of two ints'),
    ('f_max_pool2d_r_1_0_5_5_2', lambda: F.max_pool2d(R(1, 0, 5, 5), 2), RuntimeError,
     r'Expected 3D or 4D \(batch mode\) tensor with optional 0 dim batch size for input, but got:\[1, 0, 5, 5\]'),
    ('f_max_pool2d_r_1_1_5_5_2_stride_1', lambda: F.max_pool2d(R(1, 1, 5, 5), 2, stride=-1), RuntimeError,
     r'stride should be greater than zero, but got dH: \-1 dW: \-1'),
    ('f_max_pool1d_r_1_1_5_2_padding_2', lambda: F.max_pool1d(R(1, 1, 5), 2, padding=2), RuntimeError,
     r'max_pool1d\(\) padding should be at most half of kernel size, but got padding=2 and kernel_size=2'),
    ('f_max_pool1d_r_1_1_5_0', lambda: F.max_pool1d(R(1, 1, 5), 0), RuntimeError,
     r'max_pool1d\(\) kernel_size must be greater than zero, but got 0'),
    ('f_max_pool1d_r_1_1_3_5_2', lambda: F.max_pool1d(R(1, 1, 3, 5), 2), RuntimeError,
     r'max_pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim batch size for input, but got:\[1, 1, 3, '),
    ('f_max_pool1d_r_1_1_5_2_stride_0', lambda: F.max_pool1d(R(1, 1, 5), 2, stride=0), RuntimeError,
     r'max_pool1d\(\) stride must be greater than zero, but got 0'),
    ('f_max_pool1d_r_1_1_5_2_dilation_0', lambda: F.max_pool1d(R(1, 1, 5), 2, dilation=0), RuntimeError,
     r'max_pool1d\(\) dilation must be greater than zero, but got 0'),
    ('f_max_pool1d_r_1_1_1_3', lambda: F.max_pool1d(R(1, 1, 1), 3), RuntimeError,
     r'max_pool1d\(\) Invalid computed output size: 0'),
    ('f_max_pool3d_r_1_5_5_2', lambda: F.max_pool3d(R(1, 5, 5), 2), RuntimeError,
     r'non\-empty 4D or 5D \(batch mode\) tensor expected for input'),
    ('f_max_pool3d_r_1_1_2_2_2_3', lambda: F.max_pool3d(R(1, 1, 2, 2, 2), 3), RuntimeError,
     r'Given input size: \(1x2x2x2\)\. Calculated output size: \(1x0x0x0\)\. Output size is too small'),
    ('f_avg_pool2d_r_1_1_4_4_2_divisor_override_0', lambda: F.avg_pool2d(R(1, 1, 4, 4), 2, divisor_override=0), RuntimeError,
     r'divisor must be not zero'),
    ('f_avg_pool2d_r_5_5_2', lambda: F.avg_pool2d(R(5, 5), 2), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got \-3\)'),
    ('f_avg_pool2d_r_1_1_4_4_2_padding_2', lambda: F.avg_pool2d(R(1, 1, 4, 4), 2, padding=2), RuntimeError,
     r'pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1'),
    ('f_avg_pool2d_r_1_1_4_4_0', lambda: F.avg_pool2d(R(1, 1, 4, 4), 0), RuntimeError,
     r'stride should not be zero'),
    ('f_avg_pool2d_r_1_1_1_1_3', lambda: F.avg_pool2d(R(1, 1, 1, 1), 3), RuntimeError,
     r'Given input size: \(1x1x1\)\. Calculated output size: \(1x0x0\)\. Output size is too small'),
    ('f_avg_pool1d_r_1_1_3_5_2', lambda: F.avg_pool1d(R(1, 1, 3, 5), 2), RuntimeError,
     r"Expected 2 to 3 dimensions, but got 4\-dimensional tensor for argument \#1 'self' \(while checking arguments for "),
    ('f_avg_pool1d_r_1_1_5_2_divisor_override_1', lambda: F.avg_pool1d(R(1, 1, 5), 2, divisor_override=1), TypeError,
     r"avg_pool1d\(\) got an unexpected keyword argument 'divisor_override'"),
    ('f_avg_pool1d_r_1_1_5_2_padding_2', lambda: F.avg_pool1d(R(1, 1, 5), 2, padding=2), RuntimeError,
     r'pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1'),
    ('f_avg_pool3d_r_1_1_2_2_2_2_padding_3', lambda: F.avg_pool3d(R(1, 1, 2, 2, 2), 2, padding=3), RuntimeError,
     r'pad should be at most half of effective kernel size, but got pad=3, kernel_size=2 and dilation=1'),
    ('f_adaptive_avg_pool2d_r_1_1_5_7_1', lambda: F.adaptive_avg_pool2d(R(1, 1, 5, 7), -1), RuntimeError,
     r'adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received \{\-1, \-1\}'),
    ('f_adaptive_avg_pool2d_r_1_1_5_7_1_2_3', lambda: F.adaptive_avg_pool2d(R(1, 1, 5, 7), (1, 2, 3)), RuntimeError,
     r'adaptive_avg_pool2d: output_size must be 2'),
    ('f_adaptive_avg_pool2d_r_5_7_2', lambda: F.adaptive_avg_pool2d(R(5, 7), 2), RuntimeError,
     r'adaptive_avg_pool2d\(\): Expected 3D or 4D tensor, but got \[5, 7\]'),
    ('f_adaptive_max_pool2d_r_5_7_2', lambda: F.adaptive_max_pool2d(R(5, 7), 2), RuntimeError,
     r'adaptive_max_pool2d\(\): Expected 3D or 4D tensor, but got: \[5, 7\]'),
    ('f_adaptive_avg_pool2d_r_1_1_0_7_2', lambda: F.adaptive_avg_pool2d(R(1, 1, 0, 7), 2), RuntimeError,
     r'adaptive_avg_pool2d\(\): Expected input to have non\-zero size for non\-batch dimensions, but input has sizes \[1, '),
    ('f_max_unpool2d_r_1_1_2_2_tt_tensor_0_1_2_99_2', lambda: F.max_unpool2d(R(1, 1, 2, 2), tt.tensor([[[[0, 1], [2, 99]]]]), 2), RuntimeError,
     r'Found an invalid max index: 99 \(output volumes are of size 4x4\)'),
    ('f_max_unpool2d_r_1_1_2_2_tt_tensor_0_1_2_1_2', lambda: F.max_unpool2d(R(1, 1, 2, 2), tt.tensor([[[[0, 1], [2, -1]]]]), 2), RuntimeError,
     r'Found an invalid max index: \-1 \(output volumes are of size 4x4\)'),
    ('f_max_unpool2d_r_1_1_2_2_tt_tensor_0_1_2_3_2_out', lambda: F.max_unpool2d(R(1, 1, 2, 2), tt.tensor([[[[0, 1], [2, 3]]]]), 2, output_size=(1, 2, 3)), ValueError,
     r"output_size should be a sequence containing 2 or 4 elements, but it has a length of '3'"),
    ('f_max_unpool2d_r_1_1_2_2_tt_tensor_0_1_2_3_2_out_2', lambda: F.max_unpool2d(R(1, 1, 2, 2), tt.tensor([[[[0, 1], [2, 3]]]]), 2, output_size=(9, 9)), ValueError,
     r'invalid output_size "\(9, 9\)" \(dim 0 must be between 2 and 6\)'),
    ('f_max_unpool2d_r_1_1_2_2_tt_tensor_0_1_2', lambda: F.max_unpool2d(R(1, 1, 2, 2), tt.tensor([[[0, 1]]]), 2), RuntimeError,
     r'Expected shape of indices to be same as that of the input tensor \(\[1, 1, 2, 2\]\) but got indices tensor with sh'),
]

MODULES_ERRORS = [
    ("conv2d_padding_mode", lambda: nn.Conv2d(3, 4, 3, padding_mode="bad"), ValueError,
     r"padding_mode must be one of \{('(zeros|reflect|replicate|circular)'(, )?){4}\}, but got "
     r"padding_mode='bad'"),

    ('nn_conv2d_3_4_3_groups_2', lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
     r'in_channels must be divisible by groups'),
    ('nn_conv2d_4_3_3_groups_2', lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError,
     r'out_channels must be divisible by groups'),
    ('nn_conv2d_4_4_3_groups_0', lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError,
     r'groups must be a positive integer'),
    ('nn_conv2d_3_4_3_padding_same_stride_2', lambda: nn.Conv2d(3, 4, 3, padding='same', stride=2), ValueError,
     r"padding='same' is not supported for strided convolutions"),
    ('nn_conv2d_3_4_3_padding_full', lambda: nn.Conv2d(3, 4, 3, padding='full'), ValueError,
     r"Invalid padding string 'full', should be one of \{('(same|valid)'(, )?){2}\}"),
    ('nn_conv2d_3_4_3_r_1_5_10_10', lambda: nn.Conv2d(3, 4, 3)(R(1, 5, 10, 10)), RuntimeError,
     r'Given groups=1, weight of size \[4, 3, 3, 3\], expected input\[1, 5, 10, 10\] to have 3 channels, but got 5 channe'),
    ('nn_conv2d_3_4_3_padding_1_r_1_3_10_10', lambda: nn.Conv2d(3, 4, 3, padding=-1)(R(1, 3, 10, 10)), RuntimeError,
     r'negative padding is not supported'),
    ('nn_conv2d_1_1_3_padding_3_padding_mode_reflect_r', lambda: nn.Conv2d(1, 1, 3, padding=3, padding_mode='reflect')(R(1, 1, 3, 3)), RuntimeError,
     r'Argument \#4: Padding size should be less than the corresponding input dimension, but got: padding \(3, 3\) at di'),
    ('nn_conv2d_1_1_3_padding_5_padding_mode_circular_', lambda: nn.Conv2d(1, 1, 3, padding=5, padding_mode='circular')(R(1, 1, 3, 3)), RuntimeError,
     r'Padding value causes wrapping around more than once\.'),
    ('nn_conv1d_3_4_3_r_1_3_10_10', lambda: nn.Conv1d(3, 4, 3)(R(1, 3, 10, 10)), RuntimeError,
     r'Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d, but got input of size: \[1, 3, 10, 10\]'),
    ('nn_conv3d_3_4_3_r_1_3_2_2_2', lambda: nn.Conv3d(3, 4, 3)(R(1, 3, 2, 2, 2)), RuntimeError,
     r"Calculated padded input size per channel: \(2 x 2 x 2\)\. Kernel size: \(3 x 3 x 3\)\. Kernel size can't be greater "),
    ('nn_conv2d_1_4_3', lambda: nn.Conv2d(-1, 4, 3), RuntimeError,
     r'Trying to create tensor with negative dimension \-1: \[4, \-1, 3, 3\]'),
    ('nn_conv2d_3_4_3_r_1_3_10_10_double', lambda: nn.Conv2d(3, 4, 3)(R(1, 3, 10, 10).double()), RuntimeError,
     r'Input type \(double\) and bias type \(float\) should be the same'),
    ('nn_linear_3_4_r_2_5', lambda: nn.Linear(3, 4)(R(2, 5)), RuntimeError,
     r'mat1 and mat2 shapes cannot be multiplied \(2x5 and 3x4\)'),
    ('nn_linear_1_4', lambda: nn.Linear(-1, 4), RuntimeError,
     r'Trying to create tensor with negative dimension \-1: \[4, \-1\]'),
    ('nn_linear_3_4_r_2_3_double', lambda: nn.Linear(3, 4)(R(2, 3).double()), RuntimeError,
     r'mat1 and mat2 must have the same dtype, but got Double and Float'),
    ('nn_maxpool2d_2_padding_2_r_1_1_5_5', lambda: nn.MaxPool2d(2, padding=2)(R(1, 1, 5, 5)), RuntimeError,
     r'pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1'),
    ('nn_avgpool2d_2_padding_2_r_1_1_5_5', lambda: nn.AvgPool2d(2, padding=2)(R(1, 1, 5, 5)), RuntimeError,
     r'pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1'),
    ('nn_maxpool1d_0_r_1_1_5', lambda: nn.MaxPool1d(0)(R(1, 1, 5)), RuntimeError,
     r'max_pool1d\(\) kernel_size must be greater than zero, but got 0'),
    ('nn_adaptiveavgpool2d_1_r_1_1_4_4', lambda: nn.AdaptiveAvgPool2d(-1)(R(1, 1, 4, 4)), RuntimeError,
     r'adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received \{\-1, \-1\}'),
    ('nn_maxunpool2d_2_r_1_1_2_2_tt_tensor_0_1_2_99', lambda: nn.MaxUnpool2d(2)(R(1, 1, 2, 2), tt.tensor([[[[0, 1], [2, 99]]]])), RuntimeError,
     r'Found an invalid max index: 99 \(output volumes are of size 4x4\)'),
    ('nn_batchnorm2d_3_r_2_4_5_5', lambda: nn.BatchNorm2d(3)(R(2, 4, 5, 5)), RuntimeError,
     r'running_mean should contain 4 elements not 3'),
    ('nn_batchnorm2d_3_r_2_3', lambda: nn.BatchNorm2d(3)(R(2, 3)), ValueError,
     r'expected 4D input \(got 2D input\)'),
    ('nn_batchnorm1d_3_r_2_4', lambda: nn.BatchNorm1d(3)(R(2, 4)), RuntimeError,
     r'running_mean should contain 4 elements not 3'),
    ('nn_batchnorm2d_3_r_1_3_1_1', lambda: nn.BatchNorm2d(3)(R(1, 3, 1, 1)), ValueError,
     r'Expected more than 1 value per channel when training, got input size torch\.Size\(\[1, 3, 1, 1\]\)'),
    ('nn_dropout_1_5', lambda: nn.Dropout(1.5), ValueError,
     r'dropout probability has to be between 0 and 1, but got 1\.5'),
    ('nn_dropout_0_1', lambda: nn.Dropout(-0.1), ValueError,
     r'dropout probability has to be between 0 and 1, but got \-0\.1'),
    ('nn_flatten_2_1_r_2_3_4', lambda: nn.Flatten(2, 1)(R(2, 3, 4)), RuntimeError,
     r'flatten\(\) has invalid args: start_dim cannot come after end_dim'),
    ('nn_softmax_3_r_2_3', lambda: nn.Softmax(3)(R(2, 3)), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 3\)'),
    ('nn_leakyrelu_5', lambda: nn.LeakyReLU()(5), TypeError,
     r"leaky_relu\(\): argument 'input' \(position 1\) must be Tensor, not int"),
    ('nn_sequential_nn_relu_3', lambda: nn.Sequential(nn.ReLU())[3], IndexError,
     r'index 3 is out of range'),
    ('nn_modulelist_nn_relu_5', lambda: nn.ModuleList([nn.ReLU()])[5], IndexError,
     r'index 5 is out of range'),
    ('nn_sequential_5', lambda: nn.Sequential(5), TypeError,
     r'int is not a Module subclass'),
    ('nn_linear_3_4_register_parameter_a_b_none', lambda: nn.Linear(3, 4).register_parameter('a.b', None), KeyError,
     r".parameter name can.+t contain \"\.\""),
    ('nn_linear_3_4_register_buffer_none', lambda: nn.Linear(3, 4).register_buffer('', None), KeyError,
     r".buffer name can.+t be empty string \"\""),
    ('nn_linear_3_4_add_module_x_5', lambda: nn.Linear(3, 4).add_module('x', 5), TypeError,
     r'int is not a Module subclass'),
    ('f_linear_r_2_3_r_4_5', lambda: F.linear(R(2, 3), R(4, 5)), RuntimeError,
     r'mat1 and mat2 shapes cannot be multiplied \(2x3 and 5x4\)'),
    ('f_softmax_r_2_3_dim_2', lambda: F.softmax(R(2, 3), dim=2), IndexError,
     r'Dimension out of range \(expected to be in range of \[\-2, 1\], but got 2\)'),
    ('f_dropout_r_3_p_2_0', lambda: F.dropout(R(3), p=2.0), ValueError,
     r'dropout probability has to be between 0 and 1, but got 2\.0'),
    ('f_relu_5', lambda: F.relu(5), TypeError,
     r"relu\(\): argument 'input' \(position 1\) must be Tensor, not int"),
    ('f_batch_norm_r_2_3_r_4_r_4', lambda: F.batch_norm(R(2, 3), R(4), R(4)), RuntimeError,
     r'running_mean should contain 3 elements not 4'),
]

LOSS_ERRORS = [
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2_3', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2, 3])), IndexError,
     r'Target 3 is out of bounds\.'),
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2_1', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2, -1])), IndexError,
     r'Target \-1 is out of bounds\.'),
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2_2_40', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2, 2 ** 40])), IndexError,
     r'Target 1099511627776 is out of bounds\.'),
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2])), ValueError,
     r'Expected input batch_size \(4\) to match target batch_size \(3\)\.'),
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2_1_reductio', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2, 1]), reduction='avg'), ValueError,
     r'avg is not a valid value for reduction'),
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2_1_label_sm', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2, 1]), label_smoothing=1.5), RuntimeError,
     r'label_smoothing must be between 0\.0 and 1\.0\. Got: 1\.5'),
    ('f_cross_entropy_r_4_3_tt_tensor_0_1_2_1_weight_r', lambda: F.cross_entropy(R(4, 3), tt.tensor([0, 1, 2, 1]), weight=R(2)), RuntimeError,
     r'weight tensor should be defined either for all 3 classes or no classes but got weight tensor of shape: \[2\]'),
    ('f_cross_entropy_r_4_3_tt_ones_4', lambda: F.cross_entropy(R(4, 3), tt.ones(4)), RuntimeError,
     r'expected target dtype to be Long or Byte, but got Float'),
    ('f_cross_entropy_r_2_3_4_tt_tensor_0_1_2_0_1_2', lambda: F.cross_entropy(R(2, 3, 4), tt.tensor([[0, 1, 2], [0, 1, 2]])), RuntimeError,
     r'Expected target size \[2, 4\], got \[2, 3\]'),
    ('f_cross_entropy_r_4_3_r_4_3_ignore_index_1', lambda: F.cross_entropy(R(4, 3), R(4, 3), ignore_index=1), RuntimeError,
     r'ignore_index is not supported for floating point target'),
    ('f_nll_loss_r_4_3_tt_tensor_0_1_2_3', lambda: F.nll_loss(R(4, 3), tt.tensor([0, 1, 2, 3])), IndexError,
     r'Target 3 is out of bounds\.'),
    ('f_nll_loss_r_4_3_tt_tensor_0_1_2', lambda: F.nll_loss(R(4, 3), tt.tensor([0, 1, 2])), ValueError,
     r'Expected input batch_size \(4\) to match target batch_size \(3\)\.'),
    ('f_nll_loss_r_4_3_tt_tensor_0_1_2_5', lambda: F.nll_loss(R(4, 3), tt.tensor([0, 1, 2, -5])), IndexError,
     r'Target \-5 is out of bounds\.'),
    ('f_mse_loss_r_3_r_4', lambda: F.mse_loss(R(3), R(4)), RuntimeError,  # warns first, as torch
     r'The size of tensor a \(3\) must match the size of tensor b \(4\) at non\-singleton dimension 0'),
    ('f_mse_loss_r_3_r_3_reduction_bad', lambda: F.mse_loss(R(3), R(3), reduction='bad'), ValueError,
     r'bad is not a valid value for reduction'),
    ('nn_crossentropyloss_r_4_3_tt_tensor_0_9_1_1', lambda: nn.CrossEntropyLoss()(R(4, 3), tt.tensor([0, 9, 1, 1])), IndexError,
     r'Target 9 is out of bounds\.'),
    ('nn_nllloss_r_4_3_tt_tensor_0_1_1_3', lambda: nn.NLLLoss()(R(4, 3), tt.tensor([0, 1, 1, 3])), IndexError,
     r'Target 3 is out of bounds\.'),
]

OPTIM_ERRORS = [
    ('optim_sgd_p_lr_1', lambda: optim.SGD([P()], lr=-1), ValueError,
     r'Invalid learning rate: \-1'),
    ('optim_sgd_p_lr_0_1_momentum_0_1', lambda: optim.SGD([P()], lr=0.1, momentum=-0.1), ValueError,
     r'Invalid momentum value: \-0\.1'),
    ('optim_sgd_p_lr_0_1_weight_decay_1', lambda: optim.SGD([P()], lr=0.1, weight_decay=-1), ValueError,
     r'Invalid weight_decay value: \-1'),
    ('optim_sgd_p_lr_0_1_nesterov_true', lambda: optim.SGD([P()], lr=0.1, nesterov=True), ValueError,
     r'Nesterov momentum requires a momentum and zero dampening'),
    ('optim_sgd_lr_0_1', lambda: optim.SGD([], lr=0.1), ValueError,
     r'optimizer got an empty parameter list'),
    ('optim_sgd_p_lr_0_1', lambda: optim.SGD(P(), lr=0.1), TypeError,
     r'params argument given to the optimizer should be an iterable of Tensors or dicts, but got tinytensor\.FloatTens'),
    ('optim_adam_p_lr_1', lambda: optim.Adam([P()], lr=-1), ValueError,
     r'Invalid learning rate: \-1'),
    ('optim_adam_p_eps_1', lambda: optim.Adam([P()], eps=-1), ValueError,
     r'Invalid epsilon value: \-1'),
    ('optim_adam_p_betas_1_0_0_9', lambda: optim.Adam([P()], betas=(1.0, 0.9)), ValueError,
     r'Invalid beta parameter at index 0: 1\.0'),
    ('optim_adam_p_betas_0_9_0_1', lambda: optim.Adam([P()], betas=(0.9, -0.1)), ValueError,
     r'Invalid beta parameter at index 1: \-0\.1'),
    ('optim_adam_p_weight_decay_1', lambda: optim.Adam([P()], weight_decay=-1), ValueError,
     r'Invalid weight_decay value: \-1'),
    ('optim_sgd_p_lr_0_1_load_state_dict_state_param_g', lambda: optim.SGD([P()], lr=0.1).load_state_dict({'state': {}, 'param_groups': []}), ValueError,
     r'loaded state dict has a different number of parameter groups'),
    ('optim_sgd_5_lr_0_1', lambda: optim.SGD([5], lr=0.1), TypeError,
     r'optimizer can only optimize Tensors, but one of the params is int'),
]

STATE_DICT_ERRORS = [
    ('nn_linear_2_2_load_state_dict_weight_r_3_2_bias_', lambda: nn.Linear(2, 2).load_state_dict({'weight': R(3, 2), 'bias': R(2)}), RuntimeError,
     r'Error\(s\) in loading state_dict for Linear:'),
    ('nn_linear_2_2_load_state_dict_weight_r_2_2', lambda: nn.Linear(2, 2).load_state_dict({'weight': R(2, 2)}), RuntimeError,
     r'Error\(s\) in loading state_dict for Linear:'),
    ('nn_linear_2_2_load_state_dict_weight_r_2_2_bias_', lambda: nn.Linear(2, 2).load_state_dict({'weight': R(2, 2), 'bias': R(2), 'extra': R(1)}), RuntimeError,
     r'Error\(s\) in loading state_dict for Linear:'),
    ('nn_linear_2_2_load_state_dict_5', lambda: nn.Linear(2, 2).load_state_dict(5), TypeError,
     r"Expected state_dict to be dict\-like, got <class 'int'>\."),
    ('nn_linear_2_2_load_state_dict_weight_5_bias_r_2', lambda: nn.Linear(2, 2).load_state_dict({'weight': 5, 'bias': R(2)}), RuntimeError,
     r'Error\(s\) in loading state_dict for Linear:'),
    ('nn_sequential_nn_linear_2_2_load_state_dict_0_we', lambda: nn.Sequential(nn.Linear(2, 2)).load_state_dict({'0.weight': R(2, 3), '0.bias': R(2)}), RuntimeError,
     r'Error\(s\) in loading state_dict for Sequential:'),
    ('nn_batchnorm2d_3_load_state_dict_weight_r_3_bias', lambda: nn.BatchNorm2d(3).load_state_dict({'weight': R(3), 'bias': R(3), 'running_mean': R(4), 'running_var': R(3), 'num_batches_tracked': tt.tensor(0)}), RuntimeError,
     r'Error\(s\) in loading state_dict for BatchNorm2d:'),
]


FILES_ERRORS = [
    ("load_pickle", lambda: _load_bytes(pickle.dumps({"a": 1})), RuntimeError,
     r"tt\.load: .* is not a tinytensor checkpoint: a pickle"),
    ("load_pickle_reduce", lambda: _load_bytes(pickle.dumps(_Evil())), RuntimeError,
     r"tt\.load: .* is not a tinytensor checkpoint: a pickle"),
    ("load_text", lambda: _load_bytes(b"hello world"), RuntimeError,
     r"tt\.load: .* is not a tinytensor checkpoint: not a ZIP archive"),
    ("load_empty", lambda: _load_bytes(b""), RuntimeError,
     r"tt\.load: .* is empty or truncated: it is not a tinytensor checkpoint"),
    ("load_npy", lambda: _load_bytes(_npy_bytes()), RuntimeError,
     r"tt\.load: .* is not a tinytensor checkpoint: a single \.npy array"),
    ("load_npz", lambda: _load_bytes(_npz_bytes()), RuntimeError,
     r"tt\.load: .* is not a tinytensor checkpoint: the archive has no __tinytensor__\.npy manifest"),
    ("load_plain_zip", lambda: _load_bytes(_zip_bytes()), RuntimeError,
     r"tt\.load: .* is not a tinytensor checkpoint: the archive has no __tinytensor__\.npy manifest"),
    ("load_missing", lambda: tt.load("/nonexistent/dir/x.pt"), FileNotFoundError,
     r".*tt\.load: cannot open '/nonexistent/dir/x\.pt'"),
    ("load_int", lambda: tt.load(5), TypeError,
     r"tt\.load: expected a path or a seekable binary file, got int"),
    ("load_map_location", lambda: tt.load(io.BytesIO(b""), map_location="cuda"), RuntimeError,
     r"tt\.load: map_location='cuda': tinytensor runs on the CPU only"),
    ("save_object", lambda: tt.save(object(), io.BytesIO()), TypeError,
     r"tt\.save: cannot save an object of type object at <root>"),
    ("save_function", lambda: tt.save({"f": len}, io.BytesIO()), TypeError,
     r"tt\.save: cannot save an object of type builtin_function_or_method at f"),
]

DATA_ERRORS = [
    ("loader_batch_size_zero", lambda: DataLoader(TensorDataset(T(3)), batch_size=0), ValueError,
     r"batch_size should be a positive integer value, but got batch_size=0"),
    ("loader_shuffle_int", lambda: DataLoader(TensorDataset(T(3)), shuffle=1), TypeError,
     r"DataLoader: shuffle must be a bool, got int"),
    ("tensor_dataset_sizes", lambda: TensorDataset(T(3), T(4)), ValueError,
     r"Size mismatch between tensors"),
    ("tensor_dataset_0d", lambda: TensorDataset(tt.tensor(1.0)), ValueError,
     r"TensorDataset: argument 0 is a 0-d tensor"),
    ("mnist_no_root", lambda: tt.datasets.MNIST("/nonexistent/mnist"), FileNotFoundError,
     r"MNIST: root '/nonexistent/mnist' is not a directory"),
]

# Other areas (conv, pool, pad, nn, optim, ...) append their own lists here.
AREAS = {
    "core": CORE_ERRORS,
    "creation": CREATION_ERRORS,
    "views": VIEWS_ERRORS,
    "indexing": INDEXING_ERRORS,
    "arith": ARITH_ERRORS,
    "reduce": REDUCE_ERRORS,
    "matmul": MATMUL_ERRORS,
    "conv": CONV_ERRORS,
    "fold": FOLD_ERRORS,
    "pad": PAD_ERRORS,
    "pool": POOL_ERRORS,
    "modules": MODULES_ERRORS,
    "loss": LOSS_ERRORS,
    "optim": OPTIM_ERRORS,
    "state_dict": STATE_DICT_ERRORS,
    "files": FILES_ERRORS,
    "data": DATA_ERRORS,
}

ROWS = [pytest.param(call, exc, pattern, id=f"{area}-{name}")
        for area, rows in AREAS.items() for name, call, exc, pattern in rows]


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("call,exc,pattern", ROWS)
def test_bad_call_raises(call, exc, pattern):
    with pytest.raises(exc) as info:
        call()
    assert re.match(pattern, str(info.value)), f"message was: {info.value}"


def test_table_ids_are_unique():
    names = [f"{area}-{row[0]}" for area, rows in AREAS.items() for row in rows]
    assert len(names) == len(set(names))


def test_failed_calls_leave_tensors_untouched():
    x = tt.arange(6.0).view(2, 3)
    before = x.tolist()
    for bad in (lambda: x.add_(tt.ones(3, 3)), lambda: x.__setitem__(5, 1.0),
                lambda: x.view(4), lambda: x @ tt.ones(2, 2), lambda: x[tt.tensor([0, 9])]):
        with pytest.raises((RuntimeError, IndexError)):
            bad()
    assert x.tolist() == before and x._version == 0
