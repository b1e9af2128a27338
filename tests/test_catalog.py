"""The catalog: transcription of Appendix I/II against the plan text, readings, loader, command."""
from __future__ import annotations

import csv
import io
import json
from importlib import resources

import pytest
import yaml

import khforecast.plan.catalog as catalog_mod
from khforecast.cli import main
from khforecast.errors import CatalogError
from khforecast.plan.catalog import Indicator, load_catalog, normalize_sector
from khforecast.plan.targets import parse_target

SUB_ROWS = {"33.poor_districts", "33.ethnic_minority", "73.remote", "73.other", "82.urban",
            "82.rural", "83.urban", "83.rural", "85.urban", "85.rural", "86.urban", "86.rural"}
HEADINGS = {"73", "85", "86"}


def _data(name: str) -> str:
    return resources.files("khforecast").joinpath("data", "catalog", name).read_text("utf-8")


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.fixture(scope="module")
def plan_lines():
    return _data("ke-hoach-8839-KH-UBND-2024.txt").split("\n")


@pytest.fixture(scope="module")
def raw_rows():
    return {str(r["id"]): r for r in yaml.safe_load(_data("indicators.yaml"))["indicators"]}


# --------------------------------------------------------------------------------------------
# counts and structure
# --------------------------------------------------------------------------------------------
def test_92_numbered_indicators_and_the_sub_rows(cat):
    assert [i.id for i in cat.numbered()] == [f"{n:02d}" for n in range(1, 93)]
    assert {i.id for i in cat.indicators.values() if not i.is_numbered} == SUB_ROWS
    assert len(cat.indicators) == 104
    for sid in SUB_ROWS:
        assert cat.get(sid).parent == sid.split(".")[0]


def test_headings_have_no_target_of_their_own_but_children(cat):
    for hid in HEADINGS:
        ind = cat.get(hid)
        assert {t.kind for t in ind.targets.values()} == {"none"}
        assert len(cat.children(hid)) == 2
    assert [c.id for c in cat.children("33")] == ["33.poor_districts", "33.ethnic_minority"]


@pytest.mark.parametrize("sector, n_numbered", [
    ("I", 1), ("II", 6), ("III", 5), ("IV", 11), ("V", 19), ("VI", 13), ("VII", 17),
    ("VIII", 7), ("IX", 5), ("X", 8),
])
def test_indicators_per_sector(cat, sector, n_numbered):
    assert sum(i.is_numbered for i in cat.in_sector(sector)) == n_numbered
    assert cat.sectors[sector].name_vi and cat.sectors[sector].name_en


def test_every_row_is_transcribed_from_the_plan(cat, plan_lines):
    """Number, name, unit, both target texts and the 'X' sit where plan_line says."""
    for ind in cat.indicators.values():
        at = ind.plan_line - 1
        if ind.is_numbered:
            assert plan_lines[at].strip() == str(int(ind.id)), ind.id
            at += 1
        assert plan_lines[at].strip() == ind.name_vi, ind.id
        if ind.id in ("85", "86"):  # headings whose cells are all on the sub-rows
            continue
        cells = [ind.unit] if ind.unit else []
        cells += [ind.targets[2025].text, ind.targets[2030].text]
        got = [plan_lines[at + 1 + k].strip() for k in range(len(cells))]
        assert got == cells, ind.id
        has_x = plan_lines[at + 1 + len(cells)].strip() == "X"
        inherited = "Resolution-42 flag as row" in ind.note
        assert has_x == ind.r42 or (inherited and ind.r42 == cat.get(ind.parent).r42), ind.id


def test_names_leads_and_units(cat):
    assert cat.get("02").name_vi == "Tỉ lệ thất nghiệp chung"
    assert cat.get("59").unit == "Giường" and "10,000" in cat.get("59").unit_en
    assert cat.get("36").leads == ("Sở VH&TT", "Sở LĐTB&XH")
    assert cat.get("85.rural").lead == "Sở NN&PTNT"
    assert cat.get("86.urban").lead == "Sở Xây dựng"  # from its heading row
    assert cat.get("08").unit == "" and cat.get("08").domain == "positive"


@pytest.mark.parametrize("iid, domain, direction, observed_as", [
    ("02", "percent", -1, "level"), ("05", "percent", -1, "level"),
    ("09", "percent", 1, "level"), ("33", "percent", -1, "level"),
    ("35", "positive", 1, "level"), ("42", "positive", 1, "level"),
    ("56", "positive", 0, "level"), ("57", "positive", 1, "level"),
    ("67", "percent", -1, "level"), ("80", "positive", 1, "flow"),
    ("82", "positive", 1, "level"), ("91", "percent", 1, "level"),
])
def test_domain_direction_observed_as(cat, iid, domain, direction, observed_as):
    ind = cat.get(iid)
    assert (ind.domain, ind.direction, ind.observed_as) == (domain, direction, observed_as)


def test_domain_follows_the_unit(cat):
    for ind in cat.indicators.values():
        if ind.unit in ("%", "%/năm"):
            assert ind.domain == "percent", ind.id
        elif ind.unit in ("Người", "người", "Giường", "Tuổi", "Năm", "Căn hộ", "Lần",
                          "m 2  sàn/ người"):
            assert ind.domain == "positive", ind.id


def test_only_row_80_is_a_flow(cat):
    assert [i.id for i in cat.indicators.values() if i.observed_as == "flow"] == ["80"]


# --------------------------------------------------------------------------------------------
# the structured readings of real rows
# --------------------------------------------------------------------------------------------
N = None


@pytest.mark.parametrize("iid, year, text, kind, value, low, high, base, start", [
    ("02", 2025, "< 3", "lt", 3, N, N, N, N),
    ("02", 2030, "< 3", "lt", 3, N, N, N, N),
    ("03", 2025, "< 3,8", "lt", 3.8, N, N, N, N),
    ("03", 2030, "< 3,5", "lt", 3.5, N, N, N, N),
    ("05", 2025, "25", "le", 25, N, N, N, N),
    ("13", 2025, "45", "ge", 45, N, N, N, N),
    ("13", 2030, "> 60", "gt", 60, N, N, N, N),
    ("20", 2025, "Tiểu \xa0học", "qualitative", N, N, N, N, N),
    ("20", 2030, "THCS", "qualitative", N, N, N, N, N),
    ("33", 2025, "1-1,5", "annual_change", N, -1.5, -1.0, 2022, N),
    ("33", 2030, "-", "none", N, N, N, N, N),
    ("33.poor_districts", 2025, "> 7", "annual_change", N, N, -7, 2022, N),
    ("33.ethnic_minority", 2025, "4-5", "annual_change", N, -5, -4, 2022, N),
    ("35", 2025, "2", "ratio_to_base", 2, N, N, 2021, N),
    ("35", 2030, "-", "none", N, N, N, N, N),
    ("42", 2030, ">= 2", "ge", 2, N, N, N, N),
    ("44", 2025, "30-35", "between", N, 30, 35, N, N),
    ("44", 2030, "35-40", "between", N, 35, 40, N, N),
    ("45", 2030, "95-97", "between", N, 95, 97, N, N),
    ("49", 2025, "-", "none", N, N, N, N, N),
    ("49", 2030, "> 975", "gt", 97.5, N, N, N, N),
    ("51", 2025, "100  (hiện nay đã đạt)", "maintain", 100, N, N, N, N),
    ("51", 2030, "100  (duy trì)", "maintain", 100, N, N, N, N),
    ("56", 2025, "-", "none", N, N, N, N, N),
    ("56", 2030, "Bảo đảm vững chắc", "qualitative", N, N, N, N, N),
    ("57", 2025, "74,5", "ge", 74.5, N, N, N, N),
    ("67", 2030, "< 7,5", "lt", 7.5, N, N, N, N),
    ("68", 2030, "Giải quyết cơ bản", "qualitative", N, N, N, N, N),
    ("73.remote", 2030, "80", "ge", 80, N, N, N, N),
    ("80", 2025, "-", "none", N, N, N, N, N),
    ("80", 2030, "48.749", "cumulative", 48749, N, N, N, 2021),
    ("81", 2025, "Giải quyết cơ bản", "qualitative", N, N, N, N, N),
    ("81", 2030, "Xoá bỏ hoàn toàn", "qualitative", N, N, N, N, N),
    ("82", 2025, "27", "ge", 27, N, N, N, N),
    ("82", 2030, "30", "ge", 30, N, N, N, N),
    ("82.urban", 2030, "32", "ge", 32, N, N, N, N),
    ("82.rural", 2030, "28", "ge", 28, N, N, N, N),
    ("83", 2030, "85-90", "between", N, 85, 90, N, N),
    ("86.rural", 2025, "> 95", "gt", 95, N, N, N, N),
])
def test_pinned_readings(cat, iid, year, text, kind, value, low, high, base, start):
    t = cat.get(iid).targets[year]
    assert (t.text, t.kind, t.value, t.low, t.high, t.base_year, t.start_year) == \
        (text, kind, value, low, high, base, start)


def test_mistyped_and_ambiguous_texts_carry_a_note(cat):
    assert "97.5" in cat.get("49").targets[2030].note
    assert "2021" in cat.get("80").targets[2030].note
    assert "2022" in cat.get("33").targets[2025].note
    assert cat.get("51").targets[2030].note


def test_every_target_parses_to_its_stored_reading(raw_rows):
    """The data file and parse_target agree on every one of the 208 targets."""
    for iid, r in raw_rows.items():
        for year, t in r["targets"].items():
            stored = load_catalog().get(iid).targets[year]
            parsed = parse_target(t.get("reading", t["text"]), year, unit=r["unit"],
                                  direction=r["direction"], observed_as=r["observed_as"],
                                  base_year=t.get("base_year"), start_year=t.get("start_year"),
                                  note=stored.note)
            assert parsed.kind == stored.kind, (iid, year)
            assert (parsed.value, parsed.low, parsed.high, parsed.decimals, parsed.strict) == \
                (stored.value, stored.low, stored.high, stored.decimals, stored.strict), (iid, year)


def test_kind_counts(cat):
    kinds = [t.kind for i in cat.indicators.values() for t in i.targets.values()]
    assert len(kinds) == 208
    assert {k: kinds.count(k) for k in ("between", "maintain", "cumulative", "annual_change",
                                        "ratio_to_base", "qualitative")} == {
        "between": 4, "maintain": 2, "cumulative": 1, "annual_change": 3, "ratio_to_base": 1,
        "qualitative": 6}


# --------------------------------------------------------------------------------------------
# lookups, frames, agencies, tasks
# --------------------------------------------------------------------------------------------
def test_get_accepts_one_digit_ids_and_rejects_unknown(cat):
    assert cat.get("3") is cat.get("03")
    with pytest.raises(CatalogError, match=r"unknown indicator id '99'"):
        cat.get("99")
    with pytest.raises(CatalogError, match="ids starting alike: 33, 33.poor_districts"):
        cat.get("33.poor")


@pytest.mark.parametrize("text, sid", [("vi", "VI"), ("VI", "VI"), ("6", "VI"), (" x ", "X")])
def test_normalize_sector(text, sid):
    assert normalize_sector(text) == sid


@pytest.mark.parametrize("bad", ["XI", "0", "11", "sector 1", ""])
def test_normalize_sector_rejects(bad):
    with pytest.raises(CatalogError, match="unknown sector"):
        normalize_sector(bad)


def test_to_frame_columns_and_types(cat):
    df = cat.to_frame()
    base = ["id", "parent", "sector", "name_vi", "name_en", "unit", "domain", "direction", "r42",
            "lead", "partners"]
    per_year = ["target_text", "kind", "value", "low", "high", "base_year", "start_year", "note"]
    for c in base + [f"{c}_{y}" for c in per_year for y in (2025, 2030)]:
        assert c in df.columns, c
    assert len(df) == 104 and df["parent"].isna().sum() == 92
    row = df.set_index("id").loc["80"]
    assert row["start_year_2030"] == 2021 and row["value_2030"] == 48749.0


def test_agency_aliases_and_successors(cat):
    ld = cat.agency("Sở LĐTB&XH")
    assert cat.agency("Sở LĐTBXH") is ld is cat.agency("Sở Lao động - Thương binh và Xã hội")
    assert set(ld.successors.values()) >= {"Sở Nội vụ", "Sở Y tế", "Sở Giáo dục và Đào tạo"}
    assert cat.agency("Sở NN&PTNT").successors["all"] == "Sở Nông nghiệp và Môi trường"
    with pytest.raises(CatalogError, match="unknown agency 'Sở Du lịch'"):
        cat.agency("Sở Du lịch")


def test_lead_current_is_a_successor_of_the_lead(cat):
    for ind in cat.indicators.values():
        succ = {s for lead in ind.leads for s in cat.agency(lead).successors.values()}
        assert set(filter(None, ind.lead_current.split("; "))) <= succ, ind.id
        assert bool(ind.lead_current) == bool(ind.leads), ind.id
    for t in cat.tasks:
        assert t.lead_current in cat.agency(t.lead).successors.values(), t.id
    assert cat.get("24").lead_current == "Sở Y tế"
    assert cat.get("02").lead_current == "Sở Nội vụ"


def test_metadata_notes_the_2025_merger(cat):
    assert cat.meta["plan"] == "8839/KH-UBND"
    assert "Ninh Thuan" in cat.meta["note"] and "1 July 2025" in cat.meta["note"]


def test_tasks_are_transcribed_from_the_plan(cat, plan_lines):
    assert len(cat.tasks) == 69
    groups = [t.group for t in cat.tasks]
    assert {g: groups.count(g) for g in cat.task_groups} == {
        "I": 2, "II": 4, "III": 4, "IV": 14, "V": 15, "VI": 19, "VII": 11}
    for t in cat.tasks:
        at = t.plan_line - 1
        got = [plan_lines[at + k].strip() for k in range(6)]
        assert got == [str(t.number), t.title_vi, t.lead, t.partners, t.approving_level,
                       t.due_text], t.id


@pytest.mark.parametrize("tid, due_year, due_text", [
    ("I.1", 2025, "2025"), ("II.1", 2024, "2024"), ("IV.13", 2025, "2024 - 2025"),
    ("V.4", 2029, "2029"), ("V.5", None, "Sau khi Chính phủ ban hành Nghị định sửa đổi"),
    ("VI.3", 2026, "2026"),
])
def test_task_due(cat, tid, due_year, due_text):
    t = next(t for t in cat.tasks if t.id == tid)
    assert (t.due_year, t.due_text) == (due_year, due_text)


def test_tasks_for_agency_and_sector(cat):
    by_abbrev = cat.tasks_for(agency="Sở LĐTB&XH")
    assert by_abbrev == cat.tasks_for(agency="Sở Lao động - Thương binh và Xã hội")
    assert len(by_abbrev) == 25
    assert [t.id for t in cat.tasks_for(sector="IX")] == [
        "III.3", "III.4", "VI.15", "VI.16", "VI.17", "VI.18"]
    both = cat.tasks_for(agency="Sở Y tế", sector="VII")
    assert both and all(t.lead == "Sở Y tế" for t in both)
    assert len(cat.tasks_for()) == 69


def test_tasks_frame(cat):
    df = cat.tasks_frame()
    assert len(df) == 69 and str(df["due_year"].dtype) == "Int64"
    assert df["due_year"].isna().sum() == 2
    assert {"id", "group", "title_vi", "lead", "lead_current", "partners", "approving_level",
            "due_text", "due_year"} <= set(df.columns)


def test_load_catalog_is_cached():
    assert load_catalog() is load_catalog()


# --------------------------------------------------------------------------------------------
# malformed data files give one clear line
# --------------------------------------------------------------------------------------------
def _patched(monkeypatch, name, edit):
    real = catalog_mod._read_text

    def fake(n: str) -> str:
        return edit(real(n)) if n == name else real(n)

    monkeypatch.setattr(catalog_mod, "_read_text", fake)
    return load_catalog.__wrapped__


@pytest.mark.parametrize("name, edit, match", [
    ("indicators.yaml", lambda s: s.replace("domain: percent", "domain: share", 1),
     r"indicators.yaml entry 1 \(id '01'\), field 'domain': expected percent, positive or real"),
    ("indicators.yaml", lambda s: s.replace("kind: lt,", "kind: below,", 1),
     r"indicator '02', target 2025: kind: expected one of"),
    ("indicators.yaml", lambda s: s.replace("value: 3.8,", "value: abc,", 1),
     r"indicator '03', target 2025: value: expected a number, got 'abc'"),
    ("indicators.yaml", lambda s: s.replace('{text: "48.749", kind: cumulative, value: 48749, '
                                            'start_year: 2021', '{text: "48.749", kind: '
                                            'cumulative, value: 48749', 1),
     r"indicator '80', target 2030: .*missing start_year"),
    ("indicators.yaml", lambda s: s.replace('id: "02"', 'id: "01"', 1),
     r"entry 2 \(id '01'\): duplicate id"),
    ("indicators.yaml", lambda s: s.replace("indicators:", "indicators: [", 1),
     r"indicators.yaml: not valid YAML"),
    ("tasks.csv", lambda s: s.replace("\nI.2,I,2,", "\nI.2,VIII,2,", 1),
     r"tasks.csv row 3, column 'group': expected I..VII, got 'VIII'"),
    ("tasks.csv", lambda s: s.replace(",2029,1110,", ",2029x,1110,", 1),
     r"tasks.csv row \d+, column 'due_year': expected a year or empty, got '2029x'"),
    ("tasks.csv", lambda s: s.replace("approving_level", "level", 1),
     r"tasks.csv: expected columns"),
])
def test_malformed_data_raise_catalog_error(monkeypatch, name, edit, match):
    loader = _patched(monkeypatch, name, edit)
    with pytest.raises(CatalogError, match=match):
        loader()


# --------------------------------------------------------------------------------------------
# the `khforecast catalog` command
# --------------------------------------------------------------------------------------------
def _run(capsys, *argv):
    code = main(["catalog", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_csv_lists_92_numbered_indicators(capsys):
    code, out, err = _run(capsys, "--format", "csv")
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 104
    assert sorted(r["id"] for r in rows if not r["parent"]) == [f"{n:02d}" for n in range(1, 93)]
    for col in ("id", "parent", "sector", "name_vi", "name_en", "unit", "domain", "direction",
                "r42", "lead", "partners", "target_text_2025", "kind_2030", "value_2030",
                "low_2025", "high_2025", "base_year_2025", "start_year_2030", "note_2030"):
        assert col in rows[0], col
    r49 = next(r for r in rows if r["id"] == "49")
    assert (r49["target_text_2030"], r49["kind_2030"], float(r49["value_2030"])) == \
        ("> 975", "gt", 97.5)


def test_cli_json_round_trips(capsys, cat):
    code, out, _ = _run(capsys, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["meta"]["plan"] == "8839/KH-UBND"
    back = [Indicator.from_dict(d) for d in doc["indicators"]]
    assert len(back) == 104
    for ind in back:
        orig = cat.get(ind.id)
        assert ind == orig and dict(ind.targets) == dict(orig.targets)


@pytest.mark.parametrize("argv, ids", [
    (["--id", "33"], ["33", "33.poor_districts", "33.ethnic_minority"]),
    (["--id", "3"], ["03"]),
    (["--id", "82.urban"], ["82.urban"]),
    (["--sector", "ix"], ["80", "81", "82", "82.urban", "82.rural", "83", "83.urban",
                          "83.rural", "84"]),
    (["--sector", "V", "--id", "35"], ["35"]),
])
def test_cli_filters(capsys, argv, ids):
    code, out, _ = _run(capsys, *argv, "--format", "csv")
    assert code == 0
    assert [r["id"] for r in csv.DictReader(io.StringIO(out))] == ids


def test_cli_table_is_aligned_and_vietnamese(capsys):
    code, out, _ = _run(capsys, "--sector", "II")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["id", "sector", "name"]
    assert "Tỉ lệ thất nghiệp chung" in out and "< 3,8" in out
    assert len(lines) == 2 + 6
    starts = {line.index("Sở") for line in lines[2:] if "Sở LĐTB&XH" in line}
    assert len(starts) == 1  # the lead column starts at the same place on every row


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_cli_tasks(capsys, fmt):
    code, out, _ = _run(capsys, "--tasks", "--sector", "IX", "--format", fmt)
    assert code == 0
    for tid in ("III.3", "VI.18"):
        assert tid in out
    assert "I.1" not in out.replace("III.", "").replace("VI.1", "")
    if fmt == "json":
        assert [t["id"] for t in json.loads(out)["tasks"]] == [
            "III.3", "III.4", "VI.15", "VI.16", "VI.17", "VI.18"]


def test_cli_tasks_for_an_indicators_lead(capsys):
    code, out, _ = _run(capsys, "--tasks", "--id", "80", "--format", "csv")
    assert code == 0
    assert {r["lead"] for r in csv.DictReader(io.StringIO(out))} == {"Sở Xây dựng"}


@pytest.mark.parametrize("argv, message", [
    (["--id", "99"], "khforecast: error: unknown indicator id '99'"),
    (["--sector", "XI"], "khforecast: error: unknown sector 'XI'"),
    (["--sector", "VI", "--id", "33"], "khforecast: error: indicator 33 is in sector V, not VI"),
])
def test_cli_unknown_id_or_sector_is_one_line_exit_1(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()] and err.startswith(message)
