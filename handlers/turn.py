"""One update inside a booking: the person's flow, what they pressed or typed, how to answer.

The conversation's router (handlers/conversation.py) makes a Turn once per update, after the
checks every step shares (is this button from the current card of the current booking?),
so each step only says what its answer changes and which step comes next.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update

from booking.errors import BookingError
from handlers.booking_cards import render
from handlers.cards import Card, answer_query, drop_buttons, show
from handlers.context import KassaContext, Services
from handlers.errors import error_text
from handlers.flow import PREVIOUS, Flow, Step, save_flow
from locales import Texts


@dataclass
class Turn:
    update: Update
    context: KassaContext
    flow: Flow
    argument: str = ""  # what the pressed button carries ("" for typed text)
    answered: bool = False

    @property
    def texts(self) -> Texts:
        return self.context.texts

    @property
    def services(self) -> Services:
        return self.context.services

    @property
    def user_id(self) -> int:
        user = self.update.effective_user
        if user is None:  # the router only makes turns for updates from a person
            raise RuntimeError("a turn without a user")
        return user.id

    @property
    def text(self) -> str:
        message = self.update.effective_message
        return (message.text or "").strip() if message else ""

    @property
    def number(self) -> int | None:
        """The pressed button's argument as a number (a page, a trip, a count)."""
        return int(self.argument) if self.argument.isdigit() else None

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Stop the pressed button's spinner, with a notice if given (once per turn)."""
        if not self.answered:
            self.answered = True
            await answer_query(self.update, text, alert=alert)

    async def go(self, step: Step, notice: str | None = None, *,
                 new_message: bool = False) -> None:
        """Move to ``step`` and show its card: edited in place for a press, new for text.

        If booking/ refuses what the step needs (a trip that has just left, say), the
        person goes back a step and reads why.
        """
        self.flow.step = step
        while True:
            try:
                card = await render(self.context, self.flow, notice)
                break
            except BookingError as error:
                # The answer that led here no longer holds: drop it and step back.
                self.flow.step = PREVIOUS.get(self.flow.step, Step.ORIGIN)
                self.flow.forget_from(self.flow.step)
                notice = error_text(self.texts, error)
        await self.show(card, new_message=new_message)

    async def show(self, card: Card, *, new_message: bool = False) -> None:
        """Show the card as the flow's card: the old one edited, or replaced by a new one
        whose predecessor loses its buttons."""
        query = self.update.callback_query
        on_card = (not new_message and query is not None
                   and isinstance(query.message, Message)
                   and query.message.message_id == self.flow.card)
        message = await show(self.update, self.context, card, edit=on_card)
        if message.message_id != self.flow.card:
            chat = self.update.effective_chat
            if chat is not None:
                await drop_buttons(self.context, chat.id, self.flow.card)
            self.flow.card = message.message_id
        self.flow.paused = False
        save_flow(self.context, self.flow)
