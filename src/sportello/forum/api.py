"""The forum in the REST API, for agents: read topics with all their posts, reply with the team's
badge, moderate (approve, hide, show), pin, lock, move, and turn a post into a ticket.

Agents read everything, held and hidden posts too; light agents read only. Customers use the
forum's pages, not the API.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import Path, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, caller, errors, text
from sportello.accounts.models import User
from sportello.core.errors import Forbidden, InvalidInput, NotFound
from sportello.core.jsonbody import Flag, MalformedBody, parse_json_object
from sportello.customers import queries
from sportello.forum import services
from sportello.forum.access import post_for_agent, topic_for_agent
from sportello.forum.models import ForumCategory, Post, PostRevision, Topic
from sportello.kb.models import LANGUAGES

router = Router(tags=["forum"])

TopicId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The topic's id")]
PostId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The post's id")]
LanguageCode = Literal[tuple(LANGUAGES)]  # type: ignore[valid-type]


def _require_reader(user: User) -> None:
    if not user.is_authenticated or not user.is_staff_member:
        raise Forbidden("Agents only")


# --- Schemas --------------------------------------------------------------------------------------


class ForumCategoryOut(Schema):
    id: int
    language: str
    slug: str
    name: str
    description: str
    position: int


class ForumPostOut(Schema):
    id: int
    author: int = Field(description="the author's user id")
    author_name: str
    opening: bool = Field(description="the topic's first post")
    by_agent: bool
    state: str = Field(description="published, held (awaiting approval) or hidden")
    body: str = Field(description="Markdown as the author wrote it")
    body_html: str = Field(description="the body rendered and sanitized")
    votes: int
    ticket: int | None = Field(description="the number of the ticket this post became")
    created_at: datetime
    edited_at: datetime | None = Field(description="the latest edit; earlier texts at …/revisions")

    @staticmethod
    def resolve_author(obj: Post) -> int:
        return obj.author_id

    @staticmethod
    def resolve_author_name(obj: Post) -> str:
        return obj.author.display_name

    @staticmethod
    def resolve_ticket(obj: Post) -> int | None:
        return obj.ticket.number if obj.ticket_id and obj.ticket else None


class ForumTopicOut(Schema):
    id: int
    category: int
    language: str
    kind: str
    title: str
    url: str = Field(description="the topic's public address")
    author: int
    pinned: bool
    locked: bool
    hidden: bool
    solution: int | None = Field(description="the post that solved it")
    reply_count: int = Field(description="published replies")
    created_at: datetime
    last_activity_at: datetime

    @staticmethod
    def resolve_category(obj: Topic) -> int:
        return obj.category_id

    @staticmethod
    def resolve_language(obj: Topic) -> str:
        return obj.category.language

    @staticmethod
    def resolve_url(obj: Topic) -> str:
        return obj.public_path()

    @staticmethod
    def resolve_author(obj: Topic) -> int:
        return obj.author_id

    @staticmethod
    def resolve_solution(obj: Topic) -> int | None:
        return obj.solution_id


class ForumTopicDetailOut(ForumTopicOut):
    posts: list[ForumPostOut]

    @staticmethod
    def resolve_posts(obj: Topic) -> list[Post]:
        return list(obj.posts.select_related("author", "ticket").order_by("created_at", "id"))


class ForumPostRevisionOut(Schema):
    id: int
    body: str = Field(description="the post's Markdown before this edit")
    body_html: str
    edited_by: int | None = Field(description="the user id of who replaced this text")
    edited_at: datetime = Field(description="when this text was replaced")

    @staticmethod
    def resolve_edited_by(obj: PostRevision) -> int | None:
        return obj.edited_by_id


class ForumTopicPage(Schema):
    items: list[ForumTopicOut]
    next_cursor: str | None


class ForumTicketOut(Schema):
    ticket: int = Field(description="the new ticket's number")


class ForumTopicQuery(Schema):
    category: Id | None = Field(None, description="topics of this category")
    language: LanguageCode | None = Field(None, description="topics of this language's categories")  # type: ignore[valid-type]
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=200)


class ForumReplyIn(InputSchema):
    body: text(services.MAX_BODY, min_length=1) = Field(description="Markdown; HTML is allowed and sanitized")  # type: ignore[valid-type]


class ForumPostEditIn(InputSchema):
    body: text(services.MAX_BODY) | None = Field(  # type: ignore[valid-type]
        None, description="the new Markdown (the picture's line is kept apart); left out: the text stays"
    )
    remove_image: Flag = Field(False, description="take the post's picture away (its file is deleted)")


def _edit_request_body() -> dict[str, Any]:
    """A post's edit comes as JSON, or as multipart with a new picture in `image` (replacing one)."""
    schema = ForumPostEditIn.model_json_schema()
    multipart = copy.deepcopy(schema)
    multipart["properties"]["image"] = {"type": "string", "format": "binary"}
    body = multipart["properties"]["body"]  # a form field cannot be null: sent or left out
    body.update(next(option for option in body.pop("anyOf") if option.get("type") != "null"))
    body.pop("default", None)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": multipart}},
        }
    }


def _edit_input(request: HttpRequest) -> tuple[ForumPostEditIn, UploadedFile | None]:
    """The edit's fields and its picture. Django reads multipart bodies for POST only, so a PATCH's
    is parsed here, through the same upload handlers and limits."""
    try:
        if request.content_type == "multipart/form-data":
            fields, files = request.parse_file_upload(request.META, request)
            upload = files.get("image")
            if upload is None and files:
                raise InvalidInput("Send the picture as the multipart field 'image'", field="image")
            return ForumPostEditIn.model_validate(fields.dict()), upload
        try:
            payload = parse_json_object(request.body or b"{}")
        except MalformedBody as exc:
            raise InvalidInput(str(exc)) from exc
        return ForumPostEditIn.model_validate(payload), None
    except pydantic.ValidationError as exc:
        raise ValidationError([{**e, "loc": ("body", "data", *e["loc"])} for e in exc.errors()]) from exc
    except MultiPartParserError as exc:
        raise InvalidInput(f"The multipart body cannot be read: {exc}") from exc


class ForumTopicUpdateIn(InputSchema):
    """Only the fields given change."""

    pinned: Flag | None = None
    locked: Flag | None = None
    category: Id | None = Field(None, description="move the topic into this category")


class ForumMergeIn(InputSchema):
    into: Id = Field(description="the topic that takes this one's posts and followers")


# --- Topics ---------------------------------------------------------------------------------------


@router.get("/forum/categories", response={200: list[ForumCategoryOut], **errors()})
def list_forum_categories(request: HttpRequest) -> Any:
    """Every forum category, by language and position."""
    _require_reader(caller(request))
    return ForumCategory.objects.order_by("language", "position", "name", "pk")


@router.get("/forum/topics", response={200: ForumTopicPage, **errors(422)})
def list_forum_topics(request: HttpRequest, params: Query[ForumTopicQuery]) -> Any:
    """Topics of every state, newest id first, a page at a time."""
    _require_reader(caller(request))
    rows = Topic.objects.select_related("category").order_by("-pk")
    if params.category is not None:
        rows = rows.filter(category=params.category)
    if params.language:
        rows = rows.filter(category__language=params.language)
    if params.cursor:
        (last,) = queries.decode(params.cursor, (int,))
        rows = rows.filter(pk__lt=last)
    found = list(rows[: params.size + 1])
    items = found[: params.size]
    return {"items": items, "next_cursor": queries.encode([items[-1].pk]) if len(found) > params.size else None}


@router.get("/forum/topics/{topic_id}", response={200: ForumTopicDetailOut, **errors(404, 422)})
def get_forum_topic(request: HttpRequest, topic_id: TopicId) -> Any:
    """A topic with all its posts, held and hidden ones too."""
    _require_reader(caller(request))
    topic = Topic.objects.select_related("category").filter(pk=topic_id).first()
    if topic is None:
        raise NotFound(f"No topic {topic_id}")
    return topic


@router.patch("/forum/topics/{topic_id}", response={200: ForumTopicDetailOut, **errors(404, 422)})
def update_forum_topic(request: HttpRequest, topic_id: TopicId, data: ForumTopicUpdateIn) -> Any:
    """Pin, lock, or move a topic into another category."""
    user = caller(request)
    topic = topic_for_agent(user, topic_id)
    if data.pinned is not None:
        services.pin_topic(user, topic, pinned=data.pinned)
    if data.locked is not None:
        services.lock_topic(user, topic, locked=data.locked)
    if data.category is not None:
        category = ForumCategory.objects.filter(pk=data.category).first()
        if category is None:
            raise InvalidInput(f"No category with id {data.category}", field="category")
        services.move_topic(user, topic, category)
    return topic


@router.post("/forum/topics/{topic_id}/posts", response={201: ForumPostOut, **errors(404, 422, 429)})
def reply_to_forum_topic(request: HttpRequest, topic_id: TopicId, data: ForumReplyIn) -> Any:
    """The team's reply (shown with its badge); followers are mailed."""
    user = caller(request)
    return Status(201, services.reply_to_topic(user, topic_for_agent(user, topic_id), data.body))


@router.post("/forum/topics/{topic_id}/merge", response={200: ForumTopicDetailOut, **errors(404, 409, 422)})
def merge_forum_topic(request: HttpRequest, topic_id: TopicId, data: ForumMergeIn) -> Any:
    """Move this topic's posts and followers into another; its address then redirects there."""
    user = caller(request)
    source = topic_for_agent(user, topic_id)
    return services.merge_topics(user, source, topic_for_agent(user, data.into))


# --- Posts ----------------------------------------------------------------------------------------


@router.patch(
    "/forum/posts/{post_id}",
    response={200: ForumPostOut, **errors(404, 413, 422, 429)},
    openapi_extra=_edit_request_body(),
)
def edit_forum_post(request: HttpRequest, post_id: PostId) -> Any:
    """Replace a post's text (sanitized as a new post's), its picture (multipart, `image`) or
    remove it (`remove_image`); the text it had becomes a revision."""
    user = caller(request)
    post = post_for_agent(user, post_id)
    data, image = _edit_input(request)
    return services.edit_post(user, post, data.body, image=image, remove_image=data.remove_image)


@router.get("/forum/posts/{post_id}/revisions", response={200: list[ForumPostRevisionOut], **errors(404, 422)})
def list_forum_post_revisions(request: HttpRequest, post_id: PostId) -> Any:
    """A post's earlier texts, newest first, each with who replaced it and when."""
    _require_reader(caller(request))
    post = Post.objects.filter(pk=post_id).first()
    if post is None:
        raise NotFound(f"No post {post_id}")
    return post.revisions.all()


@router.post("/forum/posts/{post_id}/approve", response={200: ForumPostOut, **errors(404, 409, 422)})
def approve_forum_post(request: HttpRequest, post_id: PostId) -> Any:
    """Publish a post held for approval; its author's next posts appear at once."""
    user = caller(request)
    return services.approve_post(user, post_for_agent(user, post_id))


@router.post("/forum/posts/{post_id}/hide", response={200: ForumPostOut, **errors(404, 422)})
def hide_forum_post(request: HttpRequest, post_id: PostId) -> Any:
    """Take a post off the forum (the opening post hides its topic)."""
    user = caller(request)
    return services.hide_post(user, post_for_agent(user, post_id))


@router.post("/forum/posts/{post_id}/show", response={200: ForumPostOut, **errors(404, 409, 422)})
def show_forum_post(request: HttpRequest, post_id: PostId) -> Any:
    """Put a hidden post back."""
    user = caller(request)
    return services.show_post(user, post_for_agent(user, post_id))


@router.post("/forum/posts/{post_id}/ticket", response={201: ForumTicketOut, **errors(404, 409, 422)})
def turn_forum_post_into_ticket(request: HttpRequest, post_id: PostId) -> Any:
    """A ticket from a customer's post: the author is the customer, the post the first entry."""
    user = caller(request)
    ticket = services.turn_post_into_ticket(user, post_for_agent(user, post_id))
    return Status(201, {"ticket": ticket.number})
