/* gemmtune._fastpath: the common case of gemmtune.mm & co. in one C call.
 *
 * What python/gemmtune/ops.py's _fast does for plain torch tensors (the memo
 * key from the tensors' attributes, the memo lookup, the result's
 * allocation, the current stream, the kernel call, the typed error,
 * capture), done here without the interpreter's
 * frames and without ctypes. It is the same algorithm on the same objects:
 * the memo is the tuner's own dictionary (tuner._fast), its entries are the
 * tuples ops._fast_entry builds (a miss calls that Python function), and
 * the key is the same tuple, so the two paths share one memo.
 *
 * Written against the limited API of Python 3.11 (the stable ABI,
 * abi3): one build loads on every CPython 3.11 or later with the GIL.
 * Nothing is linked: not libpython (the interpreter provides its symbols),
 * not torch (tensors are used through their Python attributes and methods),
 * not libgemmtune_c (gemmtune_selection_run is called through the address
 * bind() is given, that of the library the package already loaded).
 *
 * Threads: every step but the kernel call runs with the GIL held; objects
 * read from dictionaries (the ops module's globals, the memo) are owned
 * (new references) before anything that can run other Python code, so
 * another thread replacing them cannot free them under this one. The
 * kernel runs with the GIL released, as Selection.run_pointers runs it
 * through ctypes; the C API's selection handle makes concurrent runs of one
 * selection take turns (c_api.h).
 */

#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "gemmtune/c_api.h" /* the run function's type; nothing of it is linked */

typedef __typeof__(gemmtune_selection_run) *run_function;

/* Set by bind(). Process-wide, as the C library it points into is. */
static struct {
  run_function run;
  PyObject *ops;         /* gemmtune.ops' globals: read per call, so reassignments are seen */
  PyObject *capture;     /* gemmtune._capture's globals: `active`, `record` */
  PyObject *activations; /* the activation names a call may pass as they are */
  PyObject *last_error;  /* _capi.last_error: the typed exception of this thread's last failure */
} bound;

/* Interned names, made once at import. */
static PyObject *s_data_ptr, *s_dtype, *s_shape, *s_stride, *s_get_device, *s_is_cuda, *s_requires_grad, *s_fast,
    *s_reshape, *s_expand, *s_contiguous, *s_active, *s_record, *s_plain, *s_grad_enabled,
    *s_default, *s_default_tuner, *s_raw_stream, *s_fast_entry, *s_act, *s_none, *s_linear;
static PyObject *minus_one;

static const struct {
  PyObject **slot;
  const char *text;
} kNames[] = {
    {&s_data_ptr, "data_ptr"},
    {&s_dtype, "dtype"},
    {&s_shape, "shape"},
    {&s_stride, "stride"},
    {&s_get_device, "get_device"},
    {&s_is_cuda, "is_cuda"},
    {&s_requires_grad, "requires_grad"},
    {&s_fast, "_fast"},
    {&s_reshape, "reshape"},
    {&s_expand, "expand"},
    {&s_contiguous, "contiguous"},
    {&s_active, "active"},
    {&s_record, "record"},
    {&s_plain, "_PLAIN"},
    {&s_grad_enabled, "_grad_enabled"},
    {&s_default, "_default"},
    {&s_default_tuner, "default_tuner"},
    {&s_raw_stream, "_raw_stream"},
    {&s_fast_entry, "_fast_entry"},
    {&s_act, "_act"},
    {&s_none, "none"},
    {&s_linear, "linear"},
};

/* The fields of the key tuple (ops._fast builds the same one). */
enum {
  kKeyOp,
  kKeyActivation,
  kKeyAlpha,
  kKeyBeta,
  kKeyA,                /* dtype, shape, stride(), get_device(), is_cuda */
  kKeyB = kKeyA + 5,
  kKeyBias = kKeyB + 5, /* None or a 5-tuple of the same */
  kKeyOut,              /* None or a 5-tuple */
  kKeyAlignment,
  kKeySize
};

/* The fields of a memo entry (ops._fast_entry). */
enum { kEntryRun, kEntryHandle, kEntryAllocate, kEntryStream, kEntryBiasShape, kEntryFlatten, kEntrySelection,
       kEntrySize };

static int check_count(const char *function, Py_ssize_t given, Py_ssize_t low, Py_ssize_t high) {
  if (given >= low && given <= high)
    return 0;
  if (low == high)
    PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", function, low, given);
  else
    PyErr_Format(PyExc_TypeError, "%s() takes %zd or %zd arguments (%zd given)", function, low, high, given);
  return -1;
}

static int check_bound(void) {
  if (bound.run == NULL) {
    PyErr_SetString(PyExc_RuntimeError, "gemmtune._fastpath: bind() has not been called");
    return -1;
  }
  return 0;
}

/* A new reference to gemmtune.ops' global `name`, or NULL: with an exception
 * set when the lookup failed, without one when the name is not there. */
static PyObject *ops_global(PyObject *name) {
  PyObject *value = PyDict_GetItemWithError(bound.ops, name);
  Py_XINCREF(value);
  return value;
}

static PyObject *missing_global(PyObject *name) {
  if (!PyErr_Occurred())
    PyErr_Format(PyExc_RuntimeError, "gemmtune._fastpath: gemmtune.ops has no %U", name);
  return NULL;
}

/* gemmtune.ops' global `name` called with `arg` (NULL: with no argument). */
static PyObject *call_ops(PyObject *name, PyObject *arg) {
  PyObject *function = ops_global(name);
  if (function == NULL)
    return missing_global(name);
  PyObject *result = arg == NULL ? PyObject_CallNoArgs(function) : PyObject_CallFunctionObjArgs(function, arg, NULL);
  Py_DECREF(function);
  return result;
}

/* tensor.data_ptr() as an address. */
static int pointer_of(PyObject *tensor, uintptr_t *pointer) {
  PyObject *value = PyObject_CallMethodObjArgs(tensor, s_data_ptr, NULL);
  if (value == NULL)
    return -1;
  void *p = PyLong_AsVoidPtr(value);
  Py_DECREF(value);
  if (p == NULL && PyErr_Occurred())
    return -1;
  *pointer = (uintptr_t)p;
  return 0;
}

/* Stores `value` (a new reference, or NULL after a failure) at tuple[at]. */
static int put(PyObject *tuple, Py_ssize_t at, PyObject *value) {
  return value == NULL ? -1 : PyTuple_SetItem(tuple, at, value); /* steals value, also on failure */
}

static int put_borrowed(PyObject *tuple, Py_ssize_t at, PyObject *value) {
  Py_INCREF(value);
  return PyTuple_SetItem(tuple, at, value);
}

/* tensor's dtype, shape, stride(), get_device(), is_cuda at tuple[at..at+4]. */
static int put_tensor(PyObject *tuple, Py_ssize_t at, PyObject *tensor) {
  if (put(tuple, at, PyObject_GetAttr(tensor, s_dtype)) < 0 || put(tuple, at + 1, PyObject_GetAttr(tensor, s_shape)) < 0 ||
      put(tuple, at + 2, PyObject_CallMethodObjArgs(tensor, s_stride, NULL)) < 0 ||
      put(tuple, at + 3, PyObject_CallMethodObjArgs(tensor, s_get_device, NULL)) < 0 ||
      put(tuple, at + 4, PyObject_GetAttr(tensor, s_is_cuda)) < 0)
    return -1;
  return 0;
}

static PyObject *tensor_key(PyObject *tensor) {
  PyObject *key = PyTuple_New(5);
  if (key != NULL && put_tensor(key, 0, tensor) < 0)
    Py_CLEAR(key);
  return key;
}

/* An optional tensor at key[at]: None, or its 5-tuple, with its pointer ORed into bits. */
static int put_optional(PyObject *key, Py_ssize_t at, PyObject *tensor, uintptr_t *pointer, uintptr_t *bits) {
  if (tensor == Py_None)
    return put_borrowed(key, at, Py_None);
  if (pointer_of(tensor, pointer) < 0 || put(key, at, tensor_key(tensor)) < 0)
    return -1;
  *bits |= *pointer;
  return 0;
}

/* The alignment class of the low six bits of the OR of a call's pointers
 * (ops._ALIGNMENT_OF_LOW_BITS): the lowest set bit, 64 when none of the six. */
static long alignment_of(uintptr_t bits) {
  bits &= 63;
  return bits ? (long)(bits & (~bits + 1)) : 64;
}

/* The pointers a call needs besides the key. */
typedef struct {
  uintptr_t a, b, bias, out;
} Pointers;

/* The memo key of a call, as ops._fast builds it, and its pointers. */
static PyObject *make_key(PyObject *op, PyObject *a, PyObject *b, PyObject *bias, PyObject *activation,
                          PyObject *alpha, PyObject *beta, PyObject *out, Pointers *p) {
  p->bias = p->out = 0;
  if (pointer_of(a, &p->a) < 0 || pointer_of(b, &p->b) < 0)
    return NULL;
  uintptr_t bits = p->a | p->b;
  PyObject *key = PyTuple_New(kKeySize);
  if (key == NULL)
    return NULL;
  if (put_borrowed(key, kKeyOp, op) < 0 || put_borrowed(key, kKeyActivation, activation) < 0 ||
      put_borrowed(key, kKeyAlpha, alpha) < 0 || put_borrowed(key, kKeyBeta, beta) < 0 || put_tensor(key, kKeyA, a) < 0 ||
      put_tensor(key, kKeyB, b) < 0)
    goto fail;
  if (put_optional(key, kKeyBias, bias, &p->bias, &bits) < 0 || put_optional(key, kKeyOut, out, &p->out, &bits) < 0)
    goto fail;
  if (put(key, kKeyAlignment, PyLong_FromLong(alignment_of(bits))) < 0)
    goto fail;
  return key;
fail:
  Py_DECREF(key);
  return NULL;
}

/* ops._fast_entry(tuner, key, op, operands, out, activation, alpha, beta):
 * selects (or reads the database) and stores the entry in the memo. */
static PyObject *make_entry(PyObject *tuner, PyObject *key, PyObject *op, PyObject *a, PyObject *b, PyObject *bias,
                            PyObject *activation, PyObject *alpha, PyObject *beta, PyObject *out) {
  PyObject *operands;
  int linear = PyObject_RichCompareBool(op, s_linear, Py_EQ);
  if (linear < 0)
    return NULL;
  if (linear)
    operands = PyTuple_Pack(3, a, b, bias);
  else if (bias != Py_None)
    operands = PyTuple_Pack(3, bias, a, b);
  else
    operands = PyTuple_Pack(2, a, b);
  if (operands == NULL)
    return NULL;
  PyObject *entry = NULL;
  PyObject *fast_entry = ops_global(s_fast_entry);
  if (fast_entry == NULL)
    missing_global(s_fast_entry);
  else
    entry = PyObject_CallFunctionObjArgs(fast_entry, tuner, key, op, operands, out, activation, alpha, beta, NULL);
  Py_XDECREF(fast_entry);
  Py_DECREF(operands);
  return entry;
}

/* The kernel call, with the GIL released. */
static int call_kernel(const gemmtune_selection *handle, uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t bias,
                       void *stream) {
  run_function run = bound.run; /* read with the GIL held: bind() may run on another thread meanwhile */
  int status;
  Py_BEGIN_ALLOW_THREADS
  status = run(handle, (const void *)a, (const void *)b, (void *)c, (const void *)bias, NULL, NULL, stream);
  Py_END_ALLOW_THREADS
  if (status == 0)
    return 0;
  /* The same typed exception ops._fast raises: _capi.last_error(), read on
   * this thread, whose error the library keeps per thread. */
  PyObject *last_error = bound.last_error;
  Py_INCREF(last_error); /* owned while it runs: bind() may replace it */
  PyObject *error = PyObject_CallNoArgs(last_error);
  Py_DECREF(last_error);
  if (error != NULL) {
    PyObject *type = PyObject_Type(error);
    PyErr_SetObject(type, error);
    Py_DECREF(type);
    Py_DECREF(error);
  }
  return -1;
}

/* _capture.record(selection) while a capture is active. */
static int record_if_capturing(PyObject *selection) {
  PyObject *active = PyDict_GetItemWithError(bound.capture, s_active);
  if (active == NULL)
    return PyErr_Occurred() ? -1 : 0;
  Py_INCREF(active);
  int on = PyObject_IsTrue(active);
  Py_DECREF(active);
  if (on <= 0)
    return on;
  PyObject *record = PyDict_GetItemWithError(bound.capture, s_record);
  if (record == NULL) {
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_RuntimeError, "gemmtune._fastpath: gemmtune._capture has no record");
    return -1;
  }
  Py_INCREF(record);
  PyObject *r = PyObject_CallFunctionObjArgs(record, selection, NULL);
  Py_DECREF(record);
  Py_XDECREF(r);
  return r == NULL ? -1 : 0;
}

/* ops._fast: op on plain tensors, activation, alpha, beta already normalised;
 * out None or a tensor. Returns the result (a new reference) or NULL. */
static PyObject *run_fast(PyObject *tuner, PyObject *op, PyObject *a, PyObject *b, PyObject *bias,
                          PyObject *activation, PyObject *alpha, PyObject *beta, PyObject *out) {
  PyObject *key = NULL, *memo = NULL, *entry = NULL, *flat = NULL, *dense_bias = NULL, *c = NULL, *result = NULL;
  Pointers p;
  if (check_bound() < 0)
    return NULL;
  key = make_key(op, a, b, bias, activation, alpha, beta, out, &p);
  if (key == NULL)
    goto done;
  memo = PyObject_GetAttr(tuner, s_fast);
  if (memo == NULL)
    goto done;
  if (!PyDict_Check(memo)) {
    PyErr_SetString(PyExc_TypeError, "gemmtune._fastpath: tuner._fast is not a dict");
    goto done;
  }
  entry = PyDict_GetItemWithError(memo, key);
  if (entry != NULL) {
    Py_INCREF(entry); /* another thread may clear the memo while this one runs Python code */
  } else {
    if (PyErr_Occurred())
      goto done;
    entry = make_entry(tuner, key, op, a, b, bias, activation, alpha, beta, out);
    if (entry == NULL)
      goto done;
  }
  if (!PyTuple_Check(entry) || PyTuple_Size(entry) < kEntrySize) {
    PyErr_SetString(PyExc_TypeError, "gemmtune._fastpath: a memo entry is not the tuple ops._fast_entry builds");
    goto done;
  }
  /* Borrowed from the entry, which is held. */
  PyObject *handle_object = PyTuple_GetItem(entry, kEntryHandle);
  PyObject *allocate = PyTuple_GetItem(entry, kEntryAllocate);
  PyObject *stream_index = PyTuple_GetItem(entry, kEntryStream);
  PyObject *bias_shape = PyTuple_GetItem(entry, kEntryBiasShape);
  PyObject *selection = PyTuple_GetItem(entry, kEntrySelection);
  void *handle = handle_object == Py_None ? NULL : PyLong_AsVoidPtr(handle_object);
  if (handle == NULL && PyErr_Occurred())
    goto done;
  int flatten = PyObject_IsTrue(PyTuple_GetItem(entry, kEntryFlatten));
  if (flatten < 0)
    goto done;
  if (flatten) { /* linear on (..., k): a = a.reshape(-1, a.shape[-1]) */
    PyObject *last = PySequence_GetItem(PyTuple_GetItem(key, kKeyA + 1), -1);
    if (last == NULL)
      goto done;
    flat = PyObject_CallMethodObjArgs(a, s_reshape, minus_one, last, NULL);
    Py_DECREF(last);
    if (flat == NULL || pointer_of(flat, &p.a) < 0)
      goto done;
  }
  if (bias_shape != Py_None) { /* a bias the kernel cannot broadcast: a dense copy */
    PyObject *expanded = PyObject_CallMethodObjArgs(bias, s_expand, bias_shape, NULL);
    if (expanded == NULL)
      goto done;
    dense_bias = PyObject_CallMethodObjArgs(expanded, s_contiguous, NULL);
    Py_DECREF(expanded);
    if (dense_bias == NULL || pointer_of(dense_bias, &p.bias) < 0)
      goto done;
  }
  uintptr_t pc;
  if (out == Py_None) {
    c = PyObject_CallNoArgs(allocate);
    if (c == NULL || pointer_of(c, &pc) < 0)
      goto done;
  } else {
    Py_INCREF(out);
    c = out;
    pc = p.out;
  }
  void *stream = NULL;
  if (stream_index != Py_None) { /* looked up per call: the caller may have switched streams since */
    PyObject *value = call_ops(s_raw_stream, stream_index);
    if (value == NULL)
      goto done;
    stream = PyLong_AsVoidPtr(value);
    Py_DECREF(value);
    if (stream == NULL && PyErr_Occurred())
      goto done;
  }
  if (call_kernel(handle, p.a, p.b, pc, p.bias, stream) < 0 || record_if_capturing(selection) < 0)
    goto done;
  result = c;
  c = NULL;
done:
  Py_XDECREF(key);
  Py_XDECREF(memo);
  Py_XDECREF(entry);
  Py_XDECREF(flat);
  Py_XDECREF(dense_bias);
  Py_XDECREF(c);
  return result;
}

/* ---------------------------------------------------------------- the ops' common case */

static int is_plain(PyObject *plain, PyObject *x) {
  PyObject *type = (PyObject *)Py_TYPE(x);
  Py_ssize_t n = PyTuple_Size(plain);
  for (Py_ssize_t i = 0; i < n; ++i)
    if (PyTuple_GetItem(plain, i) == type)
      return 1;
  return 0;
}

/* 1 when any of the tensors (bias may be None) requires grad, 0 if none, -1 on error. */
static int requires_grad(PyObject *const *tensors, int count) {
  for (int i = 0; i < count; ++i) {
    if (tensors[i] == Py_None)
      continue;
    PyObject *value = PyObject_GetAttr(tensors[i], s_requires_grad);
    if (value == NULL)
      return -1;
    int on = PyObject_IsTrue(value);
    Py_DECREF(value);
    if (on != 0)
      return on;
  }
  return 0;
}

/* 1 when this call is ops._direct_python's common case (plain tensors, no autograd to
 * record; the caller has checked it is not being traced), 0 if not, -1 on error. */
static int common_case(PyObject *a, PyObject *b, PyObject *bias) {
  PyObject *plain = ops_global(s_plain);
  if (plain == NULL)
    return PyErr_Occurred() ? -1 : 0;
  int ok = PyTuple_Check(plain) && is_plain(plain, a) && is_plain(plain, b) && (bias == Py_None || is_plain(plain, bias));
  Py_DECREF(plain);
  if (!ok)
    return 0;
  PyObject *grad_enabled = ops_global(s_grad_enabled);
  if (grad_enabled == NULL || grad_enabled == Py_None) {
    Py_XDECREF(grad_enabled);
    return PyErr_Occurred() ? -1 : 0;
  }
  PyObject *value = PyObject_CallNoArgs(grad_enabled);
  Py_DECREF(grad_enabled);
  if (value == NULL)
    return -1;
  int on = PyObject_IsTrue(value);
  Py_DECREF(value);
  if (on <= 0)
    return on < 0 ? -1 : 1;
  PyObject *const tensors[] = {a, b, bias};
  int needs = requires_grad(tensors, 3);
  return needs < 0 ? -1 : !needs;
}

/* `tuner or _default or default_tuner()`, a new reference. */
static PyObject *resolve_tuner(PyObject *tuner) {
  int given = tuner == Py_None ? 0 : PyObject_IsTrue(tuner);
  if (given < 0)
    return NULL;
  if (given) {
    Py_INCREF(tuner);
    return tuner;
  }
  PyObject *current = ops_global(s_default);
  if (current == NULL && PyErr_Occurred())
    return NULL;
  if (current != NULL) {
    int usable = current == Py_None ? 0 : PyObject_IsTrue(current);
    if (usable > 0)
      return current;
    Py_DECREF(current);
    if (usable < 0)
      return NULL;
  }
  return call_ops(s_default_tuner, NULL);
}

/* ops._act: None -> "none"; a known name as it is; anything else through the
 * Python function (which names the valid ones in its error). */
static PyObject *resolve_activation(PyObject *activation) {
  if (activation == Py_None) {
    Py_INCREF(s_none);
    return s_none;
  }
  if (PyUnicode_CheckExact(activation)) {
    int known = PySet_Contains(bound.activations, activation);
    if (known < 0)
      return NULL;
    if (known) {
      Py_INCREF(activation);
      return activation;
    }
  }
  return call_ops(s_act, activation);
}

/* float(x), a new reference. */
static PyObject *as_float(PyObject *x) {
  if (PyFloat_CheckExact(x)) {
    Py_INCREF(x);
    return x;
  }
  return PyNumber_Float(x);
}

static const char kDirectDoc[] =
    "direct(op, a, b, bias, out, activation, alpha, beta, tuner)\n--\n\n"
    "The common case of gemmtune.<op> in one call: when a, b and bias (or None) are plain tensors "
    "(ops._PLAIN) and no autograd must record the call, runs op as ops._fast does (tuner None: the "
    "default tuner; activation None or a name; alpha, beta anything float() takes) and returns the "
    "result; otherwise returns None, and the caller takes the general route. The caller first checks "
    "that torch.compile is not tracing.";

static PyObject *direct(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
  if (check_count("direct", nargs, 9, 9) < 0 || check_bound() < 0)
    return NULL;
  PyObject *op = args[0], *a = args[1], *b = args[2], *bias = args[3], *out = args[4];
  int common = common_case(a, b, bias);
  if (common <= 0) {
    if (common < 0)
      return NULL;
    Py_RETURN_NONE;
  }
  PyObject *tuner = NULL, *activation = NULL, *alpha = NULL, *beta = NULL, *result = NULL;
  if ((tuner = resolve_tuner(args[8])) != NULL && (activation = resolve_activation(args[5])) != NULL &&
      (alpha = as_float(args[6])) != NULL && (beta = as_float(args[7])) != NULL)
    result = run_fast(tuner, op, a, b, bias, activation, alpha, beta, out);
  Py_XDECREF(tuner);
  Py_XDECREF(activation);
  Py_XDECREF(alpha);
  Py_XDECREF(beta);
  return result;
}

static const char kFastDoc[] =
    "fast(tuner, op, a, b, bias, activation, alpha, beta, out=None)\n--\n\n"
    "ops._fast in C: runs op on plain tensors with a normalised activation and float alpha, beta, into "
    "out or a new result.";

static PyObject *fast(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
  if (check_count("fast", nargs, 8, 9) < 0)
    return NULL;
  return run_fast(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7],
                  nargs == 9 ? args[8] : Py_None);
}

static const char kKeyDoc[] =
    "key(op, a, b, bias, activation, alpha, beta, out=None)\n--\n\n"
    "The memo key fast() looks a call up by (for tests: it must equal ops._fast's).";

static PyObject *key(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
  if (check_count("key", nargs, 7, 8) < 0)
    return NULL;
  Pointers p;
  return make_key(args[0], args[1], args[2], args[3], args[4], args[5], args[6], nargs == 8 ? args[7] : Py_None, &p);
}

static const char kBindDoc[] =
    "bind(ops_globals, capture_globals, activations, last_error, run_address)\n--\n\n"
    "Connects the module to the package: gemmtune.ops' and gemmtune._capture's globals (dicts, read per "
    "call), the set of activation names taken as they are, _capi.last_error, and the address of the "
    "loaded library's gemmtune_selection_run.";

static PyObject *bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
  if (check_count("bind", nargs, 5, 5) < 0)
    return NULL;
  if (!PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyAnySet_Check(args[2]) || !PyCallable_Check(args[3])) {
    PyErr_SetString(PyExc_TypeError, "bind(dict, dict, set, callable, int)");
    return NULL;
  }
  void *run = PyLong_AsVoidPtr(args[4]);
  if (run == NULL) {
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_ValueError, "bind(): the run function's address is 0");
    return NULL;
  }
  PyObject *old[] = {bound.ops, bound.capture, bound.activations, bound.last_error};
  Py_INCREF(args[0]);
  Py_INCREF(args[1]);
  Py_INCREF(args[2]);
  Py_INCREF(args[3]);
  bound.ops = args[0];
  bound.capture = args[1];
  bound.activations = args[2];
  bound.last_error = args[3];
  bound.run = (run_function)run;
  for (size_t i = 0; i < sizeof old / sizeof old[0]; ++i)
    Py_XDECREF(old[i]);
  Py_RETURN_NONE;
}

static PyMethodDef kMethods[] = {
    {"direct", (PyCFunction)(void (*)(void))direct, METH_FASTCALL, kDirectDoc},
    {"fast", (PyCFunction)(void (*)(void))fast, METH_FASTCALL, kFastDoc},
    {"key", (PyCFunction)(void (*)(void))key, METH_FASTCALL, kKeyDoc},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL, kBindDoc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kModule = {
    PyModuleDef_HEAD_INIT,
    "_fastpath",
    "gemmtune's per-call fast path in C (stable ABI 3.11); see python/fastpath/README.md.",
    -1,
    kMethods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
  for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; ++i) {
    if (*kNames[i].slot == NULL && (*kNames[i].slot = PyUnicode_InternFromString(kNames[i].text)) == NULL)
      return NULL;
  }
  if (minus_one == NULL && (minus_one = PyLong_FromLong(-1)) == NULL)
    return NULL;
  PyObject *module = PyModule_Create(&kModule);
  /* What ops.py expects of this module (the entry layout, bind's arguments):
   * a package that expects another protocol runs its Python path instead. */
  if (module != NULL && PyModule_AddIntConstant(module, "PROTOCOL", 1) < 0)
    Py_CLEAR(module);
  return module;
}
