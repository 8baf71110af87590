"""The people, companies and conversations of the demo data (`sportello demo`).

Every address is under the reserved `.example` top-level domain (RFC 2606), so nothing made from
this data can ever reach a real mailbox.
"""

# The Bulgarian requests are written in Cyrillic on purpose; its look-alike letters are not typos.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass

GROUPS = [("First level", 1, "Answers every new request first."), ("Second level", 2, "Technical specialists.")]

# username, first name, last name, group, language, online
AGENTS = [
    ("anna", "Anna", "Colombo", "First level", "it", True),
    ("marco", "Marco", "Esposito", "First level", "it", False),
    ("petar", "Petar", "Dimitrov", "Second level", "bg", False),
    ("lena", "Lena", "Hoffmann", "Second level", "de", False),
]

# name, domain, shared tickets
ORGANIZATIONS = [
    ("Rossi Costruzioni S.r.l.", "rossi-costruzioni.example", True),
    ("Bäckerei Krüger GmbH", "baeckerei-krueger.example", False),
    ("Balkan Trade OOD", "balkantrade.example", True),
    ("Greenleaf Books Ltd", "greenleaf-books.example", False),
]

# name, email, language, phone ("" for none); an email at an organization's domain joins it.
CUSTOMERS = [
    ("Giulia Rossi", "giulia.rossi@rossi-costruzioni.example", "it", "+39 02 8765 4321"),
    ("Luca Bianchi", "luca.bianchi@rossi-costruzioni.example", "it", ""),
    ("Francesca Romano", "francesca.romano@posta.example", "it", "+39 347 123 4567"),
    ("Alessandro Ricci", "a.ricci@posta.example", "it", ""),
    ("Chiara Marino", "chiara.marino@mail.example", "it", ""),
    ("Matteo Greco", "matteo.greco@mail.example", "it", "+39 06 555 0192"),
    ("Sofia Bruno", "sofia.bruno@posta.example", "it", ""),
    ("Lorenzo Gallo", "lorenzo.gallo@mail.example", "it", ""),
    ("Jonas Krüger", "jonas@baeckerei-krueger.example", "de", "+49 30 901820"),
    ("Katrin Krüger", "katrin@baeckerei-krueger.example", "de", ""),
    ("Maximilian Schneider", "max.schneider@netz.example", "de", ""),
    ("Sabine Fischer", "sabine.fischer@netz.example", "de", "+49 89 2019 3344"),
    ("Thomas Weber", "t.weber@mail.example", "de", ""),
    ("Julia Becker", "julia.becker@netz.example", "de", ""),
    ("Felix Wagner", "felix.wagner@mail.example", "de", ""),
    ("Ivan Petrov", "ivan.petrov@balkantrade.example", "bg", "+359 2 987 6543"),
    ("Maria Georgieva", "maria.georgieva@balkantrade.example", "bg", ""),
    ("Georgi Ivanov", "georgi.ivanov@abv.example", "bg", ""),
    ("Elena Nikolova", "elena.nikolova@abv.example", "bg", "+359 88 812 3456"),
    ("Dimitar Stoyanov", "d.stoyanov@mail.example", "bg", ""),
    ("Desislava Todorova", "desi.todorova@abv.example", "bg", ""),
    ("Nikolay Angelov", "n.angelov@abv.example", "bg", ""),
    ("Oliver Bennett", "oliver@greenleaf-books.example", "en", "+44 20 7946 0123"),
    ("Amelia Clarke", "amelia.clarke@greenleaf-books.example", "en", ""),
    ("Harry Thompson", "harry.thompson@mail.example", "en", ""),
    ("Emily Walker", "emily.walker@inbox.example", "en", "+44 161 496 0781"),
    ("James Wright", "jwright@inbox.example", "en", ""),
    ("Charlotte Hughes", "charlotte.hughes@mail.example", "en", ""),
    ("Jack Robinson", "jack.robinson@inbox.example", "en", ""),
    ("Sophie Turner", "sophie.turner@mail.example", "en", "+1 415 555 0134"),
]

# The business-hours calendar and the default SLA policy (targets in business minutes).
CALENDAR = ("Business hours", "Europe/Rome", "IT", [(day, 9, 18) for day in range(5)])  # Monday to Friday, 9-18
# priority, first response, next response, resolution
SLA_TARGETS = [
    (1, 16 * 60, 16 * 60, 10 * 9 * 60),
    (2, 6 * 60, 8 * 60, 5 * 9 * 60),
    (3, 3 * 60, 4 * 60, 3 * 9 * 60),
    (4, 60, 2 * 60, 9 * 60),
]

CATEGORIES = ["Account and access", "Billing", "Feedback", "Orders and delivery", "Technical problem"]

# Automatic assignment: group, method, default capacity (most open tickets per agent).
ASSIGNMENT = [("First level", "least_load", 10)]
# Skills: name, the categories that need it, the tags that need it; and who has them (level 1-5).
SKILLS = [("Billing", ["Billing"], ["invoice", "refund"]), ("Logistics", ["Orders and delivery"], ["delivery"])]
AGENT_SKILLS = {"anna": [("Billing", 4)], "marco": [("Logistics", 3), ("Billing", 2)], "lena": [("Billing", 3)]}


@dataclass(frozen=True)
class Scenario:
    """One kind of request: how it opens, how the customer follows up, what agents answer."""

    category: str
    subject: str
    body: str
    tags: list[str]
    follow_ups: list[str]
    replies: list[str]
    notes: list[str]
    language: str = "en"
    second_level: bool = False  # goes to the specialists


ACK_REPLIES = [
    "Thanks for letting us know. I am looking into it and will get back to you today.",
    "Thank you for the details. Could you tell us roughly when this started?",
    "I have passed this to a colleague who knows this part best; you will hear from us shortly.",
]
FOLLOW_UPS = [
    "Any news on this? It is getting urgent for us.",
    "Thanks. It started on Monday morning, as far as I can tell.",
    "I tried again just now and it still happens.",
    "Here is what I see on my screen, in case it helps.",
]
NOTES = [
    "Checked the logs: nothing unusual on our side so far.",
    "Customer has an active contract; keep the priority as it is.",
    "Same problem reported last week, see the similar tickets.",
]

SCENARIOS: list[Scenario] = [
    Scenario(
        "Account and access",
        "Cannot log in to my account",
        "Hello,\n\nsince this morning I cannot log in. The page says my password is wrong, but I have not "
        "changed it. I already tried the reset link twice and never got the mail.\n\nThanks",
        ["login", "password"],
        ["The reset mail finally arrived, but the link says it has expired.", *FOLLOW_UPS[:2]],
        [
            "I have sent a new reset link; it is valid for one hour. Please check the spam folder too.",
            "Your account was locked after several failed attempts. I have unlocked it; please try again.",
            *ACK_REPLIES[:1],
        ],
        ["Account was locked by the brute-force protection, unlocked manually.", *NOTES[:1]],
    ),
    Scenario(
        "Account and access",
        "Please add a colleague to our account",
        "Hi,\n\ncould you add my colleague to our company account? She needs to see our orders and invoices.",
        ["users"],
        ["Her address is the one I put in copy. Thank you!"],
        ["Done: she will receive an invitation by mail in a few minutes.", ACK_REPLIES[1]],
        ["Checked that the requester is an admin of the organization."],
    ),
    Scenario(
        "Account and access",
        "Two-factor code not accepted",
        "The six-digit code from my authenticator app is always refused. My phone's clock is set automatically.",
        ["2fa", "login"],
        ["I reinstalled the app, same result.", *FOLLOW_UPS[2:]],
        ["I have reset your second factor; at the next login you can set it up again.", *ACK_REPLIES[2:]],
        ["Verified the customer's identity by phone before resetting 2FA."],
        second_level=True,
    ),
    Scenario(
        "Billing",
        "Invoice charged twice",
        "Hello,\n\nmy card was charged twice for the March invoice (same amount, same day). "
        "Please refund the second charge.",
        ["refund", "invoice"],
        ["I can see both charges on my bank statement, booked on the same day.", FOLLOW_UPS[0]],
        [
            "You are right, the payment went through twice. The refund is on its way and takes 3-5 working days.",
            "Could you send us the last four digits of the card so that we can find both payments?",
        ],
        ["Payment provider confirms the double charge; refund issued.", NOTES[1]],
    ),
    Scenario(
        "Billing",
        "Need a copy of invoice for our accounting",
        "Good morning, our accounting needs a copy of last month's invoice with our VAT number on it.",
        ["invoice", "vat"],
        ["The VAT number is on our company profile, thanks."],
        ["Attached is the corrected invoice with your VAT number.", ACK_REPLIES[0]],
        ["VAT number was missing in the billing profile; added."],
    ),
    Scenario(
        "Billing",
        "Change of billing address",
        "We moved to a new office. Please use the new address on all future invoices.",
        ["invoice"],
        ["The new address is in my signature below."],
        ["Updated: the next invoice will carry the new address."],
        [NOTES[1]],
    ),
    Scenario(
        "Billing",
        "Question about the annual plan",
        "Is there a discount if we switch from the monthly to the annual plan, and can we switch mid-month?",
        ["plan", "sales"],
        ["Great, then let's switch at the end of this month."],
        ["Yes: the annual plan costs ten months' worth, and we credit the unused part of this month."],
        ["Forwarded to sales as a possible upgrade."],
    ),
    Scenario(
        "Orders and delivery",
        "Order has not arrived",
        "Hello, I placed an order twelve days ago and it still has not arrived. The tracking page has not "
        "changed for a week.",
        ["delivery", "tracking"],
        ["Still nothing today. Can you send a replacement?", FOLLOW_UPS[0]],
        [
            "I asked the carrier: the parcel was held at the depot. It goes out again tomorrow.",
            "Sorry for the wait. I have sent a replacement by express; you will get a new tracking number.",
        ],
        ["Carrier claim opened.", NOTES[2]],
    ),
    Scenario(
        "Orders and delivery",
        "Wrong item delivered",
        "I ordered the blue model and received the grey one. How do I send it back?",
        ["return", "wrong-item"],
        ["Thank you, I printed the label.", "The courier picked it up this morning."],
        [
            "Sorry about that! Here is a prepaid return label; the right item leaves our warehouse today.",
            ACK_REPLIES[1],
        ],
        ["Warehouse picking error; reported to logistics."],
    ),
    Scenario(
        "Orders and delivery",
        "Cancel my order",
        "Please cancel my last order, I ordered the same thing twice by mistake.",
        ["cancellation"],
        ["Thanks for the quick help!"],
        ["Cancelled; you will not be charged for the second order."],
        [],
    ),
    Scenario(
        "Orders and delivery",
        "Delivery to a different address",
        "Can you deliver my order to my office instead of my home? I am not at home during the day.",
        ["delivery"],
        ["The office is open from 8 to 17."],
        ["Changed: the parcel will go to your office address."],
        ["Asked the carrier to redirect the parcel."],
    ),
    Scenario(
        "Technical problem",
        "Export to CSV is empty",
        "When I export the report to CSV, the file has only the header line and no data, although the "
        "report on the screen shows 300 rows.",
        ["export", "bug"],
        ["It happens in Firefox and in Chrome.", FOLLOW_UPS[3], FOLLOW_UPS[2]],
        [
            "We could reproduce it: exports with a date filter lose their rows. A fix is being tested.",
            "The fix is live. Could you try the export again?",
            ACK_REPLIES[2],
        ],
        ["Reproduced with a date filter in the report; bug filed.", "Fix deployed in this morning's release."],
        second_level=True,
    ),
    Scenario(
        "Technical problem",
        "App crashes when uploading photos",
        "The mobile app closes itself every time I try to upload more than three photos at once.",
        ["mobile", "bug", "upload"],
        ["I have the latest version from the store.", FOLLOW_UPS[2]],
        [
            "Thanks. Which phone model and system version do you use?",
            "A new app version with a fix is available in the store now.",
        ],
        ["Crash report matches a known memory problem with large images.", NOTES[2]],
        second_level=True,
    ),
    Scenario(
        "Technical problem",
        "Website very slow",
        "Your website has been very slow for us since yesterday; pages take 20 seconds to load.",
        ["performance"],
        ["Now it is fast again, thanks!", FOLLOW_UPS[1]],
        ["We had a problem with one of our servers; it is fixed. Is it better on your side?", ACK_REPLIES[0]],
        ["Load balancer health check was failing on one node."],
        second_level=True,
    ),
    Scenario(
        "Technical problem",
        "API returns error 500",
        "Our integration gets HTTP 500 from the orders API for about one request in ten, since the last update.",
        ["api", "bug", "integration"],
        ["Example request id: 7f3a-92c1. It happened at 14:02 UTC.", FOLLOW_UPS[0]],
        [
            "Thanks for the request id, it helped: a timeout in one database query. Fixed in today's release.",
            "Could you send us a request id or the time of a failed call?",
        ],
        ["Slow query on the orders table, index added."],
        second_level=True,
    ),
    Scenario(
        "Technical problem",
        "Printer in the shop does not print receipts",
        "Since the update the receipt printer in our shop prints nothing. The cash register still works.",
        ["hardware", "printer"],
        ["We restarted both, no change.", FOLLOW_UPS[2]],
        ["Please open Settings → Devices and choose the printer again; the update reset the choice."],
        ["Known effect of version 4.2 on some printer models."],
    ),
    Scenario(
        "Feedback",
        "Great service, thank you",
        "Just wanted to say thanks to the person who helped me last week. Problem solved in minutes!",
        ["praise"],
        [],
        ["Thank you for the kind words, I have passed them on to the team!"],
        ["Shared in the team channel."],
    ),
    Scenario(
        "Feedback",
        "Suggestion: dark mode",
        "Would it be possible to add a dark mode to the app? I use it a lot in the evening.",
        ["feature-request"],
        ["Great, looking forward to it."],
        ["Thanks for the suggestion! Dark mode is on our plan for the next months."],
        ["Added a vote to the feature request."],
    ),
    Scenario(
        "Feedback",
        "Complaint about waiting time on the phone",
        "I waited 25 minutes on the phone yesterday before someone answered. That is too long.",
        ["complaint", "phone"],
        ["I appreciate the answer, thanks."],
        ["I am sorry for the wait. Yesterday was unusually busy; we have added people to the phone line."],
        ["Forwarded to the team lead."],
    ),
    Scenario(
        "Account and access",
        "Delete my account",
        "Please delete my account and all my personal data.",
        ["gdpr", "account-deletion"],
        ["Yes, I confirm."],
        ["Before we delete it: please confirm from this address that you want the account deleted for good."],
        ["Deletion scheduled after the legal retention period for invoices."],
    ),
    Scenario(
        "Technical problem",
        "Impossibile accedere all'area clienti",
        "Buongiorno,\n\nda ieri non riesco più ad accedere all'area clienti: la pagina rimane bianca dopo "
        "il login.\n\nGrazie",
        ["login"],
        ["Ho provato anche da un altro computer, stesso problema."],
        ["Buongiorno, abbiamo risolto un problema sul server. Può riprovare?", "Grazie della segnalazione."],
        ["Customer writes in Italian; white page after login, same as the export bug."],
        language="it",
    ),
    Scenario(
        "Billing",
        "Fattura con importo errato",
        "Salve, la fattura di aprile riporta un importo diverso da quello concordato nel contratto.",
        ["invoice"],
        ["Il contratto è quello firmato a gennaio."],
        ["Ha ragione, le invieremo una nota di credito entro domani."],
        ["Wrong price list applied to this customer."],
        language="it",
    ),
    Scenario(
        "Orders and delivery",
        "Lieferung beschädigt",
        "Guten Tag,\n\ndas Paket kam heute beschädigt an, zwei Gläser sind zerbrochen. Fotos anbei.\n\n"
        "Mit freundlichen Grüßen",
        ["damaged", "delivery"],
        ["Vielen Dank für die schnelle Hilfe!"],
        ["Das tut uns leid. Wir schicken Ihnen kostenlos Ersatz, die Scherben müssen Sie nicht zurücksenden."],
        ["Damage claim with the carrier opened."],
        language="de",
    ),
    Scenario(
        "Technical problem",
        "Kassensystem startet nicht",
        "Unser Kassensystem startet seit dem Update heute Morgen nicht mehr. Bitte dringend melden!",
        ["hardware", "urgent"],
        ["Wir haben das Gerät neu gestartet, ohne Erfolg.", "Bitte rufen Sie uns an."],
        ["Wir haben ein Korrektur-Update eingespielt. Startet das System jetzt?"],
        ["Update 4.2 broke the start on old hardware; rollback prepared."],
        language="de",
        second_level=True,
    ),
    Scenario(
        "Orders and delivery",
        "Поръчката не е пристигнала",
        "Здравейте,\n\nпоръчах преди десет дни и пратката още не е пристигнала. Можете ли да проверите?",
        ["delivery"],
        ["Благодаря, получих я днес."],
        ["Проверихме при куриера: пратката ще бъде доставена утре."],
        ["Courier confirmed a delay at the Sofia depot."],
        language="bg",
    ),
    Scenario(
        "Billing",
        "Въпрос за фактура",
        "Здравейте, трябва ни фактура с ЕИК на фирмата. Как да я получим?",
        ["invoice", "vat"],
        ["ЕИК е в профила на фирмата."],
        ["Изпратихме ви коригираната фактура по имейл."],
        ["Company id added to the billing profile."],
        language="bg",
    ),
]

PHONE_SUMMARIES = [
    "Customer called: {subject}. Explained the situation on the phone, wants a written answer.",
    "Phone call about: {subject}. Customer sounded upset; promised an update by mail.",
]
CHAT_OPENERS = ["Hi, is anyone there? ", "Hello! Quick question: ", ""]

# --- Help centre ------------------------------------------------------------------------------
# slug, {language: name}: the help centre's categories, named in each language.
KB_CATEGORIES = [
    (
        "account",
        {"en": "Account and sign-in", "it": "Account e accesso", "de": "Konto und Anmeldung", "bg": "Профил и вход"},
    ),
    (
        "orders",
        {
            "en": "Orders, billing and refunds",
            "it": "Ordini, fatture e rimborsi",
            "de": "Bestellungen, Rechnungen und Erstattungen",
            "bg": "Поръчки, фактури и възстановявания",
        },
    ),
    (
        "troubleshooting",
        {
            "en": "Troubleshooting",
            "it": "Risoluzione dei problemi",
            "de": "Fehlerbehebung",
            "bg": "Отстраняване на проблеми",
        },
    ),
]


@dataclass(frozen=True)
class Article:
    """A public help-centre article: its category's slug, tags, and (title, body) per language."""

    category: str
    tags: list[str]
    texts: dict[str, tuple[str, str]]


KB_ARTICLES = [
    Article(
        "account",
        ["password", "login"],
        {
            "en": (
                "Reset your password",
                "Forgot your password? You can set a new one in a minute.\n\n"
                "1. On the sign-in page, choose **Forgot password**.\n"
                "2. Enter the email address of your account.\n"
                "3. Open the link we send you (it works for one hour) and choose a new password.\n\n"
                "No email after ten minutes? Look in your spam folder, then write to us.",
            ),
            "it": (
                "Reimpostare la password",
                "Hai dimenticato la password? Puoi sceglierne una nuova in un minuto.\n\n"
                "1. Nella pagina di accesso scegli **Password dimenticata**.\n"
                "2. Inserisci l'indirizzo email del tuo account.\n"
                "3. Apri il link che ti inviamo (vale un'ora) e scegli una nuova password.\n\n"
                "Nessuna email dopo dieci minuti? Controlla la cartella spam, poi scrivici.",
            ),
            "de": (
                "Passwort zurücksetzen",
                "Passwort vergessen? Ein neues ist in einer Minute gesetzt.\n\n"
                "1. Wählen Sie auf der Anmeldeseite **Passwort vergessen**.\n"
                "2. Geben Sie die E-Mail-Adresse Ihres Kontos ein.\n"
                "3. Öffnen Sie den Link aus unserer E-Mail (eine Stunde gültig) und wählen Sie ein neues Passwort.\n\n"
                "Nach zehn Minuten keine E-Mail? Sehen Sie im Spam-Ordner nach und schreiben Sie uns dann.",
            ),
            "bg": (
                "Смяна на забравена парола",
                "Забравили сте паролата си? Можете да зададете нова за минута.\n\n"
                "1. На страницата за вход изберете **Забравена парола**.\n"
                "2. Въведете имейл адреса на профила си.\n"
                "3. Отворете връзката, която ще ви изпратим (валидна е един час), и изберете нова парола.\n\n"
                "Няма имейл след десет минути? Проверете папката за спам и след това ни пишете.",
            ),
        },
    ),
    Article(
        "account",
        ["2fa", "login"],
        {
            "en": (
                "Two-factor code not accepted",
                "Codes from the authenticator app change every 30 seconds and depend on your phone's clock.\n\n"
                "- Set the phone's date and time to **automatic**.\n"
                "- Type the code shown now, not one that is about to expire.\n"
                "- Lost the phone? Sign in with one of your backup codes, or ask us to reset two-factor "
                "sign-in for you.",
            ),
            "it": (
                "Il codice di verifica in due passaggi non viene accettato",
                "I codici dell'app di autenticazione cambiano ogni 30 secondi e dipendono dall'orologio "
                "del telefono.\n\n"
                "- Imposta data e ora del telefono su **automatico**.\n"
                "- Inserisci il codice mostrato in quel momento, non uno che sta per scadere.\n"
                "- Hai perso il telefono? Accedi con uno dei codici di riserva, oppure chiedici di "
                "azzerare la verifica in due passaggi.",
            ),
            "de": (
                "Bestätigungscode wird nicht akzeptiert",
                "Die Codes der Authenticator-App wechseln alle 30 Sekunden und hängen von der Uhr Ihres "
                "Telefons ab.\n\n"
                "- Stellen Sie Datum und Uhrzeit des Telefons auf **automatisch**.\n"
                "- Geben Sie den aktuell angezeigten Code ein, nicht einen, der gleich abläuft.\n"
                "- Telefon verloren? Melden Sie sich mit einem Ersatzcode an oder bitten Sie uns, die "
                "Zwei-Faktor-Anmeldung zurückzusetzen.",
            ),
            "bg": (
                "Кодът за двуфакторно удостоверяване не се приема",
                "Кодовете в приложението за удостоверяване се сменят на всеки 30 секунди и зависят от "
                "часовника на телефона.\n\n"
                "- Настройте датата и часа на телефона на **автоматично**.\n"
                "- Въведете кода, който се показва в момента, а не такъв, който изтича.\n"
                "- Изгубили сте телефона? Влезте с резервен код или ни помолете да нулираме "
                "двуфакторния вход.",
            ),
        },
    ),
    Article(
        "orders",
        ["delivery", "order"],
        {
            "en": (
                "Where is my order?",
                "Most orders arrive within 3 working days.\n\n"
                "- The shipping email has a tracking link: it shows where the parcel is now.\n"
                "- No tracking after 2 working days? The parcel may still be in our warehouse.\n"
                "- Nothing after 5 working days? Write to us with your **order number** and we will "
                "ask the courier.",
            ),
            "it": (
                "Dov'è il mio ordine?",
                "La maggior parte degli ordini arriva entro 3 giorni lavorativi.\n\n"
                "- L'email di spedizione contiene un link di tracciamento: mostra dove si trova il pacco.\n"
                "- Nessun tracciamento dopo 2 giorni lavorativi? Il pacco potrebbe essere ancora nel "
                "nostro magazzino.\n"
                "- Ancora nulla dopo 5 giorni lavorativi? Scrivici indicando il **numero d'ordine** e "
                "contatteremo il corriere.",
            ),
            "de": (
                "Wo ist meine Bestellung?",
                "Die meisten Bestellungen kommen innerhalb von 3 Werktagen an.\n\n"
                "- Die Versand-E-Mail enthält einen Sendungslink: Er zeigt, wo das Paket gerade ist.\n"
                "- Nach 2 Werktagen keine Sendungsverfolgung? Dann ist das Paket vielleicht noch in "
                "unserem Lager.\n"
                "- Nach 5 Werktagen immer noch nichts? Schreiben Sie uns mit Ihrer **Bestellnummer**, "
                "wir fragen beim Paketdienst nach.",
            ),
            "bg": (
                "Къде е моята поръчка?",
                "Повечето поръчки пристигат до 3 работни дни.\n\n"
                "- В имейла за изпращане има връзка за проследяване: тя показва къде е пратката.\n"
                "- Няма проследяване след 2 работни дни? Пратката може още да е в нашия склад.\n"
                "- Нищо след 5 работни дни? Пишете ни с **номера на поръчката** и ще се свържем с "
                "куриера.",
            ),
        },
    ),
    Article(
        "orders",
        ["refund", "return"],
        {
            "en": (
                "Returns and refunds",
                "You can return any item within 30 days of delivery.\n\n"
                "1. Write to us with your order number and the items you are sending back.\n"
                "2. We reply with a prepaid return label.\n"
                "3. Once the parcel reaches us, the refund goes to your original payment method "
                "within 5 working days.\n\n"
                "A damaged or wrong item? Send us a photo: we replace it at no cost.",
            ),
            "it": (
                "Resi e rimborsi",
                "Puoi restituire qualsiasi articolo entro 30 giorni dalla consegna.\n\n"
                "1. Scrivici con il numero d'ordine e gli articoli che rimandi.\n"
                "2. Ti rispondiamo con un'etichetta di reso prepagata.\n"
                "3. Quando il pacco arriva da noi, il rimborso va sul metodo di pagamento originale "
                "entro 5 giorni lavorativi.\n\n"
                "Articolo danneggiato o sbagliato? Mandaci una foto: lo sostituiamo senza costi.",
            ),
            "de": (
                "Rücksendungen und Erstattungen",
                "Sie können jeden Artikel innerhalb von 30 Tagen nach Lieferung zurückgeben.\n\n"
                "1. Schreiben Sie uns Ihre Bestellnummer und die Artikel, die Sie zurücksenden.\n"
                "2. Wir antworten mit einem frankierten Rücksendeetikett.\n"
                "3. Sobald das Paket bei uns ist, erstatten wir den Betrag innerhalb von 5 Werktagen "
                "auf Ihr ursprüngliches Zahlungsmittel.\n\n"
                "Artikel beschädigt oder falsch? Schicken Sie uns ein Foto: Wir ersetzen ihn kostenlos.",
            ),
            "bg": (
                "Връщане и възстановяване на сума",
                "Можете да върнете всеки артикул до 30 дни след доставката.\n\n"
                "1. Пишете ни с номера на поръчката и артикулите, които връщате.\n"
                "2. Ще ви изпратим предплатен етикет за връщане.\n"
                "3. Щом пратката пристигне при нас, сумата се връща по първоначалния начин на "
                "плащане до 5 работни дни.\n\n"
                "Повреден или грешен артикул? Изпратете ни снимка и ще го заменим безплатно.",
            ),
        },
    ),
    Article(
        "orders",
        ["invoice"],
        {
            "en": (
                "Download a copy of your invoice",
                "Every invoice is in your account under **Orders → Invoices**, as a PDF.\n\n"
                "Need your company name or VAT number on it? Add them under **Account → Billing "
                "details** before ordering. For an invoice that is already issued, write to us and "
                "we send a corrected copy.",
            ),
            "it": (
                "Scaricare una copia della fattura",
                "Trovi tutte le fatture nel tuo account in **Ordini → Fatture**, in formato PDF.\n\n"
                "Ti servono la ragione sociale o la partita IVA? Aggiungile in **Account → Dati di "
                "fatturazione** prima di ordinare. Per una fattura già emessa, scrivici e ti inviamo "
                "una copia corretta.",
            ),
            "de": (
                "Eine Rechnungskopie herunterladen",
                "Alle Rechnungen finden Sie in Ihrem Konto unter **Bestellungen → Rechnungen** als PDF.\n\n"
                "Firmenname oder USt-IdNr. sollen darauf stehen? Tragen Sie sie vor der Bestellung unter "
                "**Konto → Rechnungsdaten** ein. Für eine bereits ausgestellte Rechnung schreiben Sie "
                "uns, wir schicken eine korrigierte Kopie.",
            ),
            "bg": (
                "Изтегляне на копие от фактура",
                "Всички фактури са в профила ви в **Поръчки → Фактури**, във формат PDF.\n\n"
                "Нужни са ви името на фирмата или ДДС номерът? Добавете ги в **Профил → Данни за "
                "фактуриране** преди поръчката. За вече издадена фактура ни пишете и ще ви изпратим "
                "коригирано копие.",
            ),
        },
    ),
    Article(
        "troubleshooting",
        ["printer", "pos"],
        {
            "en": (
                "The receipt printer does not print",
                "Try these steps in order; most printers are back after the second one.\n\n"
                "1. Check the paper roll: the shiny side faces the print head.\n"
                "2. Switch the printer off, wait ten seconds and switch it on again.\n"
                "3. In the till app, open **Settings → Printer** and choose **Print test page**.\n"
                "4. Still nothing? Send us the printer model and a photo of its status light.",
            ),
            "it": (
                "La stampante degli scontrini non stampa",
                "Prova questi passaggi in ordine: quasi sempre la stampante riparte al secondo.\n\n"
                "1. Controlla il rotolo: il lato lucido va verso la testina.\n"
                "2. Spegni la stampante, aspetta dieci secondi e riaccendila.\n"
                "3. Nell'app di cassa apri **Impostazioni → Stampante** e scegli **Stampa pagina di prova**.\n"
                "4. Ancora niente? Mandaci il modello della stampante e una foto della spia di stato.",
            ),
            "de": (
                "Der Bondrucker druckt nicht",
                "Gehen Sie diese Schritte der Reihe nach durch; meist druckt er nach dem zweiten wieder.\n\n"
                "1. Prüfen Sie die Papierrolle: Die glänzende Seite zeigt zum Druckkopf.\n"
                "2. Schalten Sie den Drucker aus, warten Sie zehn Sekunden und schalten Sie ihn wieder ein.\n"
                "3. Öffnen Sie in der Kassen-App **Einstellungen → Drucker** und wählen Sie **Testseite drucken**.\n"
                "4. Immer noch nichts? Schicken Sie uns das Druckermodell und ein Foto der Statusleuchte.",
            ),
            "bg": (
                "Принтерът за касови бележки не печата",
                "Опитайте стъпките поред; обикновено принтерът тръгва след втората.\n\n"
                "1. Проверете ролката: лъскавата страна трябва да е към печатащата глава.\n"
                "2. Изключете принтера, изчакайте десет секунди и го включете отново.\n"
                "3. В касовото приложение отворете **Настройки → Принтер** и изберете **Тестова страница**.\n"
                "4. Пак нищо? Изпратете ни модела на принтера и снимка на светлинния индикатор.",
            ),
        },
    ),
]

# --- Automation ---------------------------------------------------------------------------------
# name, reply body, field changes: shared macros, as an admin writes them.
MACROS = [
    (
        "Ask for the order number",
        "Hello {{ customer.first_name }},\n\nthank you for writing. Could you send us your order number? "
        "It is in the confirmation email and starts with SP-. Then we can look into it right away.",
        [{"type": "set_status", "status": "pending"}, {"type": "add_tags", "tags": ["order"]}],
    ),
    (
        "Password reset steps",
        "Hello {{ customer.first_name }},\n\nyou can set a new password yourself: on the sign-in page choose "
        '"Forgot password", enter your email address and open the link we send you (it works for one hour).',
        [{"type": "set_status", "status": "pending"}, {"type": "add_tags", "tags": ["password"]}],
    ),
    (
        "Refund on its way",
        "Hello {{ customer.first_name }},\n\nwe have issued the refund. It reaches your original payment method "
        "within 5 working days.",
        [{"type": "add_tags", "tags": ["refund"]}, {"type": "set_status", "status": "solved"}],
    ),
    (
        "Close as solved",
        "Hello {{ customer.first_name }},\n\nwe are glad it is sorted. If anything else comes up, just reply to "
        "this message.",
        [{"type": "set_status", "status": "solved"}, {"type": "set_priority", "priority": 2}],
    ),
]

# --- Customers and satisfaction -------------------------------------------------------------------
# customer email, agent username, note
CUSTOMER_NOTES = [
    ("giulia.rossi@rossi-costruzioni.example", "anna", "Office manager; prefers a phone call for anything urgent."),
    ("jonas@baeckerei-krueger.example", "lena", "Runs three shops with our till; printers are the usual topic."),
    ("ivan.petrov@balkantrade.example", "petar", "Buyer for Balkan Trade. Invoices must show the VAT number."),
    ("oliver@greenleaf-books.example", "marco", "Long-time customer; asked to be told before price changes."),
]

# Comments that come with a bad answer to the satisfaction survey (a good one mostly has none).
CSAT_BAD_COMMENTS = [
    "It took three days to get an answer.",
    "The problem came back the next day.",
    "I had to explain everything twice.",
]
CSAT_GOOD_COMMENTS = ["Quick and friendly, thank you!", "Sorted in one reply.", ""]
