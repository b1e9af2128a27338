"""Write the Excel template users fill in with observations (``khforecast template``).

The workbook has four sheets: ``Dữ liệu`` (one row per catalog indicator, years as columns,
the plan's targets beside each row for reference), ``Nguồn`` (the source and status of each
value, by indicator, place and year or year range), ``Nhiệm vụ`` (one row per Appendix II task
for its progress report, :mod:`khforecast.observations.task_sheet`) and ``Hướng dẫn``
(instructions in Vietnamese and English). :func:`khforecast.observations.read.read_observations`
reads the data back, :func:`khforecast.observations.tasks.read_task_reports` the task reports.
With ``department`` the workbook holds only that current lead department's indicators and tasks.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from khforecast._io import atomic_write_bytes
from khforecast.observations.records import (
    DATA_SHEET,
    DEFAULT_PLACE,
    INSTRUCTIONS_SHEET,
    OBSERVATION_STATUSES,
    SOURCES_COLUMNS,
    SOURCES_SHEET,
    YEAR_MAX,
    YEAR_MIN,
)
from khforecast.observations.task_sheet import TASK_SHEET_GUIDE, add_tasks_sheet
from khforecast.plan.departments import department_items
from khforecast.plan.catalog import load_catalog

if TYPE_CHECKING:  # pragma: no cover
    from khforecast.plan.catalog import Catalog

__all__ = ["write_template", "REFERENCE_HEADERS"]

#: Header of the data sheet's columns before the years: the reader uses ``indicator_id`` and
#: ``place``; the others are reference for the person filling it in.
REFERENCE_HEADERS: tuple[str, ...] = (
    "indicator_id", "Chỉ tiêu / Indicator", "Đơn vị / Unit", "Nhập / Enter",
    "Mục tiêu 2025 / Target 2025", "Mục tiêu 2030 / Target 2030", "place",
)

_OBSERVE = {"level": "mức của năm / level in the year",
            "flow": "số phát sinh trong năm / yearly flow"}

_INSTRUCTIONS: tuple[str, ...] = (
    "HƯỚNG DẪN NHẬP SỐ LIỆU (khforecast)",
    "",
    f"1. Sheet '{DATA_SHEET}': mỗi dòng là một chỉ tiêu của Phụ lục I, Kế hoạch 8839/KH-UBND; "
    "mỗi cột năm là một năm. Nhập số liệu đã có vào ô của năm tương ứng; để trống nếu chưa có.",
    "2. Nhập theo đơn vị của chỉ tiêu (cột 'Đơn vị'). Tỷ lệ % nhập từ 0 đến 100 (45,2 chứ không "
    "phải 0,452). Số lượng không được âm.",
    "3. Cột 'Nhập': 'mức của năm' là giá trị của năm đó (ví dụ tỷ lệ hộ nghèo cuối năm); "
    "'số phát sinh trong năm' là số hoàn thành trong năm (ví dụ số căn nhà ở xã hội hoàn thành "
    "trong năm); khforecast tự cộng dồn.",
    "4. Cột 'place' là mã địa bàn (mặc định khanh_hoa). Để nhập cho địa bàn khác (ví dụ "
    "ninh_thuan, khanh_hoa_merged, vietnam), sao chép dòng và sửa mã; mỗi chỉ tiêu, địa bàn, "
    "năm chỉ có một giá trị.",
    "5. Nhập số dạng số (không nhập dấu %, không nhập chữ). Nếu Excel tự đổi số thành ngày "
    "tháng, định dạng ô là Number rồi nhập lại.",
    f"6. Sheet '{SOURCES_SHEET}': mỗi dòng ghi nguồn của số liệu: indicator_id, place (để trống "
    "= khanh_hoa), year (một năm, một khoảng như 2018-2024, hoặc để trống = mọi năm), source "
    "(tên ấn phẩm, đường dẫn), status (" + ", ".join(OBSERVATION_STATUSES) + "), note. Dòng ghi riêng một "
    "năm được ưu tiên hơn dòng ghi khoảng năm, dòng ghi khoảng năm ưu tiên hơn dòng để trống.",
    "7. Kiểm tra tệp bằng lệnh: khforecast validate TEN_TEP.xlsx (mọi lỗi được liệt kê kèm ô).",
    "8. Không đổi tên các sheet, không sửa dòng tiêu đề (dòng 1). Có thể thêm cột năm mới ở bên "
    "phải (tiêu đề là năm, ví dụ 2014).",
    "",
    "HOW TO FILL IN THIS TEMPLATE (English)",
    "",
    f"1. Sheet '{DATA_SHEET}': one row per indicator of Appendix I of plan 8839/KH-UBND, one "
    "column per year. Type each value you have in its year's cell; leave the rest empty.",
    "2. Use the indicator's unit (column 'Unit'). Percentages are 0-100 (45.2, not 0.452). "
    "Counts cannot be negative.",
    "3. Column 'Enter': 'level' is the value in that year (e.g. the poverty rate at year end); "
    "'yearly flow' is what was completed during the year (e.g. social-housing units completed); "
    "khforecast sums the flows itself.",
    "4. Column 'place' is the area code (default khanh_hoa). For another area (ninh_thuan, "
    "khanh_hoa_merged, vietnam, ...) copy the row and change the code; one value per "
    "indicator, place and year.",
    "5. Type numbers as numbers (no % sign, no text). If Excel turns a number into a date, "
    "format the cell as Number and type it again.",
    f"6. Sheet '{SOURCES_SHEET}': one row per source: indicator_id, place (empty = khanh_hoa), "
    "year (one year, a range such as 2018-2024, or empty = every year), source (publication, "
    "URL), status (" + ", ".join(OBSERVATION_STATUSES) + "), note. A row for one year wins over a range, "
    "and a range over an empty year.",
    "7. Check the file with: khforecast validate FILE.xlsx (every problem is listed with its "
    "cell).",
    "8. Do not rename the sheets or edit the header row (row 1). You may add year columns on "
    "the right (header = the year, e.g. 2014).",
    "",
    *TASK_SHEET_GUIDE,
)


def write_template(path: str | os.PathLike[str], catalog: Catalog | None = None, *,
                   start_year: int = 2015, end_year: int = 2030, place: str = DEFAULT_PLACE,
                   force: bool = False, department: str | None = None) -> Path:
    """Write the observations template to ``path`` (an ``.xlsx``), atomically.

    Parameters
    ----------
    path : path-like
        Output file; must end in ``.xlsx``.
    catalog : Catalog, optional
        Default: :func:`khforecast.plan.catalog.load_catalog`.
    start_year, end_year : int
        First and last year column (inclusive), within ``YEAR_MIN``..``YEAR_MAX``.
    place : str
        Place code written in every row's ``place`` cell.
    force : bool
        Overwrite an existing file.
    department : str, optional
        A current lead department (name or slug, e.g. ``"Sở Nội vụ"``): only its indicators
        and tasks are written (:func:`khforecast.plan.departments.department_items`).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``force`` is false.
    ValueError
        When the years are out of order or range, or the name does not end in ``.xlsx``.
    CatalogError
        When ``department`` is not a current lead department.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise ValueError(f"the template must be an .xlsx file, got {out.name!r}")
    if not YEAR_MIN <= start_year <= end_year <= YEAR_MAX:
        raise ValueError(f"years must satisfy {YEAR_MIN} <= start <= end <= {YEAR_MAX}, got "
                         f"{start_year}..{end_year}")
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; use --force to overwrite it")
    if catalog is None:
        catalog = load_catalog()
    indicators, tasks = (department_items(catalog, department) if department is not None
                         else (list(catalog.indicators.values()), list(catalog.tasks)))

    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="1F4E78")
    sector_fill = PatternFill("solid", fgColor="D9E1F2")
    ref_fill = PatternFill("solid", fgColor="F2F2F2")
    wrap = Alignment(wrap_text=True, vertical="top")

    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    years = list(range(start_year, end_year + 1))
    header = list(REFERENCE_HEADERS) + years
    ws.append(header)
    for cell in ws[1]:
        cell.font, cell.fill = head_font, head_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    n_ref = len(REFERENCE_HEADERS)
    first_col, last_col = get_column_letter(n_ref + 1), get_column_letter(len(header))

    bounds = {
        "percent": DataValidation(type="decimal", operator="between", formula1="0",
                                  formula2="100", error="Tỷ lệ % từ 0 đến 100 / a percent "
                                  "in 0-100", errorTitle="khforecast"),
        "positive": DataValidation(type="decimal", operator="greaterThanOrEqual",
                                   formula1="0", error="Số không âm / a value >= 0",
                                   errorTitle="khforecast"),
        "real": DataValidation(type="decimal", operator="between", formula1="-1E+15",
                               formula2="1E+15", error="Nhập một số / a number",
                               errorTitle="khforecast"),
    }
    for dv in bounds.values():
        dv.showErrorMessage = True
        ws.add_data_validation(dv)

    current_sector = None
    for ind in indicators:
        if ind.sector != current_sector:
            current_sector = ind.sector
            sec = catalog.sectors.get(ind.sector)
            ws.append([None, f"{ind.sector}. {sec.name_vi}" if sec else ind.sector])
            for cell in ws[ws.max_row][: len(header)]:
                cell.fill = sector_fill
                cell.font = Font(bold=True)
        t25, t30 = ind.targets.get(2025), ind.targets.get(2030)
        quantitative = any(t.is_quantitative for t in ind.targets.values())
        enter = _OBSERVE.get(ind.observed_as, ind.observed_as) if quantitative else \
            "định tính / qualitative"
        ws.append([ind.id, ind.name_vi, ind.unit, enter, t25.text if t25 else "",
                   t30.text if t30 else "", place])
        r = ws.max_row
        ws.cell(r, 1).number_format = "@"
        for c in range(2, n_ref):
            ws.cell(r, c).fill = ref_fill
            ws.cell(r, c).alignment = wrap
        bounds.get(ind.domain, bounds["real"]).add(f"{first_col}{r}:{last_col}{r}")

    widths = {1: 18, 2: 60, 3: 14, 4: 22, 5: 16, 6: 16, 7: 14}
    for c, w in widths.items():
        ws.column_dimensions[get_column_letter(c)].width = w
    for c in range(n_ref + 1, len(header) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 9
    ws.row_dimensions[1].height = 32
    ws.freeze_panes = ws.cell(2, n_ref + 1)

    src = wb.create_sheet(SOURCES_SHEET)
    src.append(list(SOURCES_COLUMNS))
    for cell in src[1]:
        cell.font, cell.fill = head_font, head_fill
    status_dv = DataValidation(type="list", formula1='"' + ",".join(OBSERVATION_STATUSES) + '"',
                               allow_blank=True, error="final / preliminary / estimate / "
                               "illustrative", errorTitle="khforecast")
    status_dv.showErrorMessage = True
    src.add_data_validation(status_dv)
    status_dv.add("E2:E1000")
    for col, w in zip("ABCDEF", (16, 18, 14, 70, 14, 40), strict=True):
        src.column_dimensions[col].width = w
    src.freeze_panes = "A2"

    add_tasks_sheet(wb, catalog, tasks)
    guide = wb.create_sheet(INSTRUCTIONS_SHEET)
    guide.column_dimensions["A"].width = 120
    for line in _INSTRUCTIONS:
        guide.append([line])
        guide.cell(guide.max_row, 1).alignment = Alignment(wrap_text=True, vertical="top")
        if line.startswith(("HƯỚNG DẪN", "HOW TO")):
            guide.cell(guide.max_row, 1).font = Font(bold=True)

    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(out, buf.getvalue())
    return out
