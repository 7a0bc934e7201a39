#!/usr/bin/env python3
"""SMTP sink for tests/smtp_real.rs: a real aiosmtpd server.

Usage: smtp_server.py OUTDIR PORT HOST [HOST...]

Listens on every HOST:PORT and saves each accepted message as OUTDIR/<n>.eml
(the DATA content as received, dot-unstuffed by aiosmtpd) next to
OUTDIR/<n>.env (line 1: MAIL FROM, line 2: the EHLO/HELO name, then one line
per accepted RCPT TO). The .env file is written first and the .eml renamed
into place last, so a present .eml means both are complete. RCPT TO
addresses starting with "refuse" get a 550. Prints READY once listening;
exits on SIGTERM/SIGINT.
"""
import asyncio
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 <%s>: refused by the test server" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, str(self.count))
        with open(base + ".env", "w") as f:
            f.write("%s\n%s\n" % (envelope.mail_from, session.host_name))
            for r in envelope.rcpt_tos:
                f.write(r + "\n")
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 OK: saved as %d" % self.count


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    outdir, port, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    sink = Sink(outdir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # A fixed host name: socket.getfqdn() could wait on DNS in a namespace.
    factory = lambda: SMTP(sink, hostname="mx.test.example")
    server = loop.run_until_complete(loop.create_server(factory, host=hosts, port=port))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print("READY", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
