# The fields of the data layer's types, shared with other Cython modules (the autograd node).

cdef class dtype:
    cdef readonly str name
    cdef readonly object np_dtype
    cdef readonly Py_ssize_t itemsize
    cdef readonly bint is_floating_point
    cdef readonly int category


cdef class Storage:
    cdef readonly object data
    cdef public Py_ssize_t version


cdef class TensorBase:
    cdef public Storage _storage
    cdef public tuple _shape
    cdef public tuple _stride
    cdef public Py_ssize_t _offset
    cdef public dtype _dtype
    cdef object _array                     # cached NumPy view of exactly this layout
    # autograd (used by tinytensor.autograd; kept here so that attribute access is a C slot)
    cdef public bint _requires_grad
    cdef public object _grad              # .grad (a property: assignments are checked)
    cdef public object grad_fn
    cdef public Py_ssize_t _output_nr
    cdef public object _accumulator       # weak reference to this leaf's AccumulateGrad node
    cdef public object _base              # the tensor this one is a view of, or None
    cdef public object _view_of_fn        # the base's grad_fn when this view was made
    cdef object __weakref__

    cpdef TensorBase _make_view(self, tuple shape, tuple stride, Py_ssize_t offset)


cpdef TensorBase alias(TensorBase src)
