from django.contrib import admin

from sportello.chat.models import ChatChannel, Conversation


@admin.register(ChatChannel)
class ChatChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "enabled", "ask_identity", "group", "max_chats_per_agent", "last_error_at")
    prepopulated_fields = {"key": ("name",)}


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "ticket", "state", "agent", "waiting_since", "closed_at")
    list_filter = ("state", "channel")
    raw_id_fields = ("ticket", "customer", "agent")
