#!/usr/bin/env bash
# Installs the Debian packages the test suite drives, when missing and when we can (root + apt).
# (The translation catalogs are committed compiled, so `make run` needs no gettext.)
set -u
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)  # the loopback SAML IdP of tests/sso (pysaml2 signs with it)
command -v msgfmt >/dev/null 2>&1 || need+=(gettext)  # `make messages`, and tests/test_i18n.py's msgfmt check
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); their tests will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
  || echo "system-deps: apt-get could not install ${need[*]}" >&2
exit 0
