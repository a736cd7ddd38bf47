/*
 * Record walkers for pcap and pcapng: the one sequential step of the reader.
 *
 * Each record header says how far away the next one is, so finding where records start cannot
 * be vectorised.  These loops only record offsets; every field is then read with numpy.  They
 * match the pure-Python walkers in walk.py exactly (the tests compare the two) and are an
 * optional speed-up: without a C compiler the package installs and uses those instead.
 *
 * Both functions take the window's bytes, a writable int64 buffer for the offsets, the range
 * [pos, end) to walk and the file's byte order, and return (offsets written, stop offset).
 * Nothing is read at or after ``end``, whatever a length field claims.
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

static PyMethodDef walk_methods[] = {
    {"pcap_records", pcap_records, METH_VARARGS, pcap_records_doc},
    {"pcapng_epbs", pcapng_epbs, METH_VARARGS, pcapng_epbs_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot walk_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef walk_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tcptrace_viz.pcap._walk",
    .m_doc = "Compiled record walkers for pcap and pcapng (see walk.py).",
    .m_size = 0,
    .m_methods = walk_methods,
    .m_slots = walk_slots,
};

PyMODINIT_FUNC
PyInit__walk(void)
{
    return PyModuleDef_Init(&walk_module);
}
