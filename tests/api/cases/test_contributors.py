"""POST /contributors."""

from twtest.framework import test, eq, status, error, is_id, is_timestamp

EMOJI = "\U0001F3B8"  # guitar: 4 bytes in UTF-8, 2 UTF-16 units, 1 code point


def _shape(ctx, j, display_name, external_id):
    eq(set(j), {"id", "display_name", "external_id", "created_at"}, "contributor fields")
    is_id(j["id"], "ctr", "contributor id")
    is_timestamp(j["created_at"], "created_at")
    eq(j["display_name"], display_name, "display_name")
    eq(j["external_id"], external_id, "external_id")


@test
def test_empty_body_no_content_type(ctx):
    r = ctx.api.post("/contributors")  # Content-Length: 0, no Content-Type
    status(r, 201, "empty body without Content-Type")
    _shape(ctx, r.json, None, None)


@test
def test_empty_object(ctx):
    r = ctx.api.post("/contributors", {})
    status(r, 201, "{}")
    _shape(ctx, r.json, None, None)


@test
def test_fields_and_nulls(ctx):
    for body, dn, ext in (
        ({"display_name": "Ana"}, "Ana", None),
        ({"external_id": "github:ana"}, None, "github:ana"),
        ({"display_name": "Ana", "external_id": "x-1"}, "Ana", "x-1"),
        ({"display_name": None, "external_id": None}, None, None),
        ({"display_name": ""}, "", None),
        ({"display_name": "  spaced  "}, "  spaced  ", None),
    ):
        r = ctx.api.post("/contributors", body)
        status(r, 201, "POST /contributors %r" % body)
        _shape(ctx, r.json, dn, ext)


@test
def test_ids_unique(ctx):
    ids = {ctx.contributor() for _ in range(20)}
    eq(len(ids), 20, "distinct contributor ids")


@test
def test_unicode_round_trip(ctx):
    for s in (EMOJI * 3, "Bj\u00f6rk Gu\u00f0mundsd\u00f3ttir", "\u5742\u672c\u9f8d\u4e00",
              "\u0645\u062d\u0645\u062f", "e\u0301", "\U0001F469\u200D\U0001F3A4", "tab\there \"quoted\" back\\slash",
              "</script><script>alert(1)</script>", "line\nbreak", "\u2028\u2029"):
        r = ctx.api.post("/contributors", {"display_name": s, "external_id": s})
        status(r, 201, "display_name %r" % s)
        eq(r.json["display_name"], s, "display_name round-trip")
        eq(r.json["external_id"], s, "external_id round-trip")


@test
def test_length_limits_count_code_points(ctx):
    for field in ("display_name", "external_id"):
        for ch in ("a", "\u00e9", EMOJI):
            r = ctx.api.post("/contributors", {field: ch * 200})
            status(r, 201, "%s of 200 x %r" % (field, ch))
            eq(r.json[field], ch * 200, field + " round-trip")
            r = ctx.api.post("/contributors", {field: ch * 201})
            error(r, 400, what="%s of 201 x %r" % (field, ch))
            assert field in str(r.json["error"]["details"]), "error.details must name %s: %s" % (field, r.describe())


@test
def test_unknown_fields_400(ctx):
    for body in ({"name": "x"}, {"display_name": "x", "id": "ctr_" + "0" * 32}, {"created_at": "x"},
                 {"Display_Name": "x"}, {"": 1}):
        r = ctx.api.post("/contributors", body)
        error(r, 400, what="unknown field in %r" % body)


@test
def test_wrong_types_400(ctx):
    for field in ("display_name", "external_id"):
        for v in (1, 0, 1.5, True, False, [], ["x"], {}, {"x": "y"}):
            r = ctx.api.post("/contributors", {field: v})
            error(r, 400, what="%s = %r" % (field, v))
            assert field in str(r.json["error"]["details"]), "error.details must name %s: %s" % (field, r.describe())
