"""What every asyncio shell of a pure core shares: callers' messages in, notes out, a paced loop.

`LiveFleet` (coilyard/live.py) and `LiveYard` (coilyard/live_yard.py) drive different cores, but both take
messages from callers through one queue (each answered with the core's effects or its error), hand notes to
subscribers, and run `step()` every `poll_interval` until stopped. Only `step` and `now` differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from typing import Any, Generic, TypeVar

CommandT = TypeVar("CommandT")
NoteT = TypeVar("NoteT")


class AsyncShell(Generic[CommandT, NoteT]):
    def __init__(self, *, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._commands: asyncio.Queue[tuple[CommandT, asyncio.Future[list[Any]]]] = asyncio.Queue()
        self._subscribers: list[asyncio.Queue[NoteT]] = []
        self._stopping = asyncio.Event()

    async def submit(self, command: CommandT) -> list[Any]:
        """Hand a message to the core; returns its effects, or raises its error (nothing changed)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        await self._commands.put((command, future))
        return await future

    def subscribe(self) -> asyncio.Queue[NoteT]:
        """A queue that receives every note from now on."""
        queue: asyncio.Queue[NoteT] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        # What was built at start-up (plant graphs, router, core) lives as long as the shell: keep full
        # garbage collections from walking it again and again (a pause of ~100 ms on a large plant).
        gc.collect()  # not to freeze garbage along with it
        gc.freeze()
        while not self._stopping.is_set():
            self.step()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._stopping.wait()

    def step(self) -> None:
        raise NotImplementedError

    def _take_commands(
        self, handle: Callable[[CommandT], list[Any]], apply: Callable[[list[Any]], None]
    ) -> bool:
        """Pass waiting callers' messages to `handle`, `apply` the effects, answer each caller; True if any."""
        took = False
        while not self._commands.empty():
            command, future = self._commands.get_nowait()
            took = True
            try:
                effects = handle(command)
            except Exception as error:  # the core refused it and changed nothing: tell the caller
                if not future.done():
                    future.set_exception(error)
                continue
            apply(effects)
            if not future.done():
                future.set_result(effects)
        return took

    def _notify(self, note: NoteT) -> None:
        for queue in self._subscribers:
            queue.put_nowait(note)
