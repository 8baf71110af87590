"""The forum's outbox handler: the mail to a follower about a new reply (forum/mail.py sends it).

The row names the post and the follower, not an address: whoever unfollowed, lost their address,
or whose post was hidden before the row was sent is skipped (and the skip logged), and the mail
says what is true when it leaves.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.urls import reverse

from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer
from sportello.forum import services
from sportello.forum.models import Follow, Post, PostState
from sportello.forum.templatetags.forum import forum_name
from sportello.kb.render import plain_text, summary_of

log = logging.getLogger("sportello.forum")

EXCERPT = 600  # characters of the reply quoted in the mail


def handle_reply_mail(message: OutboxMessage) -> None:
    from sportello.forum.mail import send_forum_reply
    from sportello.mail.outbound import outbox_message_id

    p = message.payload
    post = Post.objects.select_related("topic__category", "author").filter(pk=p.get("post")).first()
    follow = (
        Follow.objects.select_related("user").filter(topic=post.topic_id if post else None, user=p.get("user")).first()
    )
    if post is None or follow is None or post.state != PostState.PUBLISHED or post.topic.hidden:
        log.info("outbox %s: forum reply mail not sent: the post is gone or hidden, or the follow ended", message.pk)
        return
    user = follow.user
    customer = Customer.objects.filter(user=user).first()
    to = (customer.primary_email if customer else "") or user.email
    if not to or not user.is_active:
        log.info("outbox %s: forum reply mail not sent: user %s has no address", message.pk, user.pk)
        return
    token = services.unsubscribe_token(follow)
    send_forum_reply(
        to=to, name=(customer.name if customer else "") or user.get_full_name(),
        language=post.topic.category.language, topic=post.topic.title, author=forum_name(post.author),
        excerpt=summary_of(plain_text(post.body_html), EXCERPT), url=settings.SITE_URL + services.post_path(post),
        unsubscribe_url=settings.SITE_URL + reverse("forum:unsubscribe", kwargs={"token": token}),
        message_id=outbox_message_id(message, "forum"),
    )  # fmt: skip


def register() -> None:
    from sportello.core import outbox
    from sportello.mail.tasks import describe, is_transient
    from sportello.tickets.delivery import RETRY_DELAYS

    outbox.register(
        services.REPLY_MAIL, handle_reply_mail, delays=RETRY_DELAYS, transient=is_transient, describe=describe
    )
