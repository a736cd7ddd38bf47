"""The numpy array types the package's annotations use, named once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
"""Integers: timestamps in ns, offsets, sequence numbers, row positions."""
U8 = npt.NDArray[np.uint8]
"""Bytes: a file's buffer, header fields."""
U64 = npt.NDArray[np.uint64]
"""Unsigned keys (TCP timestamp option pairs)."""
Obj = npt.NDArray[np.object_]
"""Python objects, mostly text."""
Bool = npt.NDArray[np.bool_]
"""Masks."""
