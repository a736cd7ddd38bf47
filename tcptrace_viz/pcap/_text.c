/*
 * Text columns of the packet table, one str per row, built in C.
 *
 * Creating a Python str per packet is most of what is left of the reader's time once the
 * numeric columns are vectorised: the numpy route goes through fixed-width unicode arrays
 * and costs ~120 ns a row, this ~30 ns.  texts.py holds the same functions in numpy and
 * Python (used when this extension was not built); the tests compare the two.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>

/* Borrow a read-only buffer holding exactly ``count`` items of ``itemsize`` bytes. */
static int
get_items(PyObject *obj, Py_buffer *view, Py_ssize_t count, Py_ssize_t itemsize,
          const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (view->len != count * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s holds %zd bytes, expected %zd", what, view->len,
                     count * itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(payload_texts_doc,
"payload_texts(matrix, lengths, width) -> list[str]\n\n"
"Row i of the C-contiguous uint8 matrix (rows of width bytes) as text: its first\n"
"lengths[i] bytes (int64, clamped to 0..width), printable ASCII kept, every other byte '.'.");

static PyObject *
payload_texts(PyObject *module, PyObject *args)
{
    PyObject *matrix, *lengths, *result = NULL;
    Py_ssize_t width;
    Py_buffer rows_view, lengths_view;
    if (!PyArg_ParseTuple(args, "OOn", &matrix, &lengths, &width)) {
        return NULL;
    }
    if (width <= 0 || width > 4096) {
        PyErr_SetString(PyExc_ValueError, "width must be between 1 and 4096");
        return NULL;
    }
    if (PyObject_GetBuffer(lengths, &lengths_view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_ssize_t count = lengths_view.len / (Py_ssize_t)sizeof(int64_t);
    if (get_items(matrix, &rows_view, count, width, "matrix") < 0) {
        PyBuffer_Release(&lengths_view);
        return NULL;
    }
    const unsigned char *bytes = rows_view.buf;
    const int64_t *wanted = lengths_view.buf;
    PyObject *empty = PyUnicode_New(0, 127);
    result = empty == NULL ? NULL : PyList_New(count);
    for (Py_ssize_t row = 0; result != NULL && row < count; row++) {
        int64_t length = wanted[row] < 0 ? 0 : (wanted[row] > width ? width : wanted[row]);
        PyObject *text;
        if (length == 0) {
            text = Py_NewRef(empty);
        }
        else {
            text = PyUnicode_New((Py_ssize_t)length, 127);
            if (text == NULL) {
                Py_CLEAR(result);
                break;
            }
            Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
            const unsigned char *in = bytes + row * width;
            for (int64_t i = 0; i < length; i++) {
                out[i] = (in[i] >= 0x20 && in[i] < 0x7F) ? in[i] : '.';
            }
        }
        PyList_SET_ITEM(result, row, text);
    }
    Py_XDECREF(empty);
    PyBuffer_Release(&rows_view);
    PyBuffer_Release(&lengths_view);
    return result;
}

PyDoc_STRVAR(timestamp_texts_doc,
"timestamp_texts(keys) -> list[str]\n\n"
"'nop,nop,TS val V ecr E' for each uint64 key V << 32 | E.");

static PyObject *
timestamp_texts(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_ssize_t count = view.len / (Py_ssize_t)sizeof(uint64_t);
    const uint64_t *keys = view.buf;
    PyObject *result = PyList_New(count);
    char text[64];
    for (Py_ssize_t row = 0; result != NULL && row < count; row++) {
        int length = snprintf(text, sizeof text, "nop,nop,TS val %lu ecr %lu",
                              (unsigned long)(keys[row] >> 32),
                              (unsigned long)(keys[row] & 0xFFFFFFFFu));
        PyObject *item = PyUnicode_FromStringAndSize(text, length);
        if (item == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, row, item);
    }
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef text_methods[] = {
    {"payload_texts", payload_texts, METH_VARARGS, payload_texts_doc},
    {"timestamp_texts", timestamp_texts, METH_O, timestamp_texts_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot text_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef text_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tcptrace_viz.pcap._text",
    .m_doc = "Compiled text columns of the packet table (see texts.py).",
    .m_size = 0,
    .m_methods = text_methods,
    .m_slots = text_slots,
};

PyMODINIT_FUNC
PyInit__text(void)
{
    return PyModuleDef_Init(&text_module);
}
