"""Document retrieval: the :class:`Retriever` protocol and the embedded BM25 retriever.

The embedded retriever chunks each document by words (``chunk_size`` words with
``chunk_overlap`` words shared between neighbours; the title leads every chunk) and ranks chunks
with BM25 from ``bm25s``. The index is built once per (document set, chunking) and cached by
content hash, because thousands of runs reuse the same corpus.

Plug in your own retriever (embeddings, pgvector, a hosted vector database) by registering a
factory that takes the task's documents and the system's params::

    from baton.runners import Chunk, register_retriever

    @register_retriever("my_vectors")
    def make(documents, params):
        return MyRetriever(documents, collection=params["collection"])  # has retrieve(query, k)

and select it with ``params = {retriever = "my_vectors"}`` in the system configuration (a
``module:function`` target works too, and so does the ``baton.retrievers`` entry-point group).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from baton.errors import BatonError, ConfigError
from baton.registry import Registry
from baton.task import Document

DEFAULT_CHUNK_SIZE = 80
DEFAULT_CHUNK_OVERLAP = 20
DEFAULT_TOP_K = 4
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieved passage: which document it comes from, its text, its score."""

    doc_id: str
    text: str
    score: float = 0.0
    whole: bool = False  # the whole document, passed on by parent-document expansion

    def as_dict(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "text": self.text, "score": round(float(self.score), 4)}


@runtime_checkable
class Retriever(Protocol):
    """Ranks passages of a document set for a query."""

    def retrieve(self, query: str, k: int) -> list[Chunk]: ...


RetrieverFactory = Callable[[Sequence[Document], Mapping[str, Any]], Retriever]

RETRIEVERS: Registry[RetrieverFactory] = Registry("retriever", "baton.retrievers")
register_retriever = RETRIEVERS.register


def chunk_document(doc: Document, chunk_size: int, overlap: int) -> list[Chunk]:
    """Split ``doc`` into word windows; each chunk starts with the document's title."""
    words = _WORD.findall(doc.text)
    if not words:
        return [Chunk(doc.id, doc.title)]
    step = max(1, chunk_size - overlap)
    chunks = []
    for start in range(0, len(words), step):
        window = words[start:start + chunk_size]
        chunks.append(Chunk(doc.id, f"{doc.title}: {' '.join(window)}"))
        if start + chunk_size >= len(words):
            break
    return chunks


class BM25Retriever:
    """BM25 over word-window chunks of a document set (``bm25s``)."""

    def __init__(self, documents: Sequence[Document], *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 chunk_overlap: int = DEFAULT_CHUNK_OVERLAP) -> None:
        import bm25s

        if chunk_size < 1 or not 0 <= chunk_overlap < chunk_size:
            raise ConfigError(f"retriever: expected chunk_size >= 1 and 0 <= chunk_overlap < chunk_size, "
                              f"got chunk_size={chunk_size}, chunk_overlap={chunk_overlap}")
        self._bm25s = bm25s
        self.chunks = [c for doc in documents for c in chunk_document(doc, chunk_size, chunk_overlap)]
        self._index = bm25s.BM25()
        if self.chunks:
            tokens = bm25s.tokenize([c.text for c in self.chunks], stopwords="en", show_progress=False)
            self._index.index(tokens, show_progress=False)
            self._vocab = set(tokens.vocab)
        else:
            self._vocab = set()

    def retrieve(self, query: str, k: int) -> list[Chunk]:
        tokens = self._bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
        tokens = [t for t in tokens if t in self._vocab]
        if not tokens or not self.chunks or k < 1:
            return []
        ids, scores = self._index.retrieve([tokens], k=min(k, len(self.chunks)), show_progress=False)
        return [Chunk(self.chunks[i].doc_id, self.chunks[i].text, float(s))
                for i, s in zip(ids[0], scores[0]) if s > 0]


class _IndexCache:
    """A bounded, thread-safe cache of built retrievers keyed by content hash."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[str, Retriever] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, key: str, build: Callable[[], Retriever]) -> Retriever:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        built = build()
        with self._lock:
            self._items[key] = built
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return built


_BM25_CACHE = _IndexCache()


def corpus_hash(documents: Sequence[Document], *extra: object) -> str:
    digest = hashlib.sha256()
    for doc in documents:
        for part in (doc.id, doc.title, doc.text):
            digest.update(part.encode())
            digest.update(b"\0")
    digest.update(repr(extra).encode())
    return digest.hexdigest()


@register_retriever("bm25")
def bm25_retriever(documents: Sequence[Document], params: Mapping[str, Any]) -> Retriever:
    """The embedded retriever; params ``chunk_size`` and ``chunk_overlap`` (words)."""
    size = _int_param(params, "chunk_size", DEFAULT_CHUNK_SIZE)
    overlap = _int_param(params, "chunk_overlap", DEFAULT_CHUNK_OVERLAP)
    key = corpus_hash(documents, size, overlap)
    return _BM25_CACHE.get_or_build(key, lambda: BM25Retriever(documents, chunk_size=size, chunk_overlap=overlap))


def retriever_factory(params: Mapping[str, Any]) -> RetrieverFactory:
    """The factory of the retriever ``params['retriever']`` names (default ``bm25``); a
    :class:`ConfigError` naming ``params.retriever`` when there is none."""
    name = params.get("retriever", "bm25")
    if not isinstance(name, str):
        raise ConfigError(f"params.retriever: expected a retriever name or 'module:function', got {name!r}")
    try:
        return RETRIEVERS.get(name)
    except ConfigError as exc:
        raise ConfigError(f"params.retriever: {exc}") from None


def make_retriever(documents: Sequence[Document], params: Mapping[str, Any]) -> Retriever:
    """The retriever ``params['retriever']`` names (default ``bm25``) over ``documents``."""
    name = params.get("retriever", "bm25")
    retriever = retriever_factory(params)(documents, params)
    if not isinstance(retriever, Retriever):
        raise ConfigError(f"retriever {name!r}: its factory returned {type(retriever).__name__}, "
                          "which has no retrieve(query, k) method")
    return retriever


def top_k(params: Mapping[str, Any]) -> int:
    return _int_param(params, "top_k", DEFAULT_TOP_K)


def _int_param(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"params.{name}: expected an integer, got {value!r}")
    return value


def ranked_doc_ids(chunks: Sequence[Chunk]) -> list[str]:
    """Document ids in the rank order of their best chunk."""
    return list(dict.fromkeys(c.doc_id for c in chunks))


def rank_documents(chunks: Sequence[Chunk]) -> list[str]:
    """Document ids by the total score of their chunks among ``chunks`` (highest first; ties in
    order of first appearance): a document relevant all through outranks one with a single
    lucky window."""
    totals: dict[str, float] = {}
    for chunk in chunks:
        totals[chunk.doc_id] = totals.get(chunk.doc_id, 0.0) + max(0.0, float(chunk.score))
    return sorted(totals, key=lambda d: -totals[d])


def with_whole_documents(chunks: Sequence[Chunk], documents: Sequence[Document],
                         whole: Sequence[str]) -> list[Chunk]:
    """Parent-document expansion ("small-to-big"): the documents named in ``whole`` first, each
    as one passage holding all its text, then the chunks of the other documents in rank order.
    An id that names no document of the set (an external index's) is left as its chunks."""
    by_id = {d.id: d for d in documents}
    expanded = [by_id[d] for d in dict.fromkeys(whole) if d in by_id]
    best = {c.doc_id: c.score for c in reversed(chunks)}
    out = [Chunk(d.id, f"{d.title}: {' '.join(_WORD.findall(d.text))}", best.get(d.id, 0.0), whole=True)
           for d in expanded]
    ids = {d.id for d in expanded}
    return out + [c for c in chunks if c.doc_id not in ids]


def combine_passes(passes: Sequence[Sequence[Chunk]]) -> list[Chunk]:
    """The passages of several retrieval passes in pass order, none twice and none of a document
    an earlier pass already passed whole: a follow-up pass only adds what the earlier ones missed."""
    out: list[Chunk] = []
    whole: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for chunks in passes:
        for chunk in chunks:
            if chunk.doc_id in whole or (chunk.doc_id, chunk.text) in seen:
                continue
            out.append(chunk)
            seen.add((chunk.doc_id, chunk.text))
        whole |= {c.doc_id for c in chunks if c.whole}
    return out


def record_query(records: Sequence[Mapping[str, Any]]) -> str:
    """The words of looked-up records (field names and values) as a retrieval query: what a
    pipeline asks its documents once it knows the case (the rules for this record's type, tier
    and status)."""
    words: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                words.append(str(key).replace("_", " "))
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif value is not None and not isinstance(value, bool):
            words.append(str(value))

    for record in records:
        walk(record)
    return " ".join(words)


def search(documents: Sequence[Document], params: Mapping[str, Any], query: str,
           k: int) -> tuple[list[Chunk], str | None, float]:
    """One retrieval pass with the system's retriever: (chunks, error, seconds). A retriever that
    fails at run time (a hosted index down) is the system's failure, returned as ``error``; a
    misconfigured one raises :class:`ConfigError`."""
    started = time.perf_counter()
    retriever = make_retriever(documents, params)
    try:
        chunks = list(retriever.retrieve(query, k))
    except BatonError:
        raise
    except Exception as exc:
        return [], f"retriever failed: {type(exc).__name__}: {exc}", time.perf_counter() - started
    return chunks, None, time.perf_counter() - started
