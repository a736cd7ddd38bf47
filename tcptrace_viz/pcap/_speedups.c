/*
 * The pcap reader's compiled fast paths (optional: each has a numpy/Python twin used when this
 * extension was not built, and the tests compare the two).
 *
 * - Record walkers (walk.py): each pcap record or pcapng block header says how far away the
 *   next one is, so finding where records start is sequential.  These loops only record
 *   offsets; every field is then read with numpy.
 * - gather (gather.py): fixed-width byte windows at many offsets, one memcpy each.
 * - Text columns (texts.py): one str per row, for payload previews and timestamp options.
 *
 * The buffers are untrusted file contents: nothing is read outside them, whatever a length
 * field claims.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PCAP_RECORD_HEADER 16u
#define PCAPNG_BLOCK_EPB 6u
#define PCAPNG_EPB_MIN 32u
#define PCAPNG_MAX_BLOCK (16u << 20) /* keep in step with pcapng.MAX_BLOCK */

static inline uint32_t
load_u32(const unsigned char *at, int big_endian)
{
    if (big_endian) {
        return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
    }
    return (uint32_t)at[3] << 24 | (uint32_t)at[2] << 16 | (uint32_t)at[1] << 8 | at[0];
}

/* Borrow the two buffers and check the range; returns 0 on success (views then held). */
static int
open_views(PyObject *data, PyObject *out, Py_ssize_t pos, Py_ssize_t end, Py_buffer *data_view,
           Py_buffer *out_view)
{
    if (PyObject_GetBuffer(data, data_view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (PyObject_GetBuffer(out, out_view, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(data_view);
        return -1;
    }
    if (pos < 0 || end < pos || end > data_view->len) {
        PyErr_SetString(PyExc_ValueError, "walk range outside the buffer");
    }
    else if (out_view->len % (Py_ssize_t)sizeof(int64_t) != 0) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer must hold whole int64 values");
    }
    else {
        return 0;
    }
    PyBuffer_Release(out_view);
    PyBuffer_Release(data_view);
    return -1;
}

PyDoc_STRVAR(pcap_records_doc,
"pcap_records(data, out, pos, end, big_endian) -> (count, stop)\n\n"
"Offsets of the complete classic-pcap records in data[pos:end], written to the int64\n"
"buffer out (at most its length); stop is where the walk ended.");

static PyObject *
pcap_records(PyObject *module, PyObject *args)
{
    PyObject *data, *out;
    Py_ssize_t pos, end, count = 0;
    int big_endian;
    Py_buffer data_view, out_view;
    if (!PyArg_ParseTuple(args, "OOnnp", &data, &out, &pos, &end, &big_endian)) {
        return NULL;
    }
    if (open_views(data, out, pos, end, &data_view, &out_view) < 0) {
        return NULL;
    }
    const unsigned char *bytes = data_view.buf;
    int64_t *offsets = out_view.buf;
    Py_ssize_t capacity = out_view.len / (Py_ssize_t)sizeof(int64_t);
    Py_BEGIN_ALLOW_THREADS
    while (count < capacity && end - pos >= (Py_ssize_t)PCAP_RECORD_HEADER) {
        uint64_t after = (uint64_t)pos + PCAP_RECORD_HEADER + load_u32(bytes + pos + 8, big_endian);
        if (after > (uint64_t)end) {
            break;
        }
        offsets[count++] = pos;
        pos = (Py_ssize_t)after;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&data_view);
    return Py_BuildValue("nn", count, pos);
}

PyDoc_STRVAR(pcapng_epbs_doc,
"pcapng_epbs(data, out, pos, end, big_endian) -> (count, stop)\n\n"
"Offsets of consecutive, complete, plausible enhanced packet blocks in data[pos:end],\n"
"written to the int64 buffer out (at most its length); stop is the first other block.");

static PyObject *
pcapng_epbs(PyObject *module, PyObject *args)
{
    PyObject *data, *out;
    Py_ssize_t pos, end, count = 0;
    int big_endian;
    Py_buffer data_view, out_view;
    if (!PyArg_ParseTuple(args, "OOnnp", &data, &out, &pos, &end, &big_endian)) {
        return NULL;
    }
    if (open_views(data, out, pos, end, &data_view, &out_view) < 0) {
        return NULL;
    }
    const unsigned char *bytes = data_view.buf;
    int64_t *offsets = out_view.buf;
    Py_ssize_t capacity = out_view.len / (Py_ssize_t)sizeof(int64_t);
    Py_BEGIN_ALLOW_THREADS
    while (count < capacity && end - pos >= 8) {
        uint32_t type = load_u32(bytes + pos, big_endian);
        uint32_t size = load_u32(bytes + pos + 4, big_endian);
        if (type != PCAPNG_BLOCK_EPB || size < PCAPNG_EPB_MIN || (size & 3u)
                || size > PCAPNG_MAX_BLOCK || (Py_ssize_t)size > end - pos) {
            break;
        }
        offsets[count++] = pos;
        pos += (Py_ssize_t)size;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&data_view);
    return Py_BuildValue("nn", count, pos);
}

PyDoc_STRVAR(gather_doc,
"gather(data, starts, width, out)\n\n"
"Copy the width bytes at each int64 offset in starts from data into the rows of the\n"
"C-contiguous uint8 buffer out (len(starts) * width bytes).  IndexError if a window\n"
"does not lie inside data.");

static PyObject *
gather(PyObject *module, PyObject *args)
{
    PyObject *data, *starts, *out;
    Py_ssize_t width;
    Py_buffer data_view, starts_view, out_view;
    if (!PyArg_ParseTuple(args, "OOnO", &data, &starts, &width, &out)) {
        return NULL;
    }
    if (width <= 0) {
        PyErr_SetString(PyExc_ValueError, "width must be positive");
        return NULL;
    }
    if (PyObject_GetBuffer(data, &data_view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(starts, &starts_view, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data_view);
        return NULL;
    }
    Py_ssize_t count = starts_view.len / (Py_ssize_t)sizeof(int64_t);
    if (PyObject_GetBuffer(out, &out_view, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&starts_view);
        PyBuffer_Release(&data_view);
        return NULL;
    }
    int failed = 0;
    if (out_view.len != count * width) {
        PyErr_SetString(PyExc_ValueError, "out must hold len(starts) * width bytes");
        failed = 1;
    }
    const unsigned char *from = data_view.buf;
    unsigned char *to = out_view.buf;
    const int64_t *at = starts_view.buf;
    Py_ssize_t last = data_view.len - width;  /* the last start whose window fits */
    Py_ssize_t bad = -1;
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t row = 0; row < count; row++) {
            if (at[row] < 0 || at[row] > last) {
                bad = row;
                break;
            }
            memcpy(to + row * width, from + at[row], (size_t)width);
        }
        Py_END_ALLOW_THREADS
        if (bad >= 0) {
            PyErr_Format(PyExc_IndexError, "window at %lld (width %zd) outside a %zd-byte buffer",
                         (long long)at[bad], width, data_view.len);
            failed = 1;
        }
    }
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&starts_view);
    PyBuffer_Release(&data_view);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

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

/* Write ``value`` in decimal at ``at``; returns the end. */
static char *
put_decimal(char *at, uint32_t value)
{
    char digits[10];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (count) {
        *at++ = digits[--count];
    }
    return at;
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
    static const char val[] = "nop,nop,TS val ";
    static const char ecr[] = " ecr ";
    char text[64];
    memcpy(text, val, sizeof val - 1);
    for (Py_ssize_t row = 0; result != NULL && row < count; row++) {
        char *end = put_decimal(text + sizeof val - 1, (uint32_t)(keys[row] >> 32));
        memcpy(end, ecr, sizeof ecr - 1);
        end = put_decimal(end + sizeof ecr - 1, (uint32_t)keys[row]);
        PyObject *item = PyUnicode_FromStringAndSize(text, end - text);
        if (item == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, row, item);
    }
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"pcap_records", pcap_records, METH_VARARGS, pcap_records_doc},
    {"pcapng_epbs", pcapng_epbs, METH_VARARGS, pcapng_epbs_doc},
    {"gather", gather, METH_VARARGS, gather_doc},
    {"payload_texts", payload_texts, METH_VARARGS, payload_texts_doc},
    {"timestamp_texts", timestamp_texts, METH_O, timestamp_texts_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tcptrace_viz.pcap._speedups",
    .m_doc = "Compiled fast paths of the pcap reader (see walk.py, gather.py, texts.py).",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
