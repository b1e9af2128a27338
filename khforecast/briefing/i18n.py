"""Vietnamese and English strings, number formats and probability words for the briefings.

Vietnamese is the default language. Every heading, label and status word of a briefing comes from
:data:`STRINGS` through :func:`t`, so a briefing never mixes languages. Numbers follow each
language's convention: ``3,5 %`` and ``48.749`` in Vietnamese, ``3.5%`` and ``48,749`` in English.

Why one module: it is the one string table of every page; split by page, the same word would be
translated twice and the two could drift apart.

Probabilities are put in words on one fixed scale, close to the IPCC's calibrated language
(Mastrandrea et al. 2010), with wider bands so that every probability gets a word:

=============  =========================  ======================
``p_meet``     Vietnamese                 English
=============  =========================  ======================
>= 0.90        rất có khả năng            very likely
>= 0.66        có khả năng                likely
>= 0.33        khả năng ngang nhau        about as likely as not
>= 0.10        ít có khả năng             unlikely
< 0.10         rất ít có khả năng         very unlikely
=============  =========================  ======================
"""
from __future__ import annotations

import math
import re
from typing import Literal

from khforecast.observations.provinces import bundled_places

__all__ = [
    "LANGS",
    "PROBABILITY_SCALE",
    "STRINGS",
    "Lang",
    "check_lang",
    "format_number",
    "format_percent",
    "format_signed",
    "format_target_text",
    "place_name",
    "scenario_name",
    "probability_words",
    "t",
]

Lang = Literal["vi", "en"]
LANGS: tuple[str, ...] = ("vi", "en")

#: (lower bound of p, Vietnamese words, English words), from the highest band down.
PROBABILITY_SCALE: tuple[tuple[float, str, str], ...] = (
    (0.90, "rất có khả năng", "very likely"),
    (0.66, "có khả năng", "likely"),
    (0.33, "khả năng ngang nhau", "about as likely as not"),
    (0.10, "ít có khả năng", "unlikely"),
    (0.00, "rất ít có khả năng", "very unlikely"),
)

#: key -> (Vietnamese, English). Keys are grouped by prefix: ``status.``, ``escap.``, ``h.``
#: (headings), ``col.`` (table columns), ``fig.`` (chart labels), ``msg.`` (sentences).
STRINGS: dict[str, tuple[str, str]] = {
    # model choices (models.yaml), the deep dive's model sections and the explorer's switch
    "h.model_choices": ("Lựa chọn mô hình (models.yaml)", "Model choices (models.yaml)"),
    "col.interventions": ("Can thiệp", "Interventions"),
    "h.model_comparison": ("So sánh mô hình (kiểm định ngược)", "Model comparison (back-tests)"),
    "h.diagnostics": ("Chẩn đoán mô hình statsmodels", "statsmodels model diagnostics"),
    "h.interventions": ("Tác động của các can thiệp đã khai báo", "Effect of the declared interventions"),
    "col.member": ("Mô hình thành phần", "Member"),
    "col.coverage95": ("Độ phủ khoảng 95 %", "95% interval coverage"),
    "col.fallback": ("Tỷ lệ dùng mô hình thay thế", "Fallback share"),
    "col.test": ("Kiểm định", "Test"),
    "col.statistic": ("Thống kê", "Statistic"),
    "col.p_value": ("Giá trị p", "p-value"),
    "col.reads": ("Đọc là", "Reads"),
    "col.variant": ("Phương án", "Variant"),
    "col.q10": ("Phân vị 10 %", "10% quantile"),
    "col.q90": ("Phân vị 90 %", "90% quantile"),
    "label.run_choice": ("Lựa chọn của lần chạy", "The run's choice"),
    "label.with_interventions": ("Có can thiệp", "With interventions"),
    "label.without_interventions": ("Không can thiệp", "Without interventions"),
    "label.pulse_years": ("Năm cú sốc", "Pulse years"),
    "msg.models_note": ("Ghi chú của thống kê viên (models.yaml): {note}",
                        "Statistician's note (models.yaml): {note}"),
    "msg.models_used": ("Mô hình dùng cho chỉ tiêu này: {models}.",
                        "Members used for this indicator: {models}."),
    "msg.comparison_how": (
        "Mỗi mô hình được kiểm định ngược riêng, qua toàn bộ quy trình (kể cả hiệu chỉnh), từ mỗi "
        "năm gốc có ít nhất 3 quan sát; tỷ lệ thay thế là phần các lần mô hình không chạy được "
        "(chuỗi quá ngắn, không hội tụ) và mô hình thay thế đã chạy.",
        "Each member is back-tested alone through the full engine (calibration included) from "
        "every origin with at least 3 observations; the fallback share is the part of the checks "
        "where the member could not run (too short, no convergence) and its fallback ran."),
    "msg.no_statsmodels": ("Không mô hình statsmodels nào chạy được trên chuỗi này: {reason}.",
                           "No statsmodels member could run on this series: {reason}."),
    "msg.diagnostics_of": ("Mô hình {model} ({why}), {n} phần dư một bước đã chuẩn hóa.",
                           "Model {model} ({why}), {n} standardised one-step residuals."),
    "msg.chosen_file": ("do models.yaml chỉ định", "named in models.yaml"),
    "msg.chosen_best": ("sai số kiểm định ngược nhỏ nhất trong các mô hình statsmodels",
                        "the least back-test error among the statsmodels members"),
    "msg.lb_ok": ("không thấy tự tương quan còn lại", "no autocorrelation left"),
    "msg.lb_bad": ("còn tự tương quan (p < 0,05)", "autocorrelation left (p < 0.05)"),
    "msg.normal_ok": ("không bác bỏ phân phối chuẩn", "normality not rejected"),
    "msg.normal_bad": ("bác bỏ phân phối chuẩn (p < 0,05)", "normality rejected (p < 0.05)"),
    "msg.no_interventions": ("Chỉ tiêu này không khai báo can thiệp nào trong models.yaml.",
                             "No intervention is declared for this indicator in models.yaml."),
    "msg.interventions_declared": ("Can thiệp đã khai báo: {what}. Bên dưới: dự báo của lần chạy và "
                                   "cùng mô hình ước lượng lại khi không khai báo.",
                                   "Declared interventions: {what}. Below: the run's forecast and the "
                                   "same models refitted without them."),
    "msg.model_switch_static": (
        "Trong JupyterLab (interactive = True) có thể đổi mô hình hoặc thêm năm cú sốc cho một chỉ "
        "tiêu: chỉ chuỗi đó được ước lượng lại, xác suất và biểu đồ cập nhật sau vài giây.",
        "In JupyterLab (interactive = True) you can switch the members or add a pulse year for one "
        "indicator: that series alone is refitted, and the probability and the fan chart update "
        "in seconds."),
    # status words (assessment.csv `status`)
    "status.met": ("Đã đạt", "Met"),
    "status.missed": ("Không đạt", "Missed"),
    "status.on_track": ("Đúng hướng", "On track"),
    "status.at_risk": ("Có nguy cơ", "At risk"),
    "status.off_track": ("Chệch hướng", "Off track"),
    "status.no_data": ("Chưa có số liệu", "No data"),
    "status.insufficient_data": ("Chưa đủ số liệu", "Insufficient data"),
    "status.qualitative": ("Định tính", "Qualitative"),
    "status.no_target": ("Không đặt mục tiêu", "No target set"),
    "status.not_yet_published": ("Chưa công bố", "Not yet published"),
    # ESCAP-style progress labels (assessment.csv `escap_label`, when the engine writes it)
    "escap.maintain_progress": ("Duy trì tiến độ", "Maintain progress"),
    "escap.accelerate": ("Cần tăng tốc", "Accelerate progress"),
    "escap.reverse_trend": ("Cần đảo ngược xu hướng", "Reverse trend"),
    # headings
    "h.sector_briefing": ("Báo cáo nhanh lĩnh vực {sector}: {name}",
                          "Sector briefing {sector}: {name}"),
    "h.overview": ("Tổng quan toàn tỉnh: khả năng đạt mục tiêu Kế hoạch 8839/KH-UBND",
                   "Province overview: will plan 8839/KH-UBND meet its targets?"),
    "h.deep_dive": ("Phân tích chuyên sâu chỉ tiêu {id}: {name}",
                    "Indicator deep dive {id}: {name}"),
    "h.scenarios": ("So sánh các kịch bản", "Scenarios compared"),
    "h.scenario_explorer": ("Khám phá kịch bản", "Scenario explorer"),
    "h.headline": ("Tóm tắt", "At a glance"),
    "h.look_back_2025": ("Mục tiêu năm 2025: nhìn lại", "The 2025 targets looked back on"),
    "h.outlook_2030": ("Triển vọng đến năm 2030", "Outlook to 2030"),
    "h.fan_charts": ("Dự báo từng chỉ tiêu", "Forecast of each indicator"),
    "h.required_change": ("Tốc độ cần thiết so với tốc độ lịch sử",
                          "Required versus historical yearly change"),
    "h.agencies_at_risk": ("Cơ quan chủ trì các chỉ tiêu có nguy cơ và nhiệm vụ liên quan",
                           "Lead agencies of the indicators at risk and their tasks"),
    "h.data_gaps": ("Khoảng trống số liệu", "Data gaps"),
    "h.all_targets": ("Toàn bộ mục tiêu có số liệu", "Every target with data"),
    "h.method": ("Ghi chú phương pháp", "Method note"),
    "h.calibration": ("Hiệu chỉnh: độ phủ của khoảng dự báo", "Calibration: interval coverage"),
    "h.sources": ("Nguồn số liệu", "Data sources"),
    "h.status_by_sector": ("Tình trạng theo lĩnh vực (mục tiêu 2030)",
                           "Status by sector (2030 targets)"),
    "h.biggest_risks": ("Những rủi ro lớn nhất", "The biggest risks"),
    "h.accelerations": ("Những chỉ tiêu cần tăng tốc nhiều nhất",
                        "The largest accelerations needed"),
    "h.coverage": ("Mức độ bao phủ số liệu", "Data coverage"),
    "h.data": ("Số liệu và thang đo", "Data and scale"),
    "h.model_fit": ("Mô hình và sai số kiểm định ngược", "Models and back-test errors"),
    "h.distribution_2030": ("Phân phối dự báo năm {year}", "Forecast distribution in {year}"),
    "h.note": ("Ghi chú", "Note"),
    "h.toc": ("Mục lục", "Contents"),
    "h.index": ("Kết quả chạy khforecast", "khforecast run"),
    "h.briefings": ("Các báo cáo", "Briefings"),
    # table columns
    "h.comparison": ("So sánh giữa các tỉnh", "Among the provinces"),
    "h.national": ("Tổng quan toàn quốc: các tỉnh so với mục tiêu của Kế hoạch 8839/KH-UBND",
                   "National overview: the provinces against the targets of plan 8839/KH-UBND"),
    "h.national_table": ("Các tỉnh và tình trạng mục tiêu 2030", "Provinces and their 2030 statuses"),
    "h.national_chart": ("Các tỉnh theo tình trạng (mục tiêu 2030)", "Provinces by status (2030 targets)"),
    "msg.yardstick": ("Các mục tiêu chỉ được đặt cho tỉnh Khánh Hòa (Kế hoạch 8839/KH-UBND); với các "
                      "tỉnh khác, chúng chỉ là thước đo để so sánh, không phải mục tiêu của tỉnh đó.",
                      "The targets were set for Khánh Hòa only (plan 8839/KH-UBND); for every other "
                      "province they are a yardstick for comparison, not that province's targets."),
    "msg.rank_of": ("hạng {rank}/{n}", "rank {rank} of {n}"),
    "msg.not_ranked": ("không xếp hạng (đơn vị hành chính khác thời kỳ)",
                       "not ranked (a unit of another period)"),
    "msg.no_panel_in_sector": ("Không có chỉ tiêu nào của lĩnh vực này có số liệu của tất cả các tỉnh.",
                               "No indicator of this sector has data for every province."),
    "msg.sortable": ("Bấm vào tiêu đề cột để sắp xếp.", "Click a column header to sort."),
    "label.p_meet_yardstick": ("Khả năng đạt mục tiêu 2030 của Khánh Hòa (thước đo)",
                               "P(meet Khánh Hòa's 2030 target), a yardstick"),
    "col.rank": ("Thứ hạng", "Rank"),
    "col.mean_p": ("Khả năng đạt trung bình", "Mean probability of meeting"),
    "fig.n_targets": ("Số mục tiêu 2030", "2030 targets"),
    "col.id": ("Mã", "Id"),
    "col.indicator": ("Chỉ tiêu", "Indicator"),
    "col.unit": ("Đơn vị", "Unit"),
    "col.last_value": ("Giá trị gần nhất", "Last value"),
    "col.target": ("Mục tiêu", "Target"),
    "col.target_2030": ("Mục tiêu 2030", "2030 target"),
    "col.probability": ("Khả năng đạt", "Probability"),
    "col.status": ("Tình trạng", "Status"),
    "col.escap": ("Nhãn ESCAP", "ESCAP label"),
    "col.lead": ("Cơ quan chủ trì", "Lead agency"),
    "col.result": ("Kết quả", "Result"),
    "col.value": ("Giá trị", "Value"),
    "col.year": ("Năm", "Year"),
    "col.place": ("Địa bàn", "Place"),
    "col.source": ("Nguồn", "Source"),
    "col.note": ("Ghi chú", "Note"),
    "col.data_status": ("Loại số liệu", "Data status"),
    "col.sector": ("Lĩnh vực", "Sector"),
    "col.name": ("Tên", "Name"),
    "col.n_indicators": ("Số chỉ tiêu", "Indicators"),
    "col.with_data": ("Có số liệu", "With data"),
    "col.n_obs": ("Số quan sát", "Observations"),
    "col.years": ("Các năm", "Years"),
    "col.required": ("Cần mỗi năm", "Required per year"),
    "col.historical": ("Lịch sử mỗi năm", "Historical per year"),
    "col.ratio": ("Nhanh hơn lịch sử (lần)", "Times the historical pace"),
    "col.agency": ("Cơ quan", "Agency"),
    "col.indicators_at_risk": ("Chỉ tiêu có nguy cơ", "Indicators at risk"),
    "col.task": ("Nhiệm vụ (Phụ lục II)", "Task (Appendix II)"),
    "col.model": ("Mô hình", "Model"),
    "col.scenario": ("Kịch bản", "Scenario"),
    "col.median": ("Trung vị", "Median"),
    "col.interval80": ("Khoảng 80 %", "80% interval"),
    "col.briefing": ("Báo cáo", "Briefing"),
    "col.run_status": ("Trạng thái", "Run status"),
    "col.seconds": ("Thời gian (giây)", "Time (s)"),
    "col.horizon": ("Tầm dự báo (năm)", "Horizon (years)"),
    "col.coverage": ("Độ phủ", "Coverage"),
    "col.nominal": ("Danh nghĩa", "Nominal"),
    "col.count": ("Số chỉ tiêu", "Count"),
    "col.cal_interval": ("Khoảng dự báo", "Interval"),
    "col.cal_nominal": ("Độ phủ danh nghĩa", "Nominal coverage"),
    "col.cal_coverage": ("Độ phủ thực tế ngoài mẫu", "Out-of-sample coverage"),
    "col.cal_coverage_panel_out": ("Độ phủ (giữ riêng từng bảng)", "Coverage, one panel held out"),
    "col.cal_n_backtests": ("Số lần kiểm định ngược", "Back-tests"),
    "col.cal_n_series": ("Số chuỗi", "Series"),
    "col.cal_method": ("Cách kiểm định ngoài mẫu", "Out-of-sample scheme"),
    "col.n": ("Số lần kiểm định", "Checks"),
    "col.mae": ("Sai số tuyệt đối trung bình", "Mean absolute error"),
    "col.coverage80": ("Độ phủ khoảng 80 %", "80% interval coverage"),
    "col.pit": ("PIT trung bình (0,5 nếu không lệch)", "Mean PIT (0.5 if unbiased)"),
    "col.origin": ("Năm gốc dự báo", "Forecast origin"),
    "col.total": ("Tổng", "Total"),
    # figure labels
    "fig.observed": ("Số liệu quan sát", "Observed"),
    "fig.median": ("Trung vị dự báo", "Median forecast"),
    "fig.band": ("Khoảng {level} %", "{level}% band"),
    "fig.target": ("Mục tiêu {year}", "{year} target"),
    "fig.year": ("Năm", "Year"),
    "fig.vietnam": ("Cả nước", "Viet Nam"),
    "fig.required": ("Cần mỗi năm", "Required per year"),
    "fig.historical": ("Lịch sử mỗi năm", "Historical per year"),
    "fig.change_axis": ("Thay đổi mỗi năm (đơn vị của chỉ tiêu)",
                        "Change per year (indicator units)"),
    "fig.sector": ("Lĩnh vực", "Sector"),
    "fig.status": ("Tình trạng", "Status"),
    "fig.probability": ("Khả năng đạt mục tiêu {year}", "Probability of meeting the {year} target"),
    "fig.density": ("Tỷ lệ mô phỏng", "Share of simulations"),
    # sentences
    "msg.illustrative": (
        ("SỐ LIỆU MINH HỌA: các con số trong báo cáo này không phải số liệu thống kê thật, "
        "chỉ dùng để trình diễn công cụ."),
        ("ILLUSTRATIVE DATA: the figures in this briefing are not real statistics; they only "
        "demonstrate the tool.")),
    "msg.headline": ("Mục tiêu 2030 của {n} chỉ tiêu trong lĩnh vực:",
                     "The 2030 targets of the sector's {n} indicators:"),
    "msg.headline_overview": ("Mục tiêu 2030 của {n} chỉ tiêu toàn tỉnh:",
                              "The 2030 targets of the province's {n} indicators:"),
    "msg.nowcast": ("chưa công bố; khả năng đã đạt {p} ({words})",
                    "not yet published; probability it was met {p} ({words})"),
    "msg.no_rows": ("Không có chỉ tiêu nào.", "None."),
    # the lines under a brief's table (issue 12: the brief stays two A4 pages)
    "msg.brief_more": ("Bảng nêu {k} trong {m} chỉ tiêu có số liệu, các chỉ tiêu cần chú ý nhất "
                       "trước; {ids}: ở Phụ lục, mục “{section}”.",
                       "The table shows {k} of the {m} indicators with data, those needing "
                       "most attention first; {ids}: in the annex, “{section}”."),
    "msg.brief_gaps": ("Chưa có số liệu ({n} chỉ tiêu, không nêu trong bảng): {ids}; nguồn và "
                       "số liệu cần gửi ở Phụ lục, mục “{section}”.",
                       "Without data ({n}, not in the table): {ids}; the sources and the data "
                       "to send are in the annex, “{section}”."),
    "msg.brief_gaps_province": ("{n} chỉ tiêu chưa có số liệu không nêu trong bảng; độ phủ số "
                                "liệu từng lĩnh vực ở Phụ lục, mục “{section}”.",
                                "{n} indicators without data are not in the table; each "
                                "sector's coverage is in the annex, “{section}”."),
    "msg.brief_qualitative": ("Mục tiêu định tính (không đo bằng số liệu): {items}.",
                              "Qualitative targets (not measured with data): {items}."),
    "msg.brief_qualitative_n": ("{n} mục tiêu định tính (không đo bằng số liệu) không nêu "
                                "trong bảng.",
                                "{n} qualitative targets (not measured with data) are not in "
                                "the table."),
    "msg.no_quant_data": ("Không có chỉ tiêu định lượng nào của lĩnh vực có số liệu để vẽ.",
                          "No quantitative indicator of this sector has data to chart."),
    "msg.no_risk": ("Không có chỉ tiêu nào có nguy cơ hoặc chệch hướng.",
                    "No indicator is at risk or off track."),
    "msg.gaps_overview": ("{n} trên {total} chỉ tiêu chưa có số liệu công khai cấp tỉnh.",
                          "{n} of {total} indicators have no public provincial data."),
    "msg.past_due": ("quá hạn", "overdue"),
    "msg.successor": ("nay là {name}", "now {name}"),
    # ---- tasks, departments and data requests (issue 11) ----
    "task.no_report": ("chưa có báo cáo", "no report yet"),
    "task.period": ("Thời gian thực hiện theo KH: {period}", "Implementation period in the plan: {period}"),
    "task.reported": ("báo cáo ngày {date}", "reported {date}"),
    "task.stale": ("báo cáo lập trước khi hết thời gian thực hiện",
                   "reported before the period ended"),
    "h.task_tracker": ("Theo dõi thực hiện nhiệm vụ (Phụ lục II)", "Task tracker (Appendix II)"),
    "h.task_counts": ("Tình trạng các nhiệm vụ", "Where the tasks stand"),
    "h.task_by_department": ("Theo cơ quan chủ trì hiện nay", "By current lead department"),
    "h.task_list": ("Danh sách nhiệm vụ", "Every task"),
    "h.scorecard": ("Bảng theo dõi: {name}", "Scorecard: {name}"),
    "h.scorecard_indicators": ("Các chỉ tiêu do cơ quan chủ trì", "The indicators it leads"),
    "h.scorecard_tasks": ("Các nhiệm vụ do cơ quan chủ trì", "The tasks it leads"),
    "h.data_requests": ("Số liệu cần cung cấp", "Data to send"),
    "col.period": ("Thời gian thực hiện theo KH", "Implementation period (plan)"),
    "col.reported_status": ("Tình trạng theo báo cáo", "Reported status"),
    "col.report": ("Báo cáo", "Report"),
    "col.department": ("Cơ quan chủ trì hiện nay", "Current lead department"),
    "col.n_tasks": ("Số nhiệm vụ", "Tasks"),
    "col.change_needed": ("Thay đổi cần mỗi năm (đã đạt mỗi năm)",
                          "Change needed per year (historical)"),
    "col.source_expected": ("Nguồn thường công bố (loại; tần suất)", "Usual source (kind; frequency)"),
    "col.publisher": ("Cơ quan công bố", "Published by"),
    "col.responsible": ("Cơ quan chịu trách nhiệm", "Responsible department"),
    "col.what_to_send": ("Cần gửi", "What to send"),
    "freq.monthly": ("hằng tháng", "monthly"),
    "freq.quarterly": ("hằng quý", "quarterly"),
    "freq.yearly": ("hằng năm", "yearly"),
    "freq.biennial": ("2 năm một lần", "every two years"),
    "freq.irregular": ("không định kỳ", "irregular"),
    "freq.none": ("chưa có", "none"),
    "kind.survey": ("điều tra, khảo sát", "survey"),
    "kind.administrative": ("báo cáo hành chính", "administrative report"),
    "kind.estimate": ("ước tính", "estimate"),
    "kind.none": ("chưa có nguồn", "no source yet"),
    "msg.send_level": ("Giá trị từng năm {years} ({unit}), kèm nguồn và tình trạng số liệu",
                       "The value of each year {years} ({unit}), with its source and status"),
    "msg.send_flow": ("Số phát sinh trong từng năm {years} ({unit}), kèm nguồn và tình trạng số liệu",
                      "The yearly flow of each year {years} ({unit}), with its source and status"),
    "msg.send_more": ("; cần thêm ít nhất {n} năm để dự báo", "; at least {n} more year(s) are needed for a forecast"),
    "msg.requests": (("{n} chỉ tiêu chưa đủ số liệu để đánh giá. Với mỗi chỉ tiêu: nguồn thường "
                      "công bố, cơ quan chịu trách nhiệm và số liệu cần gửi."),
                     ("{n} indicator(s) lack the data to be assessed. For each: the source that "
                      "usually publishes it, the department responsible and what to send.")),
    "msg.no_requests": ("Mọi chỉ tiêu đều đủ số liệu để đánh giá.",
                        "Every indicator has the data to be assessed."),
    "msg.sources_reading": (("Nguồn và tần suất là nhận định của nhóm (data_sources.yaml), cần "
                             "xác nhận với cơ quan công bố."),
                            ("Sources and frequencies are the team's reading (data_sources.yaml): "
                             "confirm them with the publisher.")),
    "msg.not_assessable": ("Chưa đánh giá được: không chỉ tiêu nào có đủ số liệu để đánh giá.",
                           "Cannot be assessed yet: no indicator has the data to be assessed."),
    "msg.tasks_reports": ("{n} báo cáo tiến độ ({files}), tính đến ngày {date}.",
                          "{n} progress report(s) ({files}), as of {date}."),
    "msg.tasks_no_reports": (("Lần chạy này không có tệp báo cáo tiến độ nhiệm vụ (khforecast run "
                              "--tasks TỆP): mọi nhiệm vụ hiện “chưa có báo cáo”. Thời gian thực "
                              "hiện là thời gian theo Kế hoạch, không phải kết quả thực hiện."),
                             ("This run has no task progress file (khforecast run --tasks FILE): "
                              "every task shows “no report yet”. The implementation period is "
                              "the plan's, not a result.")),
    "msg.tasks_rule": (("“Quá hạn” chỉ được ghi khi một báo cáo lập sau khi hết thời gian thực "
                        "hiện cho biết nhiệm vụ chưa hoàn thành."),
                       ("“Overdue” is shown only when a report made after the period ended says "
                        "the task is not completed.")),
    "msg.tasks_illustrative": (("MINH HỌA: các báo cáo tiến độ nhiệm vụ của lần chạy này là dữ "
                                "liệu minh họa, không phải báo cáo thật."),
                               ("ILLUSTRATIVE: this run's task progress reports are made up, not "
                                "real reports.")),
    "msg.no_dept_indicators": ("Cơ quan không chủ trì chỉ tiêu nào của Phụ lục I.",
                               "The department leads no indicator of Appendix I."),
    "msg.no_dept_tasks": ("Cơ quan không chủ trì nhiệm vụ nào của Phụ lục II.",
                          "The department leads no task of Appendix II."),
    "msg.dept_leads": ("Chủ trì {n_ind} chỉ tiêu và {n_tasks} nhiệm vụ của Kế hoạch.",
                       "Leads {n_ind} indicator(s) and {n_tasks} task(s) of the plan."),
    "msg.method": (
        ("Mỗi chỉ tiêu được dự báo bằng {sims} đường mô phỏng từ các mô hình chuỗi thời gian "
        "(kịch bản {scenario}, hạt giống ngẫu nhiên {seed}). Khả năng đạt là tỷ lệ các đường "
        "mô phỏng đạt mục tiêu vào năm mục tiêu, không phải từ một dự báo điểm. Ngưỡng tình trạng: "
        "đúng hướng khi khả năng ≥ {hi}, có nguy cơ khi ≥ {lo}, chệch hướng khi thấp hơn. "
        "Thang từ ngữ: ≥ 0,90 rất có khả năng; ≥ 0,66 có khả năng; ≥ 0,33 khả năng ngang nhau; "
        "≥ 0,10 ít có khả năng; thấp hơn: rất ít có khả năng."),
        ("Each indicator is forecast with {sims} simulated paths from time-series models "
        "(scenario {scenario}, random seed {seed}). The probability of meeting a target is the "
        "share of paths that meet it in the target year, never a point forecast. Status "
        "thresholds: on track when the probability is ≥ {hi}, at risk when ≥ {lo}, off track "
        "below. Words: ≥ 0.90 very likely; ≥ 0.66 likely; ≥ 0.33 about as likely as not; "
        "≥ 0.10 unlikely; below: very unlikely.")),
    "msg.coverage": (
        ("Độ tin cậy của các khoảng dự báo đã được kiểm tra trên {n} lần dự báo ngược của các "
         "chuỗi số liệu tỉnh và quốc gia mà mô hình chưa từng thấy (giữ riêng cả một nhóm chỉ "
         "tiêu mỗi lần): khoảng 50 % chứa giá trị thực {c50} số lần, khoảng 80 % chứa {c80}, "
         "khoảng 95 % chứa {c95}."),
        ("How far to trust the bands was measured on {n} back-tests of provincial and national "
         "series the engine had not seen (a whole family of indicators held out at a time): the "
         "50 % band held the outcome {c50} of the time, the 80 % band {c80} and the 95 % band "
         "{c95}.")),
    "msg.stratum": (
        ("Chuỗi này thuộc nhóm hiệu chỉnh: miền {domain}, dạng {shape}, vị trí so với biên "
         "{near}. Độ phủ đo được ngoài mẫu (giữ riêng từng nhóm chỉ tiêu) của các chuỗi cùng nhóm:"),
        ("This series' calibration stratum: domain {domain}, history {shape}, bound {near}. "
         "Coverage measured out of sample (a family of indicators held out at a time) on the "
         "pooled series of the same stratum:")),
    "msg.no_stratum": ("Chưa có bảng độ phủ theo nhóm cho chuỗi này.",
                       "No stratum coverage table for this series."),
    "h.stratum": ("Độ tin cậy của khoảng dự báo cho loại chuỗi này",
                  "How honest the bands are for this kind of series"),
    "fig.pit": ("PIT (vị trí của giá trị thực trong phân phối dự báo)",
                "PIT (where the outcome fell in the forecast distribution)"),
    "fig.pit_title": ("Biểu đồ PIT, tầm dự báo {h} năm ({n} lần)",
                      "PIT histogram, {h} years ahead ({n} back-tests)"),
    "col.horizon_group": ("Tầm dự báo (năm)", "Years ahead"),
    "msg.no_calibration": ("Bảng hiệu chỉnh không có trong lần chạy này.",
                           "This run holds no calibration table."),
    "msg.run_info": ("Lần chạy {run_id}, ngày {date}, địa bàn {place}",
                     "Run {run_id} of {date}, place {place}"),
    "msg.ok": ("thành công", "succeeded"),
    "msg.failed": ("lỗi", "failed"),
    "msg.failed_list": ("Các báo cáo sau bị lỗi: {names}", "These briefings failed: {names}"),
    "msg.pdf": ("PDF", "PDF"),
    "msg.no_scenarios": ("Lần chạy này chỉ có một kịch bản.", "This run holds one scenario only."),
    "msg.backtest": (
        ("Kiểm định ngược trên chính chuỗi số liệu: mô hình được ước lượng lại với số liệu đến "
        "mỗi năm gốc ({origins} năm gốc) và so với {n} giá trị quan sát sau đó."),
        ("Back-test on the series itself: the engine is refitted on the data up to each origin "
        "({origins} origins) and compared with the {n} values observed later.")),
    "msg.no_backtest": ("Chuỗi số liệu quá ngắn để kiểm định ngược (cần ít nhất 4 năm).",
                        "The series is too short for a back-test (4 years at least)."),
    "msg.scale": ("Đơn vị: {unit}; miền giá trị: {domain}; {direction}.",
                  "Unit: {unit}; domain: {domain}; {direction}."),
    "msg.higher_better": ("cao hơn là tốt hơn", "higher is better"),
    "msg.lower_better": ("thấp hơn là tốt hơn", "lower is better"),
    "msg.band": ("mục tiêu là một khoảng hoặc không có hướng", "the target is a band or has no direction"),
    "msg.not_final": ("* số liệu sơ bộ hoặc ước tính.", "* preliminary or estimated figure."),
    "msg.escap_secondary": (
        ("Tình trạng căn cứ vào khả năng đạt mục tiêu. Nhãn ESCAP (dòng nhỏ) là cách đọc thứ hai: "
         "so sánh xu hướng dự báo với tốc độ cần thiết, nên có thể khác tình trạng."),
        ("The status follows the probability of meeting the target. The ESCAP label (small "
         "line) is a second reading: the projected trend against the pace needed, so it can "
         "differ from the status.")),
    "msg.explorer_static": (
        "Mở sổ tay này trong JupyterLab với interactive = True để điều chỉnh kịch bản trực tiếp.",
        "Open this notebook in JupyterLab with interactive = True to move the scenario live."),
    # scenario names of params/scenarios.yaml and the calibration's out-of-sample scheme
    "scenario.bau": ("theo xu hướng hiện tại (bau)", "business as usual (bau)"),
    "scenario.accelerate": ("tăng tốc (accelerate)", "faster progress (accelerate)"),
    "scenario.target_path": ("theo lộ trình mục tiêu (target_path)",
                             "on the path to the target (target_path)"),
    "scenario.shock": ("cú sốc bất lợi (shock)", "adverse shock (shock)"),
    "method.leave-one-panel-out": ("bỏ lần lượt từng nhóm chuỗi (leave-one-panel-out)",
                                   "leave one panel out"),
    "method.leave-one-family-out (and leave-one-panel-out)": (
        "bỏ lần lượt từng họ bảng số liệu cùng lĩnh vực (và từng bảng)",
        "leave one family of related panels out (and one panel out)"),
    "label.acceleration": ("Hệ số tăng tốc", "Acceleration factor"),
    "label.shock": ("Cú sốc (tỷ lệ)", "Shock (fraction)"),
    "label.start_year": ("Năm bắt đầu", "Start year"),
    "label.indicator": ("Chỉ tiêu", "Indicator"),
    "label.probability": ("Khả năng đạt mục tiêu {year}: {p} ({words})",
                          "Probability of meeting the {year} target: {p} ({words})"),
}


#: place codes of the data (DESIGN §2) -> (Vietnamese, English) names; other codes show as is.
PLACES: dict[str, tuple[str, str]] = {
    "khanh_hoa": ("Khánh Hòa", "Khánh Hòa"),
    "ninh_thuan": ("Ninh Thuận", "Ninh Thuận"),
    "khanh_hoa_merged": ("Khánh Hòa (sau hợp nhất 01/07/2025)", "Khánh Hòa (merged, 1 July 2025)"),
    "vietnam": ("Cả nước", "Viet Nam"),
}


def scenario_name(name: str, lang: str = "vi") -> str:
    """A scenario's name in words (``bau`` -> ``theo xu hướng hiện tại (bau)``); others as is."""
    key = f"scenario.{name}"
    return t(key, lang) if key in STRINGS else name


def place_name(code: str, lang: str = "vi") -> str:
    """The name of a place code (``khanh_hoa`` -> ``Khánh Hòa``); unknown codes unchanged.

    Any of the 63 provinces and the 34 units of ``khforecast/data/places/`` has a name; a unit
    formed by a 2025 merger says so (``lam_dong_merged`` -> ``Lâm Đồng (sau hợp nhất 01/07/2025)``).
    """
    k = LANGS.index(check_lang(lang))
    names = PLACES.get(code)
    if names is not None:
        return names[k]
    places = bundled_places()
    if code in places.after and places.after[code].merged:
        suffix = ("sau hợp nhất 01/07/2025", "merged, 1 July 2025")[k]
        return f"{places.after[code].name} ({suffix})"
    return places.name(code)


def check_lang(lang: str) -> Lang:
    """Return ``lang`` if it is ``"vi"`` or ``"en"``; raise ``ValueError`` naming it otherwise."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    return lang  # type: ignore[return-value]


def t(key: str, lang: str = "vi", **fields: object) -> str:
    """Return the string ``key`` in ``lang``, with ``{field}`` placeholders filled from ``fields``.

    Raises ``KeyError`` naming the key when it is not in :data:`STRINGS`.

    Examples
    --------
    >>> t("status.at_risk", "vi"), t("fig.target", "en", year=2030)
    ('Có nguy cơ', '2030 target')
    """
    index = LANGS.index(check_lang(lang))
    try:
        text = STRINGS[key][index]
    except KeyError:
        raise KeyError(f"no string {key!r} in khforecast.briefing.i18n.STRINGS") from None
    return text.format(**fields) if fields else text


def _is_missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def format_number(x: float | None, lang: str = "vi", decimals: int = 1) -> str:
    """Format a number the language's way: ``48.749,5`` (vi) or ``48,749.5`` (en); ``–`` if missing.

    Examples
    --------
    >>> format_number(48749.5, "vi"), format_number(48749.5, "en")
    ('48.749,5', '48,749.5')
    """
    check_lang(lang)
    if _is_missing(x):
        return "–"
    text = f"{float(x):,.{decimals}f}"  # type: ignore[arg-type]
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # never "-0,0"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


#: the plan's words inside target texts, in English
_TARGET_WORDS_EN = (("(duy trì)", "(maintain)"), ("duy trì", "maintain"),
                    ("(hiện nay đã đạt)", "(already reached)"), ("lần", "times"))


def format_target_text(text: str, lang: str = "vi") -> str:
    """The plan's target text for display: as written in Vietnamese; numbers the English way in English.

    The plan writes ``,`` as the decimal mark and ``.`` between thousands; in English those
    become ``.`` and ``,`` (``< 3,8`` -> ``< 3.8``, ``48.749`` -> ``48,749``) and the plan's
    few fixed words are translated. Qualitative texts stay as the plan wrote them.

    Examples
    --------
    >>> format_target_text("< 3,8", "en"), format_target_text("1-1,5", "en")
    ('< 3.8', '1-1.5')
    >>> format_target_text("48.749", "en"), format_target_text("100 (duy trì)", "en")
    ('48,749', '100 (maintain)')
    >>> format_target_text("< 3,8", "vi")
    '< 3,8'
    """
    check_lang(lang)
    if lang == "vi" or not isinstance(text, str):
        return text
    out = re.sub(r"(?<=\d)\.(?=\d{3}(?!\d))", "\0", text)  # thousands dots, kept aside
    out = re.sub(r"(?<=\d),(?=\d)", ".", out).replace("\0", ",")
    for vi, en in _TARGET_WORDS_EN:
        out = out.replace(vi, en)
    return out


def format_signed(x: float | None, lang: str = "vi", decimals: int = 1) -> str:
    """Format a change with its sign: ``+1,5`` / ``−0,3`` (a true minus sign); ``–`` if missing."""
    if _is_missing(x):
        return "–"
    text = format_number(abs(float(x)), lang, decimals)  # type: ignore[arg-type]
    if round(float(x), decimals) == 0:  # type: ignore[arg-type]
        return text
    return ("+" if float(x) > 0 else "−") + text  # type: ignore[arg-type]


def format_percent(x: float | None, lang: str = "vi", decimals: int = 0, *,
                   fraction: bool = True) -> str:
    """Format a percentage: ``3,5 %`` (vi) or ``3.5%`` (en); ``–`` if missing.

    ``x`` is a fraction (0.035) by default, as probabilities are; pass ``fraction=False`` for a
    value already in percent (3.5), as the catalog's ``%`` indicators are.

    Examples
    --------
    >>> format_percent(0.035, "vi", 1), format_percent(3.5, "en", 1, fraction=False)
    ('3,5 %', '3.5%')
    """
    if _is_missing(x):
        check_lang(lang)
        return "–"
    value = float(x) * 100 if fraction else float(x)  # type: ignore[arg-type]
    number = format_number(value, lang, decimals)
    return f"{number} %" if lang == "vi" else f"{number}%"


def probability_words(p: float | None, lang: str = "vi") -> str:
    """Put a probability in words on the fixed scale :data:`PROBABILITY_SCALE`; ``–`` if missing.

    Raises ``ValueError`` when ``p`` is outside [0, 1].

    Examples
    --------
    >>> probability_words(0.93, "vi"), probability_words(0.4, "en")
    ('rất có khả năng', 'about as likely as not')
    """
    check_lang(lang)
    if _is_missing(p):
        return "–"
    p = float(p)  # type: ignore[arg-type]
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a probability must be in [0, 1], got {p!r}")
    band = next(b for b in PROBABILITY_SCALE if p >= b[0])  # the last band starts at 0
    return band[1] if lang == "vi" else band[2]
