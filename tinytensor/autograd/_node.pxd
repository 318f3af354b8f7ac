# The graph node's fields, shared with the compiled backward engine (_engine.pyx).
from tinytensor._tensor cimport TensorBase


cdef class AccumulateGrad:
    cdef public object variable
    cdef object __weakref__


cdef class Node:
    cdef public object _saved          # None, a tuple of (tensor, version), or the FREED marker
    cdef public tuple _edges
    cdef public Py_ssize_t _n_outputs
    cdef public object _non_diff       # ids of outputs marked non-differentiable
    cdef public bint _materialize
    cdef public tuple needs_input_grad
    cdef public object _out_meta       # (shape, dtype) per output, for multi-output nodes
    cdef dict __dict__                 # ctx attributes that forward sets for backward


cpdef object grad_sink(TensorBase t)
