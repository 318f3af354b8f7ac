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
     r"ones\(\): argument 'size' \(position 1\) must be tuple of ints, but found element of "
     r"type float at pos 1"),
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
    ("set_num_threads_zero", lambda: tt.set_num_threads(0), ValueError,
     r"set_num_threads\(\): expected a positive number of threads, but got 0"),
]

# Other areas (conv, pool, pad, nn, optim, ...) append their own lists here.
AREAS = {
    "core": CORE_ERRORS,
}

ROWS = [pytest.param(call, exc, pattern, id=f"{area}-{name}")
        for area, rows in AREAS.items() for name, call, exc, pattern in rows]


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
