"""The knowledge base and the macros of another help desk, written here (after its tickets).

Articles go through the knowledge base's own services (kb/services.py): each translation is
saved, sanitized and rendered as an author's would be, leaves a revision, and is indexed for
search in the same transaction; images go into the KB's storage as article files. Macros are
validated as the macro builder validates them (automation.actions.validate_actions).

Idempotency follows the ticket writer's: every row written is recorded in ImportedRecord
(source, kind, source id → local id, checksum) in the same transaction as the row, so a row seen
again unchanged is left alone, a changed one updated, and none is made twice. An article with
its translations and images is one transaction: killed in the middle, it is absent, and the next
run writes it whole. Kinds: category, article, translation, image, macro.

On a dry run everything is mapped and written inside the run's transaction that is rolled back,
except images: none is downloaded or stored (files are not part of a transaction); each is counted.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from datetime import datetime
from html import escape, unescape
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.text import slugify

from sportello.accounts.models import Role, User
from sportello.core.errors import InvalidInput, TooLarge
from sportello.importers.kb_records import KbArticleIn, KbCategoryIn, KbTranslationIn, MacroIn
from sportello.importers.mapping import Mapping
from sportello.importers.models import ImportedRecord
from sportello.importers.records import checksum
from sportello.importers.report import Report
from sportello.importers.sources.tabular import SourceError
from sportello.kb import services as kb
from sportello.kb.models import LANGUAGES, Article, ArticleFile, ArticleTranslation, Category, Visibility
from sportello.kb.render import render_body, sanitize_article_html
from sportello.tickets import statuses

IMPORT_USERNAME = "sportello-import"
# An image's `src` or a link's `href`: an article's files are shown (images) or linked (downloads).
FILE_REF_ATTR = re.compile(r"""(<(?:img\b[^>]*?\bsrc|a\b[^>]*?\bhref)\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.I)


def import_user() -> User:
    """The author of imported articles in their history ("Import"): never signs in, in no agent list."""
    user, _ = User.objects.get_or_create(
        username=IMPORT_USERNAME, defaults={"role": Role.SYSTEM, "first_name": "Import", "is_active": True}
    )
    if user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def language_of(locale: str) -> str | None:
    """Sportello's language for a source locale ("en-us" → "en"), or None when it has none."""
    code = (locale or "").strip().lower().replace("_", "-")
    if code in LANGUAGES:
        return code
    base = code.split("-", 1)[0]
    return base if base in LANGUAGES else None


def article_body(html: str) -> str:
    """The source's HTML as an article body: sanitized the way the KB sanitizes, and kept whole
    through the KB's Markdown rendering (a `<div>` around it when Markdown would change it, so that
    text like `*` or indented lines are not read as Markdown)."""
    clean = sanitize_article_html(html or "").strip()
    if not clean or render_body(clean) == sanitize_article_html(clean):
        return clean
    return f"<div>\n{clean}\n</div>"


def rewrite_images(html: str, stored: dict[str, str]) -> str:
    """`html` with each `<img src>` and `<a href>` found in `stored` (source address → address here) replaced."""

    def replace(match: re.Match[str]) -> str:
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        target = stored.get(unescape(raw).strip())
        return f'{match.group(1)}"{escape(target)}"' if target else match.group(0)

    return FILE_REF_ATTR.sub(replace, html or "")


class KbWriter:
    def __init__(self, source: str, *, report: Report, mapping: Mapping | None = None, dry_run: bool = False) -> None:
        self.source = source
        self.report = report
        self.mapping = mapping or Mapping()
        self.dry_run = dry_run
        self._actor: User | None = None

    # --- Records (as the ticket writer keeps them) ------------------------------------------------------

    def _known(self, kind: str, source_id: str) -> ImportedRecord | None:
        return ImportedRecord.objects.filter(source=self.source, kind=kind, source_id=source_id).first()

    def _remember(
        self, kind: str, source_id: str, local_id: int, digest: str, updated_at: datetime | None = None
    ) -> None:
        ImportedRecord.objects.update_or_create(
            source=self.source,
            kind=kind,
            source_id=source_id,
            defaults={"local_id": local_id, "checksum": digest, "source_updated_at": updated_at},
        )

    def local_id(self, kind: str, source_id: str) -> int | None:
        found = self._known(kind, source_id) if source_id else None
        return found.local_id if found else None

    @property
    def actor(self) -> User:
        if self._actor is None:
            self._actor = import_user()
        return self._actor

    # --- Categories -------------------------------------------------------------------------------------

    def category(self, item: KbCategoryIn) -> None:
        digest = checksum(item)
        known = self._known("category", item.source_id)
        existing = Category.objects.filter(pk=known.local_id).first() if known else None
        if existing is not None and known is not None and known.checksum == digest:
            self.report.unchanged["category"] += 1
            return
        name = " ".join(item.name.split())[:120]
        if not name:
            self.report.skip("category", item.source_id, "no name")
            return
        parent = None
        if item.parent:
            parent_id = self.local_id("category", item.parent)
            parent = Category.objects.filter(pk=parent_id).first() if parent_id else None
            if parent is None:
                self.report.skip("category", item.source_id, f"its parent {item.parent} was not imported")
                return
            if parent.parent_id is not None:  # categories nest one level: a deeper section goes beside its parent
                parent = parent.parent
        names = {lang: value for lang, value in item.names.items() if lang in LANGUAGES and value.strip()}
        with transaction.atomic():
            if existing is not None:
                kb.update_category(existing, name=name, names=names, parent=parent, position=min(item.position, 32767))
                self._remember("category", item.source_id, existing.pk, digest)
                self.report.updated["category"] += 1
                return
            # A category of the same name and place here already is the same category.
            category = Category.objects.filter(name=name, parent=parent).first()
            if category is None:
                category = kb.create_category(
                    name=name, slug=self._free_slug(name), parent=parent, position=min(item.position, 32767)
                )
            if names:
                kb.update_category(category, names=names)
            self._remember("category", item.source_id, category.pk, digest)
            self.report.created["category"] += 1

    def _free_slug(self, name: str) -> str:
        base = slugify(name)[:70] or "category"
        slug, n = base, 1
        while Category.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug

    # --- Articles ---------------------------------------------------------------------------------------

    def article(self, item: KbArticleIn) -> None:
        category_id = self.local_id("category", item.category)
        category = Category.objects.filter(pk=category_id).first() if category_id else None
        if category is None:
            self.report.skip("article", item.source_id, f"its category {item.category or '(none)'} was not imported")
            return
        translations = self._languages(item)
        if not translations:
            self.report.skip("article", item.source_id, "no translation in a language of this knowledge base")
            return
        digest = checksum(
            KbArticleIn(item.source_id, item.category, [], item.visibility, sorted(item.tags), item.position)
        )
        known = self._known("article", item.source_id)
        article = Article.objects.filter(pk=known.local_id).first() if known else None
        changed = [
            (language, t)
            for language, t in translations
            if article is None or self._translation_changed(t, article, language)
        ]
        if article is not None and known is not None and known.checksum == digest and not changed:
            self.report.unchanged["article"] += 1
            self.report.unchanged["translation"] += len(translations)
            return
        visibility = item.visibility if item.visibility in Visibility.values else Visibility.INTERNAL
        new = article is None
        before = (self.report.created.copy(), self.report.updated.copy(), self.report.unchanged.copy())
        try:
            with transaction.atomic():
                if article is None:
                    article = self._create(item, category, visibility, translations[0])
                    changed = translations[1:]
                    self.report.created["article"] += 1
                elif known is None or known.checksum != digest:
                    kb.update_article(self.actor, article, category=category, visibility=visibility, tags=item.tags)
                    self.report.updated["article"] += 1
                else:
                    self.report.unchanged["article"] += 1
                self._remember("article", item.source_id, article.pk, digest, item.updated_at)
                stored = self._images(item, article)
                for index, (language, translation) in enumerate(translations):
                    # A new article's first translation was saved before its images were stored:
                    # saved again when its images' addresses change.
                    first = new and index == 0
                    body = article_body(translation.body_html)
                    if first and rewrite_images(body, stored) != body:
                        self._save_translation(article, language, translation, stored, first=True)
                    elif not first and (language, translation) in changed:
                        self._save_translation(article, language, translation, stored, first=False)
                    elif not first:
                        self.report.unchanged["translation"] += 1
                dates: dict[str, Any] = {}
                if item.created_at:
                    dates["created_at"] = item.created_at
                if item.updated_at:
                    dates["updated_at"] = item.updated_at
                if dates:  # the article's own dates, not the import's (what the help centre shows)
                    Article.objects.filter(pk=article.pk).update(**dates)
        except (InvalidInput, TooLarge) as exc:  # rolled back: nothing of it was written
            self.report.created, self.report.updated, self.report.unchanged = before
            self.report.skip("article", item.source_id, str(exc))

    def _languages(self, item: KbArticleIn) -> list[tuple[str, KbTranslationIn]]:
        """Each translation with its language here; one per language, the others reported."""
        found: list[tuple[str, KbTranslationIn]] = []
        taken: set[str] = set()
        for translation in item.translations:
            language = language_of(translation.locale)
            if language is None:
                self.report.skip(
                    "translation",
                    translation.source_id,
                    f"article {item.source_id}: language {translation.locale!r} is not one of {', '.join(LANGUAGES)}",
                )
            elif language in taken:
                self.report.skip(
                    "translation",
                    translation.source_id,
                    f"article {item.source_id}: another translation is already in {language!r}",
                )
            elif not " ".join(translation.title.split()):
                self.report.skip("translation", translation.source_id, f"article {item.source_id}: no title")
            else:
                taken.add(language)
                found.append((language, translation))
        return found

    def _translation_changed(self, translation: KbTranslationIn, article: Article, language: str) -> bool:
        known = self._known("translation", translation.source_id)
        if known is None or known.checksum != checksum(translation):
            return True
        return not ArticleTranslation.objects.filter(pk=known.local_id, article=article, language=language).exists()

    def _create(
        self, item: KbArticleIn, category: Category, visibility: str, first: tuple[str, KbTranslationIn]
    ) -> Article:
        language, translation = first
        created = kb.create_article(
            self.actor,
            category=category,
            text=self._text(language, translation, {}, slug_suffix=item.source_id),
            visibility=visibility,
            tags=item.tags,
            publish=not translation.draft,
        )
        self._after_save(created, translation)
        self.report.created["translation"] += 1
        return created.article

    def _text(
        self, language: str, translation: KbTranslationIn, stored: dict[str, str], *, slug_suffix: str
    ) -> kb.ArticleText:
        title = " ".join(translation.title.split())[: kb.MAX_TITLE]
        slug = slugify(title, allow_unicode=True)[:180] or "article"
        if ArticleTranslation.objects.filter(language=language, slug=slug).exists():
            slug = f"{slug}-{slug_suffix}"[:200]
        return kb.ArticleText(
            language=language, title=title, body=rewrite_images(article_body(translation.body_html), stored), slug=slug
        )

    def _save_translation(
        self, article: Article, language: str, translation: KbTranslationIn, stored: dict[str, str], *, first: bool
    ) -> None:
        current = ArticleTranslation.objects.filter(article=article, language=language).first()
        text = self._text(language, translation, stored, slug_suffix=str(article.pk))
        if current is not None:
            text.slug = current.slug  # an address people may have bookmarked here stays
        saved = kb.save_translation(self.actor, article, text, note=f"Imported from {self.source}")
        if translation.draft and saved.is_published:
            saved = kb.unpublish_translation(self.actor, saved)
        elif not translation.draft and not saved.is_published:
            saved = kb.publish_translation(self.actor, saved)
        self._after_save(saved, translation)
        if not first:
            if current is None:
                self.report.created["translation"] += 1
            else:
                self.report.updated["translation"] += 1

    def _after_save(self, saved: ArticleTranslation, translation: KbTranslationIn) -> None:
        if saved.is_published and translation.created_at:
            ArticleTranslation.objects.filter(pk=saved.pk).update(published_at=translation.created_at)
        self._remember("translation", translation.source_id, saved.pk, checksum(translation), translation.updated_at)

    # --- Images -----------------------------------------------------------------------------------------

    def _images(self, item: KbArticleIn, article: Article) -> dict[str, str]:
        """Source address → address here of every image of the article, stored once each."""
        stored: dict[str, str] = {}
        for image in item.images:
            source_id = f"{item.source_id}:{hashlib.sha256(image.url.encode()).hexdigest()[:40]}"
            known = self._known("image", source_id)
            found = ArticleFile.objects.filter(pk=known.local_id, article=article).first() if known else None
            if found is not None:
                stored[image.url] = found.url()
                self.report.unchanged["image"] += 1
                continue
            if self.dry_run:  # nothing is downloaded on a dry run
                self.report.created["image"] += 1
                continue
            try:
                content = image.fetch() if image.fetch else b""
            except (SourceError, OSError) as exc:  # a broken image is reported; the article still comes
                self.report.skip("image", image.url, f"article {item.source_id}: cannot download it: {exc}")
                continue
            content_type = mimetypes.guess_type(image.filename)[0] or "application/octet-stream"
            upload = SimpleUploadedFile(image.filename or "image", content, content_type=content_type)
            try:
                with transaction.atomic():
                    saved = kb.add_article_file(self.actor, article, upload)
            except (InvalidInput, TooLarge) as exc:
                self.report.skip("image", image.url, f"article {item.source_id}: {exc}")
                continue
            self._remember("image", source_id, saved.pk, "")
            stored[image.url] = saved.url()
            self.report.created["image"] += 1
        return stored

    # --- Macros -----------------------------------------------------------------------------------------

    def macro(self, item: MacroIn) -> None:
        from sportello.automation.actions import FIELD_ACTIONS, validate_actions
        from sportello.automation.models import Macro

        for what in item.unmapped:
            self.report.unmapped[("macro action", f"{what} (macro {item.name!r})")] += 1
        digest = checksum(item)
        known = self._known("macro", item.source_id)
        existing = Macro.objects.filter(pk=known.local_id).first() if known else None
        if existing is not None and known is not None and known.checksum == digest:
            self.report.unchanged["macro"] += 1
            return
        name = " ".join(item.name.split())[:120]
        if not name:
            self.report.skip("macro", item.source_id, "no name")
            return
        actions = [a for a in (self._action(item, action) for action in item.actions) if a is not None]
        try:
            actions = validate_actions(actions, allowed=FIELD_ACTIONS)
        except InvalidInput as exc:
            self.report.skip("macro", item.source_id, str(exc))
            return
        owner = None
        if item.owner:
            owner_id = self.local_id("agent", item.owner)
            owner = User.objects.filter(pk=owner_id).first() if owner_id else None
            if owner is None:
                self.report.unmapped[("macro owner", f"{item.owner} (macro {item.name!r}: shared instead)")] += 1
        with transaction.atomic():
            macro = existing or Macro()
            macro.name, macro.body, macro.actions, macro.active, macro.owner = (
                name,
                item.body,
                actions,
                item.active,
                owner,
            )
            macro.save()
            self._remember("macro", item.source_id, macro.pk, digest, item.updated_at)
        if existing is not None:
            self.report.updated["macro"] += 1
        else:
            self.report.created["macro"] += 1

    def _action(self, item: MacroIn, action: dict[str, Any]) -> dict[str, Any] | None:
        """The action with the source's values made Sportello's, or None (reported)."""
        kind = action.get("type")
        if kind == "set_status":
            category = self.mapping.status(str(action.get("status") or ""))
            if category is None:
                self.report.unmapped[("macro action", f"status {action.get('status')!r} (macro {item.name!r})")] += 1
                return None
            return {"type": kind, "status": statuses.builtin(category).slug}
        if kind == "set_priority":
            priority = self.mapping.priority(str(action.get("priority") or ""))
            if priority is None:
                self.report.unmapped[
                    ("macro action", f"priority {action.get('priority')!r} (macro {item.name!r})")
                ] += 1
                return None
            return {"type": kind, "priority": priority}
        if kind == "set_group":
            group = self.local_id("group", str(action.get("group") or ""))
            if group is None:
                self.report.unmapped[("macro action", f"group {action.get('group')!r} (macro {item.name!r})")] += 1
                return None
            return {"type": kind, "group": group}
        if kind == "set_assignee":
            if action.get("assignee") is None:
                return {"type": kind, "assignee": None}
            agent = self.local_id("agent", str(action.get("assignee")))
            if agent is None:
                self.report.unmapped[
                    ("macro action", f"assignee {action.get('assignee')!r} (macro {item.name!r})")
                ] += 1
                return None
            return {"type": kind, "assignee": agent}
        if kind in ("add_tags", "remove_tags", "set_tags"):
            tags = [str(t).strip()[:50] for t in action.get("tags") or [] if str(t).strip()]
            return {"type": kind, "tags": tags} if tags else None
        self.report.unmapped[("macro action", f"{kind} (macro {item.name!r})")] += 1
        return None
