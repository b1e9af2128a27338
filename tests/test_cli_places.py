"""CLI: forecast --places / --communes / --executor / --scheduler (issue 10)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from khforecast.cli import main

REPO = Path(__file__).resolve().parents[1]

SMALL = ["--sims", "120", "--seed", "5"]


def test_places_same_bytes_processes_and_dask(tmp_path, capsys):
    a, b = tmp_path / "p", tmp_path / "d"
    places = "khanh_hoa,khanh_hoa_merged,ha_noi"
    assert main(["forecast", "--places", places, "--out", str(a), "--jobs", "1", *SMALL]) == 0
    assert main(["forecast", "--places", places, "--out", str(b), "--executor", "dask",
                 "--jobs", "2", "--chunk-size", "2", *SMALL]) == 0
    for name in ("forecasts.csv", "assessment.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    asm = pd.read_csv(a / "assessment.csv", dtype={"indicator_id": str})
    assert list(dict.fromkeys(asm["place"])) == places.split(",")
    man = json.loads((b / "manifest.json").read_text())
    assert man["executor"]["kind"] == "dask" and man["n_places"] == 3 and not man["illustrative"]


def test_unreachable_scheduler_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "forecasts.csv").write_text("old\n")
    code = main(["forecast", "--places", "khanh_hoa", "--out", str(out), "--executor", "dask",
                 "--scheduler", "tcp://127.0.0.1:9", *SMALL])
    err = capsys.readouterr().err
    assert code == 1
    assert "--scheduler tcp://127.0.0.1:9: no dask scheduler answered within 10 s" in err
    assert sorted(p.name for p in out.iterdir()) == ["forecasts.csv"]
    assert (out / "forecasts.csv").read_text() == "old\n"


def test_bad_place_options(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["forecast", "--places", "khanh_hoa,atlantis", "--out", str(out), *SMALL]) == 1
    assert "unknown place code(s) 'atlantis'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["forecast", "--out", str(out), "--executor", "dask", *SMALL]) == 2
    assert "--executor dask and --scheduler need --places or --communes" in capsys.readouterr().err
    assert main(["forecast", "--out", str(out), "--communes", "0", *SMALL]) == 2


def test_communes_stream_illustrative_parquet(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["forecast", "--communes", "1", "--out", str(out), "--jobs", "1", *SMALL]) == 0
    assert "ILLUSTRATIVE communes" in capsys.readouterr().out
    asm = pd.read_parquet(out / "assessment")
    assert set(asm["place"]) == {"an_giang_merged.x0001"} and len(asm) > 90
    # generated data are fitted with the run's models.yaml too (02: the COVID pulses)
    assert asm.loc[asm["indicator_id"] == "02", "model"].str.contains("interventions").all()
    sample = pd.read_parquet(out / "paths_sample")
    assert sample["path"].max() == 19  # 20 paths per series, not all 120
    man = json.loads((out / "manifest.json").read_text())
    assert man["illustrative"] is True and "ILLUSTRATIVE" in man["note"]


def test_run_places_merged_renders_comparison_and_national_overview(places_run):
    assert places_run["rc"] == 0, places_run["stderr"]
    run = Path(places_run["run_dir"])
    man = json.loads((run / "manifest.json").read_text())
    assert len(man["places"]) == 34 and man["successor_of_place"] == "khanh_hoa_merged"
    sector = (run / "html" / "sector_II.html").read_text(encoding="utf-8")
    assert 'id="comparison-II"' in sector and 'id="compare-02"' in sector
    assert "chỉ là thước đo để so sánh" in sector  # the targets were set for Khánh Hòa only
    assert "Khánh Hòa (sau hợp nhất 01/07/2025)</td><td>hạng " in sector
    national = (run / "html" / "national_overview.html").read_text(encoding="utf-8")
    assert 'class="kh-table kh-sortable"' in national and national.count("<tr>") >= 35
    assert "Lâm Đồng (sau hợp nhất 01/07/2025)" in national
    asm = pd.read_csv(run / "assessment.csv", dtype={"indicator_id": str})
    assert asm["place"].iloc[0] == "khanh_hoa" and asm["place"].nunique() == 35


def test_run_unreachable_scheduler_leaves_latest(places_run, capsys):
    out = Path(places_run["out"])
    before = sorted(p.name for p in out.iterdir())
    latest = os.readlink(out / "latest")
    code = main(["run", "--places", "merged", "--out", str(out), "--executor", "dask",
                 "--scheduler", "tcp://127.0.0.1:9", "--sims", "50"])
    assert code == 1
    assert "no dask scheduler answered within 10 s" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before  # no run folder was made
    assert os.readlink(out / "latest") == latest


def _params_with_models(tmp_path: Path, models_yaml: str) -> Path:
    """A params folder: the shipped batch.yaml beside the given models.yaml."""
    folder = tmp_path / "params"
    folder.mkdir()
    (folder / "batch.yaml").write_bytes((REPO / "params" / "batch.yaml").read_bytes())
    (folder / "models.yaml").write_text(models_yaml, encoding="utf-8")
    return folder / "batch.yaml"


def test_places_fit_with_the_runs_model_choices_at_every_place(tmp_path, capsys):
    """models.yaml applies to every place of a multi-place run, as to a single-place run."""
    params = _params_with_models(tmp_path, 'default:\n  models: [combination]\nindicators:\n'
                                 '  "02":\n    models: [drift]\n    interventions: {pulse: [2021]}\n'
                                 '  "04":\n    transform: none\n')
    a, b = tmp_path / "a", tmp_path / "b"
    places = "khanh_hoa,ha_noi,khanh_hoa_merged"
    assert main(["forecast", "--places", places, "--out", str(a), "--params", str(params),
                 "--jobs", "1", *SMALL]) == 0
    assert main(["forecast", "--places", places, "--out", str(b), "--params", str(params),
                 "--executor", "dask", "--jobs", "2", "--chunk-size", "2", *SMALL]) == 0
    for name in ("forecasts.csv", "assessment.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    asm = pd.read_csv(a / "assessment.csv", dtype={"indicator_id": str})
    u = asm[(asm["indicator_id"] == "02") & asm["model"].notna() & (asm["model"] != "")]
    assert set(u["place"]) == set(places.split(","))
    assert u["model"].str.startswith("drift").all()
    assert u["model"].str.contains(r"interventions\(pulse 2021\)", regex=True).all(), set(u["model"])
    man = json.loads((a / "manifest.json").read_text())
    assert man["params"]["model_choices"]["indicators"]["02"]["models"] == ["drift"]
    # the shipped models.yaml (02: COVID pulses 2020 and 2021) reaches the other places too
    c = tmp_path / "c"
    assert main(["forecast", "--places", "ha_noi", "--out", str(c), "--jobs", "1", *SMALL]) == 0
    asm = pd.read_csv(c / "assessment.csv", dtype={"indicator_id": str})
    assert asm.loc[asm["indicator_id"] == "02", "model"].str.contains("interventions").all()


def test_places_choices_checked_against_every_places_data(tmp_path, capsys):
    """Bounds that Ho Chi Minh City's data break (6.4 % in 2021) stop the run before any write."""
    params = _params_with_models(tmp_path, 'indicators:\n  "02":\n    bounds: [0, 6]\n')
    out = tmp_path / "out"
    code = main(["forecast", "--places", "khanh_hoa,ho_chi_minh", "--out", str(out),
                 "--params", str(params), *SMALL])
    err = capsys.readouterr().err
    assert code == 1
    assert "models.yaml, key 'indicators.02.bounds'" in err and "6.4 in 2021" in err, err
    assert not out.exists()
    runs = tmp_path / "runs"
    code = main(["run", "--places", "khanh_hoa,ho_chi_minh", "--out", str(runs),
                 "--params", str(params), "--sims", "50"])
    assert code == 1 and "6.4 in 2021" in capsys.readouterr().err
    assert not runs.exists() or not any(runs.iterdir())
