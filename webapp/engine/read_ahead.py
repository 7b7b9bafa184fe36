"""Reading the next page while this one is written: one reader thread, at most two pages in memory."""

import queue
import threading
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

Page = TypeVar("Page")

READER_JOIN_SECONDS = 5  # a reader stopped early is waited for this long; it is a daemon thread after that
_DONE = object()


class ReadAhead(Generic[Page]):
    """Iterate over `pages` (an iterator of lists) with the next page read in a thread while the caller works on
    this one. `pages_in_memory` pages are out at most: the one the caller holds and the ones being read; the
    reader asks for the next only when the caller has finished with an earlier one. An exception of the reader
    is raised to the caller after the pages before it, so a read that fails is seen as failed, never as ended."""

    def __init__(self, pages: Iterator[Page], pages_in_memory: int = 2) -> None:
        self.pages = pages
        self.slots = threading.Semaphore(pages_in_memory)
        self.ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, name="group-reader", daemon=True)

    def _read(self) -> None:
        try:
            while True:
                self.slots.acquire()
                if self.stopped.is_set():
                    return
                page = next(self.pages, _DONE)
                self.ready.put(page)
                if page is _DONE:
                    return
        except BaseException as exc:  # handed to the caller, who raises it
            self.ready.put(exc)
        finally:
            close = getattr(self.pages, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[Page]:
        self.thread.start()
        try:
            while True:
                item = self.ready.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
                self.slots.release()  # the caller is done with this page: the reader may fetch another
        finally:
            self.stopped.set()
            self.slots.release()
            self.thread.join(READER_JOIN_SECONDS)
