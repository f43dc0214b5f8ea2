"""The SMS channel: one message per recipient, text that fits one SMS (text.sms_text), through
one of two providers:

- Twilio-compatible REST: `POST {url}/2010-04-01/Accounts/{account}/Messages.json` with the
  form fields To, From, Body and Basic auth account:secret. 2xx ok; 408, 429, 5xx and no answer
  retried; any other 4xx (a wrong token, a number the provider refuses) permanent.
- Kannel's sendsms: `GET {url}?username=account&password=secret&from&to&text&charset=UTF-8&
  coding=0|2` (`url` is the sendsms URL; a bare http://host:port gets /cgi-bin/sendsms). It
  answers 202 "0: Accepted for delivery"; a wrong username or password gets 403
  "Authorization failed for sendsms" (permanent).

Several recipients are sent to at once. A recipient that got the message is remembered (by
notification id, in this process), so a retry after a partial failure sends only to the ones
still missing it. The outcome is ok when every recipient got it; permanent when a recipient
was refused for good and no other one is worth retrying."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from dataclasses import replace
from functools import partial
from urllib.parse import quote, quote_plus, urlsplit

from server.alerts.model import Channel, Notification, SmsConfig, SmsProvider
from server.alerts.senders import Sender, SendResult, http
from server.alerts.senders.text import is_gsm7, one_line, sms_text

SMS_TIMEOUT_S = 10.0
TWILIO_API = "/2010-04-01/Accounts/{account}/Messages.json"
KANNEL_PATH = "/cgi-bin/sendsms"
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
# (notification id, recipient) pairs already delivered by this process (bounded).
_DELIVERED: OrderedDict[tuple[str, str], None] = OrderedDict()
_DELIVERED_MAX = 10_000


def sms_sender(*, timeout_s: float = SMS_TIMEOUT_S) -> Sender:
    """The SMS Sender for the delivery worker."""
    return partial(send_sms, timeout_s=timeout_s)


async def send_sms(
    channel: Channel, notification: Notification, *, timeout_s: float = SMS_TIMEOUT_S
) -> SendResult:
    """Send the notification's SMS to every recipient of the channel; never raises for a failed
    delivery."""
    config = channel.config
    if not isinstance(config, SmsConfig):
        return SendResult(False, error="the channel is not an SMS channel", permanent=True)
    if not config.to:
        return SendResult(False, error="the channel has no recipients", permanent=True)
    if not _ACCOUNT.match(config.account):
        return SendResult(
            False,
            error="the channel's account (Twilio account SID or Kannel username) is not valid",
            permanent=True,
        )
    text = sms_text(notification.payload)
    pending = [to for to in dict.fromkeys(config.to) if (notification.id, to) not in _DELIVERED]
    send = _twilio if config.provider is SmsProvider.TWILIO else _kannel
    results = await asyncio.gather(
        *(send(config, channel.secret, to, text, timeout_s) for to in pending)
    )
    for to, result in zip(pending, results, strict=True):
        if result.ok:
            _remember(notification.id, to)
    return _combine(config, dict(zip(pending, results, strict=True)))


def _remember(notification_id: str, to: str) -> None:
    _DELIVERED[(notification_id, to)] = None
    while len(_DELIVERED) > _DELIVERED_MAX:
        _DELIVERED.popitem(last=False)


def _combine(config: SmsConfig, results: dict[str, SendResult]) -> SendResult:
    """One outcome for the recipients' results."""
    provider = "Twilio" if config.provider is SmsProvider.TWILIO else "Kannel"
    done = len(config.to) - len(results) + sum(r.ok for r in results.values())
    failed = {to: r for to, r in results.items() if not r.ok}
    response = one_line(
        "; ".join(f"{to}: {r.response or r.error}" for to, r in results.items()), 1000
    )
    if not failed:
        code = max((r.response_code for r in results.values()), default=0)
        return SendResult(True, code, response or "already delivered to every recipient")
    code = max(r.response_code for r in failed.values())
    reasons = "; ".join(f"{to}: {r.error}" for to, r in failed.items())
    sentence = (
        f"{provider} did not take the SMS for {len(failed)} of {len(config.to)} recipients"
        f" ({reasons})"
    )
    if done:
        sentence += f"; {done} got it"
    # Permanent when nothing would change by retrying: every failure was a refusal.
    permanent = all(r.permanent for r in failed.values())
    return SendResult(False, code, response, one_line(sentence, 1000), permanent)


def _twilio_url(base: str, account: str) -> str:
    return base.rstrip("/") + TWILIO_API.format(account=quote(account, safe=""))


async def _twilio(
    config: SmsConfig, token: str, to: str, text: str, timeout_s: float
) -> SendResult:
    answer = await http.post(
        _twilio_url(config.url, config.account),
        timeout_s=timeout_s,
        data={"To": to, "From": config.from_number, "Body": text},
        auth=(config.account, token),
        headers={"Accept": "application/json"},
    )
    return _with_sentence(http.outcome(answer, "the SMS provider"), answer)


def kannel_url(url: str) -> str:
    """The sendsms URL of a channel's Kannel URL (a bare host:port gets /cgi-bin/sendsms)."""
    return url.rstrip("/") + KANNEL_PATH if urlsplit(url).path in ("", "/") else url


async def _kannel(
    config: SmsConfig, password: str, to: str, text: str, timeout_s: float
) -> SendResult:
    params = {
        "username": config.account,
        "password": password,
        "from": config.from_number,
        "to": to,
        "text": text,
        "charset": "UTF-8",
        # 0: GSM-7 (160 characters), 2: UCS-2 (70), as text.fit_sms measured it.
        "coding": "0" if is_gsm7(text) else "2",
    }
    answer = await http.get(kannel_url(config.url), timeout_s=timeout_s, params=params)
    result = http.outcome(answer, "Kannel")
    if answer.status == 403:
        return SendResult(
            False,
            403,
            answer.text,
            f"Kannel refused the username or password ({one_line(answer.text, 200)})",
            permanent=True,
        )
    return _without(password, _with_sentence(result, answer))


def _without(secret: str, result: SendResult) -> SendResult:
    """The result with the secret (sent in Kannel's query string) blanked wherever an error
    message might have quoted the URL: the delivery log shows errors to operators."""
    if not secret:
        return result
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}

    def clean(text: str) -> str:
        for form in forms:
            text = text.replace(form, "***")
        return text

    return replace(result, response=clean(result.response), error=clean(result.error))


def _with_sentence(result: SendResult, answer: http.HttpAnswer) -> SendResult:
    """The outcome with the provider's own words added to its error."""
    if result.ok or not answer.body:
        return result
    said = one_line(answer.text, 300)
    return SendResult(
        False, result.response_code, result.response, f"{result.error}: {said}", result.permanent
    )
