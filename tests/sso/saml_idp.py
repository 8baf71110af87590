"""A SAML 2.0 identity provider for tests/sso: pysaml2's Server (a uv dev dependency) behind a
small WSGI app on 127.0.0.1, signing its assertions with xmlsec1 (Debian's package).

    python tests/sso/saml_idp.py PORT

- GET /metadata: the IdP's metadata (entity ID, sign-on URL, signing certificate).
- POST /service-providers: a service provider's metadata, registering it.
- GET /sso/redirect?SAMLRequest=…&RelayState=…: the IdP's sign-in form (the user's email).
- POST /sso/login: signs the user in and answers with the form a browser would post to the
  service provider's ACS (SAMLResponse, RelayState), as every IdP does with the HTTP-POST binding.
The users and their attributes are USERS below.
"""

from __future__ import annotations

import datetime
import html
import sys
import tempfile
import traceback
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.mdstore import InMemoryMetaData
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.server import Server

USERS = {
    "ana@staff.example": {"uid": ["ana"], "mail": ["ana@staff.example"], "givenName": ["Ana"], "sn": ["Bianchi"],
                          "groups": ["support"]},
    "zed@elsewhere.example": {"uid": ["zed"], "mail": ["zed@elsewhere.example"], "givenName": ["Zed"],
                              "sn": ["Outsider"], "groups": ["marketing"]},
}  # fmt: skip


def key_and_certificate(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sportello-test-idp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "idp.key", folder / "idp.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def build_server(base: str, folder: Path) -> tuple[Server, str]:
    key_file, cert_file = key_and_certificate(folder)
    config = IdPConfig()
    config.load(
        {
            "entityid": f"{base}/metadata",
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            "service": {
                "idp": {
                    "endpoints": {"single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "policy": {"default": {"lifetime": {"minutes": 15}, "attribute_restrictions": None}},
                    # Service providers are not known ahead: any may ask (a test IdP).
                    "want_authn_requests_signed": False,
                }
            },
            "metadata": {},
            "xmlsec_binary": "/usr/bin/xmlsec1",
        }
    )
    server = Server(config=config)
    return server, create_metadata_string(None, config=config, sign=False).decode()


def app_for(server: Server, metadata: str):
    def app(environ, start_response):
        try:
            return answer(environ, start_response)
        except Exception:  # a test's assertion shows the IdP's traceback
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [traceback.format_exc().encode()]

    def answer(environ, start_response):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path == "/metadata":
            start_response("200 OK", [("Content-Type", "application/samlmetadata+xml")])
            return [metadata.encode()]
        if path == "/service-providers" and method == "POST":
            # An admin registers a service provider at the IdP by its metadata (our /metadata/ page).
            xml = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
            known = InMemoryMetaData(server.config.attribute_converters, metadata=xml)
            known.load()
            server.metadata.metadata[f"sp-{len(server.metadata.metadata)}"] = known
            start_response("201 Created", [("Content-Type", "text/plain")])
            return [b"registered"]
        if path == "/sso/redirect" and method == "GET":
            query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
            page = (
                '<form method="post" action="/sso/login">'
                f'<input type="hidden" name="SAMLRequest" value="{html.escape(query.get("SAMLRequest", ""))}">'
                f'<input type="hidden" name="RelayState" value="{html.escape(query.get("RelayState", ""))}">'
                '<label>Email <input name="email"></label><button>Sign in</button></form>'
            )
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [page.encode()]
        if path == "/sso/login" and method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
            email = form.get("email", "")
            if email not in USERS:
                start_response("403 Forbidden", [("Content-Type", "text/plain")])
                return [b"unknown user"]
            request = server.parse_authn_request(form["SAMLRequest"], BINDING_HTTP_REDIRECT).message
            acs = request.assertion_consumer_service_url
            response = server.create_authn_response(
                USERS[email],
                in_response_to=request.id,
                destination=acs,
                sp_entity_id=request.issuer.text,
                userid=email,
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
                sign_assertion=True,
                sign_response=True,
                # python3-saml refuses SHA-1 signatures, pysaml2's default.
                sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
            )
            posted = server.apply_binding(BINDING_HTTP_POST, str(response), destination=acs,
                                          relay_state=form.get("RelayState", ""), response=True)  # fmt: skip
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [posted["data"].encode() if isinstance(posted["data"], str) else posted["data"]]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return app


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port = int(sys.argv[1])
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="sportello-saml-idp-") as folder:
        server, metadata = build_server(base, Path(folder))
        with make_server("127.0.0.1", port, app_for(server, metadata), handler_class=QuietHandler) as httpd:
            print(f"SAML IdP listening on {base}", flush=True)
            httpd.serve_forever()


if __name__ == "__main__":
    main()
