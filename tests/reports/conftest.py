from tests.csat.conftest import solved, survey  # noqa: F401 — a solved ticket and its survey
from tests.kb.conftest import billing, internal_article, invoice_article, invoices  # noqa: F401
