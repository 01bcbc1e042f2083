"""The baseline of bench/conversation.py in webhook mode: a bare python-telegram-bot echo bot.

    .venv/bin/python bench/echo_webhook.py --port 8099 --token T --api-url http://127.0.0.1:N \\
        --secret S

Takes updates at POST /webhook the way `kassa webhook` does (the secret-token header checked,
the body parsed into an Update, process_update awaited before the answer) and says each text
back through the Bot API at --api-url, with the same HTTP client as Kassa (aiohttp, 64
connections: bot/telegram_request.py), handling updates concurrently, on the event loop
--event-loop names (uvloop as `kassa webhook` runs by default, or asyncio). Prints "ready"
once listening; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import signal
import sys
from pathlib import Path

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import event_loop
from bot.app import BOT_API_CONNECTIONS
from bot.emulator.webhook import SECRET_HEADER
from bot.telegram_request import AiohttpRequest


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say back what was said: the cheapest handler there is."""
    if update.effective_message is not None and update.effective_message.text:
        await update.effective_message.reply_text(update.effective_message.text)


async def serve(args: argparse.Namespace) -> None:
    application = (Application.builder().token(args.token).base_url(f"{args.api_url}/bot")
                   .request(AiohttpRequest(BOT_API_CONNECTIONS)).updater(None)
                   .concurrent_updates(True).build())
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), args.secret.encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
        data = json.loads(await request.read())
        await application.process_update(Update.de_json(data, application.bot))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhook", receive)
    runner = web.AppRunner(app, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with application:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        print("ready", flush=True)
        await stop.wait()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--event-loop", choices=event_loop.EVENT_LOOPS, default="uvloop")
    arguments = parser.parse_args()
    event_loop.run(serve(arguments), arguments.event_loop)
