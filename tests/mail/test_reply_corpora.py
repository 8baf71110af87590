# Quote headers in Cyrillic and CJK hold letters that look like Latin ones:
# ruff: noqa: RUF001
"""Exact-match rate of quote folding on other projects' reply corpora.

The expected visible text of every fixture is in reply_expectations.json beside this file: taken
from the projects' own tests where they state it exactly (talon, willdurand's parseReply tests),
and otherwise written by reading the mail, with our rules: the quoted history, its header in any
language and the signature after "-- ", "Sent from my …" or a "-Name" line are folded; a closing
("Thanks, Alex", "Mvh, Person A") stays. Whitespace does not count.

`pytest -s tests/mail/test_reply_corpora.py` prints the rate per corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

from sportello.mail.parse import parse_message
from sportello.mail.replies import visible_reply
from tests.mail.fixtures import TESTDATA
from tests.mail.test_replies import HTML, STANDARD, squash, without_signature

EXPECTED = json.loads((Path(__file__).parent / "reply_expectations.json").read_text())

# willdurand's data provider: one reply above a quote header, in many clients and languages.
DATE_HEADERS = [
    "On Tue, 2011-03-01 at 18:02 +0530, Abhishek Kona wrote:",
    "2014-03-20 8:48 GMT+01:00 Rémi Dolan <do_not_reply@dolan.com>:",
    "2014-03-20 20:48 GMT+01:00 Rémi Dolan <do_not_reply@dolan.com>:",
    "2014-03-09 20:48 GMT+01:00 Rémi Dolan <do_not_reply@dolan.com>:",
    "Le 19 mars 2014 10:37, Cédric Lombardot <cedric.lombardot@gmail.com> a écrit :",
    "El 19/03/2014 11:34, Juan Pérez <juan.perez@mailcatch.com> escribió:",
    "W dniu 7 stycznia 2015 15:24 użytkownik Paweł Brzoski <pbrzoski91@gmail.com> napisał:",
    "Le 19/03/2014 11:34, Georges du chemin a écrit :",
    "W dniu 2015-01-07 14:23, pbrzoski91@gmail.com pisze: ",
    "Den 08/06/2015 kl. 21.21 skrev Test user <test@example.com>:",
    "Am 25.06.2015 um 10:55 schrieb Test user:",
    "Test user <test@example.com> schrieb:",
    "在 2016年11月8日，下午2:23，Test user <test@example.com> 写道：",
    "2016. 11. 8. 오후 12:39 Test user <test@example.com> 작성:",
    "2016/11/08 14:26、Test user <test@example.com> のメッセージ:",
    # Ours: clients and languages the corpora above lack (Gmail, Outlook, Apple Mail as they write them).
    "Il giorno mar 5 dic 2023 alle ore 10:12 Mario Rossi <mario@example.com> ha scritto:",
    "Op di 5 dec. 2023 om 10:12 schreef Jan Jansen <jan@example.com>:",
    "Em ter., 5 de dez. de 2023 às 10:12, João Silva <joao@example.com> escreveu:",
    "вт, 5 дек. 2023 г. в 10:12, Иван Петров <ivan@example.com>:",
    "5 дек. 2023 г., в 10:12, Иван Петров <ivan@example.com> написал(а):",
    "вт, 5 груд. 2023 р. о 10:12 Олена Коваль <olena@example.com> пише:",
    "tis 5 dec. 2023 kl 10:12 skrev Anna Svensson <anna@example.com>:",
    "tir. 5. des. 2023 kl. 10:12 skrev Ola Nordmann <ola@example.com>:",
    "Am Di., 5. Dez. 2023 um 10:12 Uhr schrieb Max Muster <max@example.com>:",
    "El mar, 5 dic 2023 a las 10:12, Juan Pérez (<juan@example.com>) escribió:",
    "Le mar. 5 déc. 2023 à 10:12, Jean Dupont <jean@example.com> a écrit :",
    "wt., 5 gru 2023 o 10:12 Jan Kowalski <jan@example.com> napisał(a):",
    "Jan Novák <jan@example.com> napsal(a) dne 5. 12. 2023 10:12:",
]
OUTLOOK_BLOCKS = [
    "From: Ana <ana@example.com>\nSent: Tuesday, December 5, 2023 10:12 AM\nTo: Desk\nSubject: Order",
    "Von: Ana <ana@example.com>\nGesendet: Dienstag, 5. Dezember 2023 10:12\nAn: Desk\nBetreff: Bestellung",
    "De : Ana <ana@example.com>\nEnvoyé : mardi 5 décembre 2023 10:12\nÀ : Desk\nObjet : Commande",
    "De: Ana <ana@example.com>\nEnviado: martes, 5 de diciembre de 2023 10:12\nPara: Desk\nAsunto: Pedido",
    "Da: Ana <ana@example.com>\nInviato: martedì 5 dicembre 2023 10:12\nA: Desk\nOggetto: Ordine",
    "Van: Ana <ana@example.com>\nVerzonden: dinsdag 5 december 2023 10:12\nAan: Desk\nOnderwerp: Bestelling",
    "Od: Ana <ana@example.com>\nWysłane: wtorek, 5 grudnia 2023 10:12\nDo: Desk\nTemat: Zamówienie",
    "От: Ана <ana@example.com>\nОтправлено: 5 декабря 2023 г. 10:12\nКому: Desk\nТема: Заказ",
    "Від: Ана <ana@example.com>\nНадіслано: 5 грудня 2023 р. 10:12\nКому: Desk\nТема: Замовлення",
    "Från: Ana <ana@example.com>\nSkickat: den 5 december 2023 10:12\nTill: Desk\nÄmne: Order",
    "Fra: Ana <ana@example.com>\nSendt: 5. desember 2023 10:12\nTil: Desk\nEmne: Bestilling",
    "De: Ana <ana@example.com>\nEnviada em: terça-feira, 5 de dezembro de 2023 10:12\nPara: Desk\nAssunto: Pedido",
    "发件人: Ana <ana@example.com>\n发送时间: 2023年12月5日 10:12\n收件人: Desk\n主题: 订单",
    "-----Original Message-----\nFrom: Ana [mailto:ana@example.com]\nSent: Tuesday, December 5, 2023 10:12 AM",
    "---------- Forwarded message ---------\nFrom: Ana <ana@example.com>\nDate: Tue, Dec 5, 2023 at 10:12 AM",
    "Begin forwarded message:\n\nFrom: Ana <ana@example.com>\nDate: 5 December 2023 at 10:12:00 CET",
]
REPLY = "Thank you very much."
QUOTED = "This is my previous mail\nwith two lines."


def _cases() -> dict[str, list[tuple[str, str, str]]]:
    """corpus -> [(name, visible text we show, expected)]."""
    cases: dict[str, list[tuple[str, str, str]]] = {}
    for source, expected in EXPECTED.items():
        rows = cases.setdefault(source, [])
        for name, text in expected.items():
            body = (TESTDATA / source / name).read_text(errors="replace")
            rows.append((name, visible_reply(body), text))
    template = TESTDATA / "willdurand-email-reply-parser" / "tests" / "Fixtures" / "email_with_date_headers.txt"
    for header in DATE_HEADERS[:15]:
        body = template.read_text().replace("[DATE]", header)
        cases["willdurand-email-reply-parser"].append((header, visible_reply(body), REPLY))
    rows = cases.setdefault("quote headers (ours)", [])
    for header in DATE_HEADERS[15:]:
        quoted = "\n".join("> " + line for line in QUOTED.splitlines())
        rows.append((header, visible_reply(f"{REPLY}\n\n{header}\n{quoted}\n"), REPLY))
    for block in OUTLOOK_BLOCKS:
        rows.append((block.splitlines()[0], visible_reply(f"{REPLY}\n\n{block}\n\n{QUOTED}\n"), REPLY))
    talon = cases.setdefault("talon", [])
    for path in STANDARD:
        expected_file = path.with_name(path.stem + "_reply_text")
        expected = without_signature(expected_file.read_text()) if expected_file.exists() else "Hello"
        talon.append((path.name, parse_message(path.read_bytes()).visible_text, expected))
    for path in HTML:
        talon.append((path.name, visible_reply("", path.read_text(errors="replace")), "Hi. I am fine. Thanks, Alex"))
    return cases


def test_quote_folding_is_exact_on_the_corpora():
    total = exact = 0
    misses = []
    for corpus, rows in _cases().items():
        hits = [name for name, got, want in rows if squash(got) == squash(want)]
        misses += [f"{corpus}/{name}" for name, got, want in rows if squash(got) != squash(want)]
        print(f"\n{corpus}: {len(hits)}/{len(rows)} exact ({100 * len(hits) / len(rows):.0f}%)", end="")
        total += len(rows)
        exact += len(hits)
    print(f"\noverall: {exact}/{total} exact ({100 * exact / total:.1f}%)\nmisses: {misses}")
    assert exact / total >= FLOOR, misses


# Measured: 164/202 (81.2%) before the interleaved answers, wrapped headers and the headers of
# more languages; 201/202 (99.5%) after.
FLOOR = 0.97
