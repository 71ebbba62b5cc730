"""Property: any interleaving of writes, outages, unknown commits and restarts ends with
exactly the rows written in the database, once each, and nothing left on disk."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.store.rows import Row
from acd.store.writer import RowWriter
from tests.store.conftest import TABLES
from tests.store.helpers import KINDS, db_rows, eventually, expected, fast_writer, make_row
from tests.store.proxy import TcpProxy

Op = tuple[object, ...]


def _writer(proxy: TcpProxy, dsn: str, folder: Path) -> RowWriter:
    return fast_writer(proxy.dsn(dsn), folder, batch_size=17, max_memory_rows=40,
                       connect_timeout=0.5, retry_max=0.05)


OPS = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(KINDS), st.integers(1, 60)),
    st.just(("down",)),
    st.just(("up",)),
    st.tuples(st.just("pause"), st.sampled_from([0.0, 0.01, 0.05, 0.15])),
    st.just(("stall",)),
    st.just(("restart",)),
    st.just(("cut_commit",)),
)

EXAMPLES = int(os.environ.get("ACD_PROPERTY_EXAMPLES", "20"))


async def _scenario(dsn: str, ops: list[Op]) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"TRUNCATE {', '.join(TABLES)}")
    await conn.close()
    proxy = TcpProxy.for_dsn(dsn)
    await proxy.up()
    try:
        with tempfile.TemporaryDirectory() as d:
            folder = Path(d)

            w = _writer(proxy, dsn, folder)
            await w.start()
            written: list[Row] = []
            for op in ops:
                match op:
                    case ("write", str(kind), int(count)):
                        for _ in range(count):
                            row = make_row(kind, len(written))
                            written.append(row)
                            w.write(row)
                    case ("down",):
                        await proxy.down()
                    case ("up",):
                        proxy.stall = False
                        await proxy.up()
                    case ("stall",):
                        proxy.stall = True  # new connections hang unanswered
                    case ("pause", float(seconds)):
                        await asyncio.sleep(seconds)
                    case ("restart",):
                        await w.stop()
                        w = _writer(proxy, dsn, folder)
                        await w.start()
                    case ("cut_commit",):
                        proxy.cut_on_commit = True
                    case _:
                        raise AssertionError(f"unknown op {op}")
            proxy.cut_on_commit = False
            proxy.stall = False
            while proxy.cuts_in_progress:
                await asyncio.sleep(0.02)
            await proxy.up()
            await w.flush(timeout=20)

            async def spool_empty() -> bool:
                return not list(folder.glob("spool-*.jsonl"))

            await eventually(spool_empty, what="the spool replayed")
            await w.stop()
            assert sorted(p.name for p in folder.iterdir()) == []
            assert await db_rows(dsn) == expected(written)
    finally:
        await proxy.close()


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=16))
def test_any_interleaving_writes_each_row_exactly_once(store_dsn: str, ops: list[Op]) -> None:
    asyncio.run(_scenario(store_dsn, ops))
