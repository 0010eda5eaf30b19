"""Keyword rules: matching order, the dry run on past cases, and saving only after it (admin and API)."""

from __future__ import annotations

import pytest

from civicgrid.core.models import AuditEntry
from civicgrid.routing import rules
from civicgrid.routing.models import KeywordRule
from civicgrid.routing.tests.factories import closed_case

pytestmark = [pytest.mark.django_db, pytest.mark.urls("civicgrid.routing.tests.urls")]


def test_priority_then_the_longer_phrase_then_all_words(world, cats):
    KeywordRule.objects.create(phrase="垃圾", category=cats["garbage"])
    KeywordRule.objects.create(phrase="垃圾 占道", category=cats["stalls"])
    KeywordRule.objects.create(phrase="井盖", category=cats["manhole"], priority=5)
    KeywordRule.objects.create(phrase="路灯", category=cats["lamp"], is_active=False)
    assert rules.match_rule("门口垃圾很多").category_id == cats["garbage"].pk
    assert rules.match_rule("摊贩占道，垃圾满地").category_id == cats["stalls"].pk
    assert rules.match_rule("井盖旁垃圾").category_id == cats["manhole"].pk
    assert rules.match_rule("路灯不亮") is None
    assert rules.match_rule("ＡＢ 垃圾\u3000") is not None


def test_rules_are_reread_when_they_change(world, cats):
    assert rules.match_rule("门口垃圾很多") is None
    rule = KeywordRule.objects.create(phrase="垃圾", category=cats["garbage"])
    assert rules.match_rule("门口垃圾很多").id == rule.pk
    rule.is_active = False
    rule.save()
    assert rules.match_rule("门口垃圾很多") is None


def history(world, cats):
    closed_case(world, cats["garbage"], "井盖旁边垃圾很多")
    closed_case(world, cats["lamp"], "井盖坏了路灯也不亮")
    closed_case(world, cats["manhole"], "井盖不见了")
    closed_case(world, cats["manhole"], "井盖破裂")
    closed_case(world, cats["stalls"], "门口占道经营")


def test_dry_run_counts_what_would_change(world, cats):
    history(world, cats)
    result = rules.dry_run("井盖", cats["manhole"])
    assert (result.matched, result.changed, result.already, result.shadowed) == (4, 2, 2, 0)
    assert {e["from"] for e in result.examples} == {"垃圾清运", "路灯不亮"}
    assert "2 件将改变分类" in result.summary()


def test_dry_run_counts_cases_a_stronger_rule_decides_as_shadowed(world, cats):
    history(world, cats)
    KeywordRule.objects.create(phrase="路灯", category=cats["lamp"], priority=9)
    result = rules.dry_run("井盖", cats["manhole"])
    assert (result.matched, result.changed, result.shadowed) == (4, 1, 1)
    # Editing a rule: the rule itself is not its own competitor.
    own = KeywordRule.objects.create(phrase="井盖", category=cats["manhole"], priority=20)
    assert rules.dry_run("井盖", cats["manhole"], priority=20, exclude_rule=own.pk).shadowed == 0


def test_the_admin_saves_a_rule_only_after_showing_its_dry_run(world, cats, client):
    history(world, cats)
    client.force_login(world.users["admin"])
    form = {"phrase": "井盖", "category": cats["manhole"].pk, "priority": "0", "is_active": "on", "note": ""}
    first = client.post("/admin/routing/keywordrule/add/", form)
    assert first.status_code == 200
    body = first.content.decode()
    assert "4 件含该关键词" in body and "2 件将改变分类" in body
    assert not KeywordRule.objects.exists()
    seen = first.context["adminform"].form.data["dry_run_seen"]
    second = client.post("/admin/routing/keywordrule/add/", {**form, "dry_run_seen": seen})
    assert second.status_code == 302
    rule = KeywordRule.objects.get()
    assert rule.dry_run["changed"] == 2 and rule.created_by == world.users["admin"]
    assert AuditEntry.objects.filter(action="routing.rule.save").exists()
    # A different phrase needs a new look at its own figures.
    changed = {**form, "phrase": "垃圾", "dry_run_seen": seen}
    third = client.post(f"/admin/routing/keywordrule/{rule.pk}/change/", changed)
    assert third.status_code == 200 and "试运行" in third.content.decode()


def post(client, path, body, headers):
    return client.post(path, body, content_type="application/json", headers=headers)


def test_the_api_dry_run_and_create_with_confirmation(world, cats, client):
    history(world, cats)
    headers = world.bearer("dispatcher_a")
    r = post(client, "/api/v1/routing/rules/dry-run", {"phrase": "井盖", "category": "SZ02"}, headers)
    assert r.status_code == 200, r.content
    assert r.json()["changed"] == 2 and r.json()["matched"] == 4
    body = {"phrase": "井盖", "category": "SZ02", "priority": 3, "confirm_changed": 5}
    r = post(client, "/api/v1/routing/rules", body, headers)
    assert r.status_code == 422 and r.json()["error"]["details"] == [
        {"field": "confirm_changed", "message": "试运行结果已变化，请重新确认", "problem": 2}
    ]
    # A priority the database column cannot hold is refused by name, not a 500.
    r = post(client, "/api/v1/routing/rules", {**body, "priority": 10**20}, headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].endswith("priority")
    body["confirm_changed"] = 2
    r = post(client, "/api/v1/routing/rules", body, headers)
    assert r.status_code == 201 and r.json()["dry_run"]["changed"] == 2
    r = client.get("/api/v1/routing/rules", headers=headers)
    assert [row["phrase"] for row in r.json()] == ["井盖"]


@pytest.mark.parametrize("who", ["handler_cg", "staff_a1", "resident"])
def test_only_dispatchers_and_administrators_edit_rules(world, cats, client, who):
    headers = world.bearer(who)
    body = {"phrase": "井盖", "category": "SZ02"}
    assert post(client, "/api/v1/routing/rules/dry-run", body, headers).status_code == 403
    assert post(client, "/api/v1/routing/rules", body, headers).status_code == 403
    assert client.get("/api/v1/routing/rules", headers=headers).status_code == 403
    assert not KeywordRule.objects.exists()
