#!/usr/bin/python3
"""latency_proxy.py - a TCP forwarder adding a fixed one-way delay in each direction.

   latency_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS [LISTEN_HOST [TARGET_HOST]]

Used by bench_remote.sh when tc netem is not available (kernels without sch_netem):
every chunk read from one side is written to the other DELAY_MS later, in order, so
a request/response round trip costs 2 x DELAY_MS like a netem delay on both veth
ends. Bandwidth is not limited. Prints "ready" once listening. Hosts default to
127.0.0.1 (tests/netns/lib.sh's nn_latency runs it on a namespace host's address)."""
import asyncio
import sys


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(1 << 20)
            if not data:
                break
            loop.call_later(delay, writer.write, data)
            # keep our own buffer bounded: wait if the peer is slow
            if writer.transport.get_write_buffer_size() > (64 << 20):
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    loop.call_later(delay, writer.close)


async def handle(cr, cw, thost, target, delay):
    try:
        ur, uw = await asyncio.open_connection(thost, target)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, uw, delay), pump(ur, cw, delay))


async def main():
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0
    lhost = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    thost = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"
    srv = await asyncio.start_server(lambda r, w: handle(r, w, thost, target, delay), lhost, listen)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
