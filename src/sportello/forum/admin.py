from django.contrib import admin

from sportello.forum.models import ForumCategory, Member, Report


@admin.register(ForumCategory)
class ForumCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "slug", "position"]
    list_filter = ["language"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["user", "trusted", "banned_at", "banned_by"]
    list_filter = ["trusted"]
    raw_id_fields = ["user", "banned_by"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["post", "reporter", "reason", "created_at", "resolved_at"]
    raw_id_fields = ["post", "reporter"]
