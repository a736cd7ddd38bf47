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
 * The buffers hold untrusted file contents: nothing is read outside them, whatever a length
 * field claims, and every argument is checked (kind, size, alignment, overlap) before use.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PCAP_RECORD_HEADER 16u
#define PCAPNG_BLOCK_EPB 6u
#define PCAPNG_EPB_MIN 32u
#define PCAPNG_MAX_BLOCK (16u << 20) /* keep in step with walk.MAX_BLOCK */

/* --- arguments -------------------------------------------------------------------------- */

typedef enum { BYTES, INT64, UINT64 } item_kind;

/* Borrow ``obj``'s buffer, C-contiguous, holding items of ``kind`` (native 8-byte integers
 * aligned for direct access), writable if asked.  Returns 0, or -1 with an exception set. */
static int
get_buffer(PyObject *obj, Py_buffer *view, item_kind kind, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    const char *format = view->format != NULL ? view->format : "B";
    if (*format == '@' || *format == '=') {
        format++;
    }
    int ok;
    if (kind == BYTES) {
        ok = view->itemsize == 1;
    }
    else {
        const char *codes = kind == INT64 ? "lq" : "LQ";
        ok = view->itemsize == 8 && format[0] != '\0' && format[1] == '\0'
             && strchr(codes, format[0]) != NULL
             && (uintptr_t)view->buf % _Alignof(int64_t) == 0;
    }
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s must be a contiguous, aligned array of %s", name,
                     kind == BYTES ? "bytes" : (kind == INT64 ? "int64" : "uint64"));
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int
overlaps(const Py_buffer *a, const Py_buffer *b)
{
    const char *a0 = a->buf, *b0 = b->buf;
    return a->len > 0 && b->len > 0 && a0 < b0 + b->len && b0 < a0 + a->len;
}

static inline uint32_t
load_u32(const unsigned char *at, int big_endian)
{
    if (big_endian) {
        return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
    }
    return (uint32_t)at[3] << 24 | (uint32_t)at[2] << 16 | (uint32_t)at[1] << 8 | at[0];
}

/* --- record walkers --------------------------------------------------------------------- */

/* Where the record at ``pos`` ends, or -1 when it is not a complete (plausible) record. */
typedef Py_ssize_t (*record_end_fn)(const unsigned char *bytes, Py_ssize_t pos,
                                    Py_ssize_t end, int big_endian);

static Py_ssize_t
pcap_record_end(const unsigned char *bytes, Py_ssize_t pos, Py_ssize_t end, int big_endian)
{
    if (end - pos < (Py_ssize_t)PCAP_RECORD_HEADER) {
        return -1;
    }
    uint64_t after = (uint64_t)pos + PCAP_RECORD_HEADER + load_u32(bytes + pos + 8, big_endian);
    return after > (uint64_t)end ? -1 : (Py_ssize_t)after;
}

static Py_ssize_t
pcapng_epb_end(const unsigned char *bytes, Py_ssize_t pos, Py_ssize_t end, int big_endian)
{
    if (end - pos < 8) {
        return -1;
    }
    uint32_t type = load_u32(bytes + pos, big_endian);
    uint32_t size = load_u32(bytes + pos + 4, big_endian);
    if (type != PCAPNG_BLOCK_EPB || size < PCAPNG_EPB_MIN || (size & 3u)
            || size > PCAPNG_MAX_BLOCK || (Py_ssize_t)size > end - pos) {
        return -1;
    }
    return pos + (Py_ssize_t)size;
}

/* (data, out, pos, end, big_endian) -> (count, stop): the offsets of consecutive records. */
static PyObject *
walk(PyObject *args, record_end_fn record_end)
{
    PyObject *data, *out;
    Py_ssize_t pos, end, count = 0;
    int big_endian;
    Py_buffer data_view, out_view;
    if (!PyArg_ParseTuple(args, "OOnnp", &data, &out, &pos, &end, &big_endian)) {
        return NULL;
    }
    if (get_buffer(data, &data_view, BYTES, 0, "data") < 0) {
        return NULL;
    }
    if (get_buffer(out, &out_view, INT64, 1, "out") < 0) {
        PyBuffer_Release(&data_view);
        return NULL;
    }
    if (pos < 0 || end < pos || end > data_view.len) {
        PyErr_SetString(PyExc_ValueError, "walk range outside the buffer");
        PyBuffer_Release(&out_view);
        PyBuffer_Release(&data_view);
        return NULL;
    }
    const unsigned char *bytes = data_view.buf;
    int64_t *offsets = out_view.buf;
    Py_ssize_t capacity = out_view.len / 8;
    Py_BEGIN_ALLOW_THREADS
    while (count < capacity) {
        Py_ssize_t after = record_end(bytes, pos, end, big_endian);
        if (after < 0) {
            break;
        }
        offsets[count++] = pos;
        pos = after;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&data_view);
    return Py_BuildValue("nn", count, pos);
}

PyDoc_STRVAR(pcap_records_doc,
"pcap_records(data, out, pos, end, big_endian) -> (count, stop)\n\n"
"Offsets of the complete classic-pcap records in data[pos:end], written to the int64\n"
"array out (at most its length); stop is where the walk ended.");

static PyObject *
pcap_records(PyObject *module, PyObject *args)
{
    return walk(args, pcap_record_end);
}

PyDoc_STRVAR(pcapng_epbs_doc,
"pcapng_epbs(data, out, pos, end, big_endian) -> (count, stop)\n\n"
"Offsets of consecutive, complete, plausible enhanced packet blocks in data[pos:end],\n"
"written to the int64 array out (at most its length); stop is the first other block.");

static PyObject *
pcapng_epbs(PyObject *module, PyObject *args)
{
    return walk(args, pcapng_epb_end);
}

/* --- gather ----------------------------------------------------------------------------- */

PyDoc_STRVAR(gather_doc,
"gather(data, starts, width, out)\n\n"
"Copy the width bytes at each int64 offset in starts from data into the rows of out\n"
"(len(starts) * width bytes, not overlapping data).  IndexError, with out untouched, if a\n"
"window does not lie inside data.");

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
    if (get_buffer(data, &data_view, BYTES, 0, "data") < 0) {
        return NULL;
    }
    if (get_buffer(starts, &starts_view, INT64, 0, "starts") < 0) {
        PyBuffer_Release(&data_view);
        return NULL;
    }
    if (get_buffer(out, &out_view, BYTES, 1, "out") < 0) {
        PyBuffer_Release(&starts_view);
        PyBuffer_Release(&data_view);
        return NULL;
    }
    Py_ssize_t count = starts_view.len / 8;
    const int64_t *at = starts_view.buf;
    Py_ssize_t last = data_view.len - width; /* the last start whose window fits */
    Py_ssize_t bad = -1;
    if (count > PY_SSIZE_T_MAX / width || out_view.len != count * width) {
        PyErr_SetString(PyExc_ValueError, "out must hold len(starts) * width bytes");
    }
    else if (overlaps(&out_view, &data_view)) {
        PyErr_SetString(PyExc_ValueError, "out must not overlap data");
    }
    else {
        for (Py_ssize_t row = 0; row < count; row++) { /* check all before copying any */
            if (at[row] < 0 || at[row] > last) {
                bad = row;
                break;
            }
        }
        if (bad >= 0) {
            PyErr_Format(PyExc_IndexError, "window at %lld (width %zd) outside a %zd-byte buffer",
                         (long long)at[bad], width, data_view.len);
        }
        else {
            const unsigned char *from = data_view.buf;
            unsigned char *to = out_view.buf;
            Py_BEGIN_ALLOW_THREADS
            for (Py_ssize_t row = 0; row < count; row++) {
                int64_t start = at[row]; /* read once: checked above, checked again here */
                if (start < 0 || start > last) {
                    break;
                }
                memcpy(to + row * width, from + start, (size_t)width);
            }
            Py_END_ALLOW_THREADS
        }
    }
    int failed = PyErr_Occurred() != NULL;
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&starts_view);
    PyBuffer_Release(&data_view);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* --- text columns ----------------------------------------------------------------------- */

PyDoc_STRVAR(payload_texts_doc,
"payload_texts(matrix, lengths, width) -> list[str]\n\n"
"Row i of the uint8 matrix (len(lengths) rows of width bytes) as text: its first\n"
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
    if (width <= 0) {
        PyErr_SetString(PyExc_ValueError, "width must be positive");
        return NULL;
    }
    if (get_buffer(lengths, &lengths_view, INT64, 0, "lengths") < 0) {
        return NULL;
    }
    if (get_buffer(matrix, &rows_view, BYTES, 0, "matrix") < 0) {
        PyBuffer_Release(&lengths_view);
        return NULL;
    }
    Py_ssize_t count = lengths_view.len / 8;
    if (count > PY_SSIZE_T_MAX / width || rows_view.len != count * width) {
        PyErr_SetString(PyExc_ValueError, "matrix must hold len(lengths) * width bytes");
    }
    else {
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
    }
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
    if (get_buffer(arg, &view, UINT64, 0, "keys") < 0) {
        return NULL;
    }
    Py_ssize_t count = view.len / 8;
    const uint64_t *keys = view.buf;
    PyObject *result = PyList_New(count);
    static const char val[] = "nop,nop,TS val ";
    static const char ecr[] = " ecr ";
    char text[64]; /* at most 15 + 10 + 5 + 10 bytes */
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

/* --- module ----------------------------------------------------------------------------- */

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
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED}, /* no shared state: every call works on its arguments */
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
